import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// Why a node refused a write or a batch.
public enum NodeError: Error, Sendable, CustomStringConvertible {
    /// The log refused or failed; nothing was applied.
    case log(LogError)
    /// A received batch skips ahead of what the node holds for an origin.
    case batchGap(dot: Dot, expectedSeq: UInt64)
    /// The log on disk does not replay into a replica (a gap between entries).
    case replay(ReplicaError)
    /// The node stopped serving writes (a failed fsync, a corrupt read); the write was
    /// not acknowledged and may or may not be on disk.
    case stopped(reason: String)
    /// Local authoring refused by the amnesia guard (docs/ARCHITECTURE.md, Replication 6):
    /// `peer` holds this node's own entries up to `claimed`, its log only up to `held`
    /// (it was restored from an older backup). Nothing was written; writes resume once the
    /// entries `held + 1 ... claimed` have been pulled back from peers.
    case behindOnOwnOrigin(held: UInt64, claimed: UInt64, peer: NodeID)
    /// Local authoring refused because this node's own origin is forked: a peer holds a
    /// different entry for `dot`, which this node authored, so a clone of its data
    /// directory writes as this node on another machine. Nothing was written; authoring
    /// stays refused until an operator gives one of the two machines a new identity.
    case ownOriginForked(dot: Dot)
    /// Entries `firstSeq…lastSeq` of `origin` in a received batch are not vouched for by a
    /// valid signature of their origin: forged or altered on the way (PROTOCOL.md "Signed
    /// entries"). Nothing of the batch was written.
    case forged(origin: NodeID, firstSeq: UInt64, lastSeq: UInt64, reason: String)
    /// A local write for a reporter this node's origin may not author (config `[[origin]]`).
    case unauthorized(String)

    public var description: String {
        switch self {
        case .log(let error): "log: \(error)"
        case .batchGap(let dot, let expected): "batch skips ahead: entry \(dot), expected seq \(expected)"
        case .replay(let error): "log does not replay: \(error)"
        case .stopped(let reason): "node stopped serving writes: \(reason)"
        case .behindOnOwnOrigin(let held, let claimed, let peer):
            "writes refused: node holds its own entries up to seq \(held) but peer \(peer.short) holds up to seq "
                + "\(claimed): this data directory was restored from an older backup; writes resume once "
                + (claimed == held + 1 ? "seq \(claimed) is" : "seqs \(held + 1)…\(claimed) are")
                + " pulled back from peers"
        case .ownOriginForked(let dot):
            "writes refused: a peer holds a different entry for \(dot), which this node authored: another copy of "
                + "this data directory wrote as this node (a clone on another machine, or this directory restored from "
                + "a backup and written on before it heard from its peers); the fork evidence is kept in forks/, and "
                + "writes stay refused until this node is given a new identity (a new data directory)"
        case .forged(let origin, let first, let last, let reason):
            "forged or altered entries \(origin.short):\(first == last ? "\(first)" : "\(first)…\(last)"): \(reason)"
        case .unauthorized(let reason): "write refused: \(reason)"
        }
    }
}

/// How ``ReplicaNode/init(localID:store:)`` rebuilt the replica.
public struct ReplicaRestore: Sendable, Equatable {
    /// Entries whose effect came from the checkpoint's snapshot (0 without one).
    public var fromSnapshot = 0
    /// Entries replayed from the log after it.
    public var replayed = 0
    /// Why a checkpoint's snapshot was present but not used (then everything replayed).
    public var snapshotProblem: String?
}

