import TradeSyncClock
import TradeSyncLog

/// Why a node holds back local authoring after learning that a peer holds more of its own
/// origin than it does (docs/ARCHITECTURE.md, Replication 6, "Amnesia guard"): its data
/// directory was restored from an older backup, and writing now would reuse dots
/// `heldSeq + 1 ... claimedSeq`, which already name other entries (a fork).
public struct AuthoringGuard: Sendable, Equatable, CustomStringConvertible {
    /// The highest seq of this node's own origin a peer was seen to hold.
    public let claimedSeq: UInt64
    /// The peer that claimed it (the first to claim that seq).
    public let peer: NodeID
    /// The highest seq of its own origin the node holds now; below ``claimedSeq``.
    public let heldSeq: UInt64

    public init(claimedSeq: UInt64, peer: NodeID, heldSeq: UInt64) {
        self.claimedSeq = claimedSeq
        self.peer = peer
        self.heldSeq = heldSeq
    }

    /// One line for status: held, claimed, by whom.
    public var description: String {
        "behind on own origin: holds seq \(heldSeq), peer \(peer.short) holds seq \(claimedSeq)"
    }
}

extension ReplicaNode {
    // MARK: Amnesia guard

    /// Records what a peer holds of this node's own origin (its version vector's entry for
    /// ``Replica/localID``, as the peer's VECTOR says at each handshake). When `seq` is above
    /// what the node holds, local authoring is refused
    /// (``NodeError/behindOnOwnOrigin(held:claimed:peer:)``) until ``stageReceived(_:)`` has
    /// brought the node's own origin up to the highest claim seen.
    ///
    /// Claims only rise: a lower claim, or one the node already holds, changes nothing.
    /// At start, the daemon passes the claim it persisted (``authoringGuard``'s
    /// ``AuthoringGuard/claimedSeq`` and ``AuthoringGuard/peer``), so a restart does not
    /// lift the guard.
    /// - Returns: true when authoring is guarded now.
    @discardableResult
    public mutating func observeOwnOriginClaim(_ seq: UInt64, from peer: NodeID) -> Bool {
        if seq > replica.vector[replica.localID] && seq > (ownOriginClaim?.seq ?? 0) {
            ownOriginClaim = (seq, peer)
        }
        return authoringGuard != nil
    }

    /// The amnesia guard while it stands: the highest claim seen, above the node's own
    /// origin seq; nil once the node holds its own origin up to it (it clears itself as the
    /// entries arrive). What the daemon persists and shows in status.
    public var authoringGuard: AuthoringGuard? {
        guard let claim = ownOriginClaim else { return nil }
        let held = replica.vector[replica.localID]
        guard claim.seq > held else { return nil }
        return AuthoringGuard(claimedSeq: claim.seq, peer: claim.peer, heldSeq: held)
    }

    // MARK: Quarantine

    /// Quarantines the origin of `evidence`: its further entries are not written or applied
    /// (``stageReceived(_:)`` skips them); for this node's own origin, local authoring is
    /// refused (``NodeError/ownOriginForked(dot:)``). At start, the daemon passes each
    /// evidence ``ForkEvidenceStore/loadAll()`` returns. Entries already held stay held.
    ///
    /// An origin keeps the evidence with the lowest seq given for it.
    /// - Returns: true when the origin was not quarantined before.
    @discardableResult
    public mutating func quarantine(_ evidence: ForkEvidence) -> Bool {
        let origin = evidence.dot.origin
        guard let existing = quarantined[origin] else {
            quarantined[origin] = evidence
            return true
        }
        if evidence.dot.seq < existing.dot.seq { quarantined[origin] = evidence }
        return false
    }

    /// Quarantined origins in order, with their evidence (for status and the CLI).
    public var quarantineList: [ForkEvidence] { quarantined.values.sorted { $0.dot < $1.dot } }

    /// Throws when local authoring is refused: the own origin forked, or the amnesia guard.
    func checkAuthoring() throws(NodeError) {
        if let fork = quarantined[replica.localID] { throw .ownOriginForked(dot: fork.dot) }
        if let guarded = authoringGuard {
            throw .behindOnOwnOrigin(held: guarded.heldSeq, claimed: guarded.claimedSeq, peer: guarded.peer)
        }
    }
}
