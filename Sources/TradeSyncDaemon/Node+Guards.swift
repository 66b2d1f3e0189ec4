import Foundation
import Logging
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncTransport
import TradeSyncWire

/// The amnesia guard (authoring held back while a peer holds more of this node's own origin
/// than its log does) and fork quarantine (two entries with one dot), as the daemon keeps
/// them on disk: `DATA_DIR/authoring-guard.json` while the guard stands, and
/// `DATA_DIR/forks/fork-<origin>-<seq>.bin` per fork (``ForkEvidenceStore``).
/// Source: ARCHITECTURE.md, "Replication" 6 and "Terms: Fork"; issue 5 §6–7.
struct SavedGuard: Codable, Equatable {
    /// The highest seq of this node's own origin a peer was seen to hold.
    var claimedSeq: UInt64
    /// That peer's node ID (hex).
    var peer: String
    /// When the claim was first seen (UTC, ISO 8601).
    var since: String

    enum CodingKeys: String, CodingKey {
        case claimedSeq = "claimed_seq", peer, since
    }

    static let fileName = "authoring-guard.json"
}

extension Node {
    /// Restores what a previous run learned: every stored fork quarantines its origin again,
    /// and a saved amnesia claim still above the node's own seq guards authoring again.
    /// - Throws: ``LogError`` naming a corrupt evidence or guard file.
    static func restoreGuards(_ core: inout ReplicaNode<FileLog>, dataDir: String, logger: Logger) throws {
        for evidence in try ForkEvidenceStore(dataDirectory: dataDir).loadAll() {
            core.quarantine(evidence)
            logger.error(
                "origin \(evidence.dot.origin.short) is quarantined: fork at dot \(evidence.dot) (evidence in \(ForkEvidenceStore(dataDirectory: dataDir).path(for: evidence.dot)))")
        }
        let path = dataDir + "/" + SavedGuard.fileName
        guard let bytes = try AtomicFile.read(path) else { return }
        let saved: SavedGuard
        do { saved = try JSONDecoder().decode(SavedGuard.self, from: Data(bytes)) } catch {
            throw LogError.corrupt(file: path, offset: 0, reason: "not an authoring guard: \(error)")
        }
        guard let peer = NodeID(hex: saved.peer) else {
            throw LogError.corrupt(file: path, offset: 0, reason: "peer \(saved.peer) is not a node ID")
        }
        if core.observeOwnOriginClaim(saved.claimedSeq, from: peer), let standing = core.authoringGuard {
            logger.warning("writes refused until this node's own entries are pulled back from peers: \(standing)")
        }
    }

    /// A peer's vector (its VECTOR at the handshake, then its ACKs) names how much of our
    /// own origin it holds. More than our log holds means this data directory was restored
    /// from an older backup: authoring stops until those entries have come back.
    func observeOwnOriginClaim(_ vector: VersionVector, from peer: NodeID) {
        let wasGuarded = core.authoringGuard
        guard core.observeOwnOriginClaim(vector[identity.nodeID], from: peer), let standing = core.authoringGuard,
            standing != wasGuarded
        else { return }
        if wasGuarded == nil {
            logger.warning(
                "peer \(peer.short) holds this node's own entries up to seq \(standing.claimedSeq), its log only up to \(standing.heldSeq): this data directory was restored from an older backup; writes are refused until seqs \(standing.heldSeq + 1)…\(standing.claimedSeq) are pulled back")
        }
        saveGuard()
    }

    /// Writes `authoring-guard.json` while the guard stands, removes it once it cleared.
    func saveGuard() {
        let path = config.dataDir + "/" + SavedGuard.fileName
        guard let standing = core.authoringGuard else {
            if unlink(path) == 0 {
                logger.notice("this node holds its own entries again up to the highest seq any peer had: writes resume")
            }
            return
        }
        let saved = SavedGuard(claimedSeq: standing.claimedSeq, peer: standing.peer.hex, since: utcTimestamp())
        do {
            try AtomicFile.write(path, contents: Array(try JSONEncoder().encode(saved)))
        } catch {
            logger.error("authoring guard not saved (\(error)); it stands until the next restart")
        }
    }

    /// Per origin of the durable vector, that seq and its entry's hash prefix (HEADS).
    /// One log read per origin.
    public func localHeads() -> [Head] {
        var heads: [Head] = []
        for (origin, seq) in core.durableVector.sorted {
            guard let entry = try? log.entries(origin: origin, after: seq - 1, limit: 1).first else { continue }
            heads.append(Head(dot: entry.dot, hash: entry.hash))
        }
        return heads
    }

    /// The peer's heads that name a dot this node holds durably with another entry: a fork
    /// (`Protocol/PROTOCOL.md`, "HEADS"). The session then sends our entries of that origin
    /// from there, so the peer holds both versions as evidence, and the peer does the same
    /// for ours. Heads above what the node holds are the peer's to compare. For an origin
    /// already quarantined, both copies of its forked dot go to a peer that holds that dot
    /// (`evidence`), so every node holding it, the clones included, learns of the fork.
    public func compareHeads(_ heads: [Head], link: LinkID) -> HeadsComparison {
        var comparison = HeadsComparison()
        for head in heads {
            // A fork we know of, at a dot the peer holds: give it both copies, so it finds
            // the fork too (the clone that was stored first learns it this way).
            if let fork = core.quarantined[head.origin], head.seq >= fork.dot.seq {
                comparison.evidence += [fork.held, fork.received]
                continue
            }
            guard head.seq <= core.durableVector[head.origin],
                let entry = try? log.entries(origin: head.origin, after: head.seq - 1, limit: 1).first
            else { continue }
            if Head(dot: entry.dot, hash: entry.hash) != head {
                comparison.resend.append(head.dot)
                sessionLogger(link, address: links[link]?.address ?? "?", peer: links[link]?.peer).warning(
                    "peer \(links[link]?.peer.short ?? "?") holds another entry for dot \(head.dot) than this node (a fork): sending ours so both sides keep the evidence")
            }
        }
        return comparison
    }

    /// Stores the evidence of forks a received batch revealed and marks the peer that
    /// forwarded them. The origin is already quarantined by the core.
    func recordForks(_ forks: [ForkEvidence], link: LinkID) {
        let store = ForkEvidenceStore(dataDirectory: config.dataDir)
        let peer = links[link]?.peer
        let logger = sessionLogger(link, address: links[link]?.address ?? "?", peer: peer)
        for fork in forks {
            var stored = "evidence not stored"
            do {
                if try store.store(fork) { stored = "evidence in \(store.path(for: fork.dot))" } else { stored = "evidence already stored" }
            } catch {
                stored = "evidence NOT stored: \(error)"
            }
            logger.error(
                "FORK: origin \(fork.dot.origin.short) has two different entries for dot \(fork.dot) (held \(Hex.encode(Array(fork.held.hash.prefix(8)))), received from \(peer?.short ?? "a peer") \(Hex.encode(Array(fork.received.hash.prefix(8))))): two copies of its data directory wrote as it (a clone on another machine, or a restored backup written on before it heard from its peers); \(stored); the origin is quarantined and its new entries are not applied")
            if let key = linkRecords[link], var record = peers[key] {
                record.fork = "forwarded a forked entry for dot \(fork.dot)"
                update(key, record)
            }
        }
    }
}