/// A node's pure core: its ``Replica`` over a ``LogStore``. The daemon wraps it in an
/// actor; the deterministic simulator drives it directly. No clock (time is passed in),
/// no sockets.
///
/// The rule it keeps: nothing is reported (to a CLI caller or, as an ACK vector, to a
/// peer) and nothing is sent to a peer that is not durable. Entries are written to the
/// store and applied at once (so the next local write sees them in its causal context),
/// but the `stage…` calls return a ticket, and the caller acknowledges only once the
/// store's ``LogStore/durableCount`` reaches it (group commit). ``fetch(after:entriesMax:bytesMax:)``
/// and ``durableVector`` never go past what is durable. The plain calls (``writeLocal(_:nowMs:)``,
/// ``importRecords(_:nowMs:)``, ``persist(_:)``) stage and sync in one go.
///
/// Two guards protect the uniqueness of dots (docs/ARCHITECTURE.md, "Fork", Replication 6;
/// `ReplicaNode+Guards.swift`): an origin found forked is quarantined (its further entries
/// are neither written nor applied), and a node that learns a peer holds more of its own
/// origin than it does authors nothing until it has pulled those entries back.
public struct ReplicaNode<Store: LogStore> {
    public private(set) var replica: Replica
    public let store: Store
    /// How the replica was rebuilt at start.
    public let restore: ReplicaRestore
    /// Quarantined origins and the evidence that quarantined each (the fork with the
    /// lowest seq known for it). Entries of these origins are no longer written or applied;
    /// for this node's own origin, local authoring is refused.
    public internal(set) var quarantined: [NodeID: ForkEvidence] = [:]
    /// Entries of quarantined origins skipped by ``stageReceived(_:)`` since start.
    public internal(set) var quarantineSkipped = 0
    /// The highest claim of a peer about this node's own origin above what it held then
    /// (``observeOwnOriginClaim(_:from:)``); it guards authoring while above ``Replica/vector``.
    var ownOriginClaim: (seq: UInt64, peer: NodeID)?
    /// Entries a ``stageReceived(_:policy:deferApply:)`` wrote and ``applyDeferred()`` has
    /// not applied yet; empty between calls.
    var deferred: [Entry] = []
    /// Seals the node's own entries; nil leaves them unsealed (the simulator).
    public var signer: ChainSigner?
    /// Which origin may author which reporters' records.
    public var authorization = Authorization()
    /// Chain heads by origin, as of the store's highest seq (``chainHead(_:)``).
    var chainHeads: [NodeID: ChainHead] = [:]
    /// The node's last local append as written (at most ``recentOwnMax`` entries, else
    /// empty): a live push fetches exactly these right after their fsync, and serving them
    /// from memory saves reading and decoding them back from the log (0.1–0.3 ms for 100).
    var recentOwn: [SealedEntry] = []
    /// Appends larger than this (imports) are read back from the log, as any catch-up.
    static var recentOwnMax: Int { 4096 }
    /// Origins whose chain stops on this node at an entry authorization refused, with why;
    /// their later entries are refused too (they chain from the refused one).
    public internal(set) var chainStops: [NodeID: String] = [:]
    /// Entries refused by authorization since start.
    public internal(set) var refused = Refusals()

    /// Rebuilds the replica for `localID`: from the store's checkpoint snapshot plus the
    /// entries after it, or, without a usable snapshot, by replaying every entry.
    /// - Throws: ``NodeError/replay(_:)`` when the stored entries do not apply in order,
    ///   or whatever the store's replay throws.
    public init(localID: NodeID, store: Store) throws {
        var restore = ReplicaRestore()
        var replica = Replica(localID: localID)
        var first = 0
        if let checkpoint = store.checkpoint {
            do {
                replica = try Replica.decodeSnapshot(checkpoint.state, localID: localID)
                first = checkpoint.entryCount
                restore.fromSnapshot = first
            } catch {
                restore.snapshotProblem = "snapshot does not decode: \(error)"
            }
        }
        do {
            try store.replay(from: first) { entry in
                try replica.apply(entry)
                restore.replayed += 1
            }
        } catch let error as ReplicaError {
            throw NodeError.replay(error)
        }
        self.replica = replica
        self.store = store
        self.restore = restore
    }

    /// Origin → highest durable seq: what HELLO, VECTOR and ACK may claim.
    public var durableVector: VersionVector { store.durableVector }

    /// Authors local writes, writes and applies them; durable once the store's
    /// ``LogStore/durableCount`` reaches the returned ticket.
    /// - Parameter nowMs: wall-clock Unix milliseconds for the HLC.
    /// - Throws: ``NodeError/ownOriginForked(dot:)``, ``NodeError/behindOnOwnOrigin(held:claimed:peer:)``
    ///   (even for an empty `writes`), ``NodeError/unauthorized(_:)`` for a reporter the
    ///   node's origin may not author, ``NodeError/log(_:)``; then nothing was written or applied.
    /// - Parameter deferApply: write now, apply at ``applyDeferred()`` (as for
    ///   ``stageReceived(_:policy:deferApply:)``: the caller starts the fsync in between).
    /// - Parameter contexts: as for ``Replica/prepare(_:nowMs:contexts:operationsDecoded:)``.
    /// - Parameter operationsDecoded: as for ``Replica/prepare(_:nowMs:contexts:operationsDecoded:)``.
    public mutating func stageLocal(
        _ writes: [(key: TradeKey, operation: Operation)], nowMs: UInt64, deferApply: Bool = false,
        contexts: [VersionVector]? = nil, operationsDecoded: Bool = false
    ) throws(NodeError) -> (entries: [Entry], ticket: Int) {
        precondition(deferred.isEmpty, "stageLocal before applyDeferred")
        try checkAuthoring()
        guard !writes.isEmpty else { return ([], store.entryCount) }
        for write in writes {
            if let problem = authorization.problem(origin: replica.localID, reporter: write.key.reporter) {
                throw .unauthorized(problem)
            }
        }
        let entries = replica.prepare(writes, nowMs: nowMs, contexts: contexts, operationsDecoded: operationsDecoded)
        let (sealed, head) = try sealOwn(entries)
        let ticket: Int
        do { ticket = try store.write(sealed: sealed) } catch { throw .log(error) }
        if let head { chainHeads[replica.localID] = head }
        recentOwn = sealed.count <= Self.recentOwnMax ? sealed : []
        if deferApply { deferred = entries } else { applyWritten(entries) }
        return (entries, ticket)
    }

    /// Stages the records whose values the node does not already hold, in one write: an
    /// import is written whole or not at all, and a re-import writes nothing.
    /// - Returns: the entries written (`records.count - entries.count` were unchanged)
    ///   and the ticket. - Throws: as ``stageLocal(_:nowMs:)``.
    /// - Parameter recordsDecoded: every record came from `TradeKey.decode` and
    ///   `TradeValues.decode` (a control frame's, ``ControlFrame/decodeRecords(_:)``): the log
    ///   then need not decode their entries again (``Replica/prepare(_:nowMs:contexts:operationsDecoded:)``).
    public mutating func stageImport(
        _ records: [TradeRecord], nowMs: UInt64, deferApply: Bool = false, recordsDecoded: Bool = false
    ) throws(NodeError) -> (entries: [Entry], ticket: Int) {
        try checkAuthoring()
        var writes: [(key: TradeKey, operation: Operation)] = []
        var contexts: [VersionVector] = []
        writes.reserveCapacity(records.count)
        contexts.reserveCapacity(records.count)
        // One lookup per key serves both the check (a version already holding exactly these
        // values: writing it again would change nothing, so a re-import is a no-op) and the
        // context the entry carries.
        let states = replica.states(of: records.map(\.key))
        for (record, state) in zip(records, states) {
            let operation = Operation.put(record.values)
            if let state, state.versions.contains(where: { $0.operation == operation }) { continue }
            writes.append((key: record.key, operation: operation))
            contexts.append(state?.context ?? VersionVector())
        }
        return try stageLocal(
            writes, nowMs: nowMs, deferApply: deferApply, contexts: contexts, operationsDecoded: recordsDecoded)
    }

    /// ``stageLocal(_:nowMs:)`` then a sync: returns once the entries are durable.
    /// - Throws: as ``stageLocal(_:nowMs:)``.
    public mutating func writeLocal(_ writes: [(key: TradeKey, operation: Operation)], nowMs: UInt64)
        throws(NodeError) -> [Entry]
    {
        let staged = try stageLocal(writes, nowMs: nowMs)
        try sync()
        return staged.entries
    }

    /// ``stageImport(_:nowMs:)`` then a sync. - Throws: as ``stageLocal(_:nowMs:)``.
    public mutating func importRecords(_ records: [TradeRecord], nowMs: UInt64) throws(NodeError) -> [Entry] {
        let staged = try stageImport(records, nowMs: nowMs)
        try sync()
        return staged.entries
    }

    /// ``stageReceived(_:)`` then a sync: on return everything written is durable and
    /// ``durableVector`` is what an ACK carries.
    /// - Throws: as ``stageReceived(_:)``.
    public mutating func persist(_ entries: [Entry]) throws(NodeError) -> ReceivedBatch {
        let staged = try stageReceived(entries)
        try sync()
        return staged
    }

    private func sync() throws(NodeError) {
        do { try store.sync() } catch { throw .log(error) }
    }

    /// The `limit` entries of `origin` after `seq`, as the store holds them (fewer at its
    /// end): from ``recentOwn`` when it holds all of them, else from the store.
    /// - Throws: whatever the store's read throws.
    func sealedEntries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [SealedEntry] {
        if origin == replica.localID, let first = recentOwn.first?.entry.dot.seq, seq >= first - 1 {
            let start = Int(seq - (first - 1))
            if start + limit <= recentOwn.count { return Array(recentOwn[start..<(start + limit)]) }
        }
        return try store.sealedEntries(origin: origin, after: seq, limit: limit)
    }

    /// Durable entries that `after` lacks, with their origins' signatures: per origin
    /// ascending from `after[origin] + 1`, about `entriesMax` entries and `bytesMax` bytes of
    /// encodings, each origin's run extended to its next signed entry (the session trims to
    /// its exact limits at signed entries). Empty when `after` covers everything durable.
    /// - Throws: ``NodeError/log(_:)`` when the store cannot be read.
    public func fetch(after: VersionVector, entriesMax: Int, bytesMax: Int) throws(NodeError) -> [SignedEntry] {
        var result: [SignedEntry] = []
        var bytes = 0
        for (origin, held) in store.durableVector.sorted where held > after[origin] {
            let wanted = min(Int(held - after[origin]), entriesMax - result.count)
            guard wanted > 0, bytes < bytesMax else { break }
            let entries: [SealedEntry]
            do { entries = try sealedEntries(origin: origin, after: after[origin], limit: wanted) } catch {
                throw .log(error)
            }
            var taken = 0
            for item in entries {
                taken += 1
                bytes += item.entry.encodedCount
                if bytes >= bytesMax { break }
            }
            // End the origin's run at a sealed entry, so a batch can end there (at most one
            // span more: sealEntriesMax entries, sealBytesMax bytes).
            var run = Array(entries[..<taken])
            if let last = run.last, last.seal == nil, last.entry.dot.seq < held {
                var rest = Array(entries[taken...])
                if !rest.contains(where: { $0.seal != nil }) {
                    let from = entries[entries.count - 1].entry.dot.seq
                    do {
                        rest += try store.sealedEntries(
                            origin: origin, after: from, limit: min(Int(held - from), EntryChain.sealEntriesMax))
                    } catch { throw .log(error) }
                }
                if let end = rest.firstIndex(where: { $0.seal != nil }) { run += rest[...end] }
            }
            result += run.map { SignedEntry($0) }
        }
        return result
    }

    /// The replica's state digest (cached until the next write); see ``Replica/digest()``.
    public mutating func digest() -> [UInt8] { replica.digest() }

    /// The content digest of the live records (cached until the next write); see
    /// ``Replica/contentDigest()``.
    public mutating func contentDigest() -> [UInt8] { replica.contentDigest() }

    /// One page of live records for an export; see ``Replica/livePage(after:limit:)``.
    /// - Precondition: `limit > 0`.
    public mutating func livePage(after: TradeKey?, limit: Int) -> LivePage {
        replica.livePage(after: after, limit: limit)
    }

    /// The most keys ``reserve(keys:)`` makes room for at once: the count is a peer's or a
    /// client's claim, and the room is address space until keys fill it.
    public static var reserveKeysMax: Int { 8_000_000 }

    /// Makes room for `count` more keys (at most ``reserveKeysMax``) in one step: the key
    /// table then grows once, before the first batch or import chunk, instead of rehashing
    /// every key at each doubling while they come in (0.6 s of CPU in a 1M-entry
    /// catch-up). Reserving for entries that turn out to update keys already held costs
    /// address space, not resident memory.
    public mutating func reserve(keys count: Int) {
        replica.reserveKeys(min(count, Self.reserveKeysMax))
    }

    /// ``reserve(keys:)`` for a catch-up from a peer whose vector is `peerVector`: as many
    /// keys as the entries it holds that this node lacks.
    public mutating func reserve(forCatchUpFrom peerVector: VersionVector) {
        reserve(keys: Int(clamping: peerVector.entriesAhead(of: replica.vector)))
    }

    /// Applies entries just written to the store.
    mutating func applyWritten(_ entries: [Entry]) {
        replica.reserveKeys(entries.count)
        do { try replica.apply(contentsOf: entries) } catch {
            preconditionFailure("a written entry does not apply: \(error)")
        }
    }
}
