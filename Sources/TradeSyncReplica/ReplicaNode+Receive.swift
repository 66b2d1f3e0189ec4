import TradeSyncClock
import TradeSyncLog

/// What ``ReplicaNode/stageReceived(_:)`` did with a batch from a peer.
public struct ReceivedBatch: Sendable, Equatable {
    /// Durable once the store's ``LogStore/durableCount`` reaches it; it covers everything
    /// written so far (a dot skipped as held may be another batch's, not yet durable), so
    /// an ACK sent once it is durable never claims too much.
    public let ticket: Int
    /// Entries written and applied: new dots of origins not quarantined.
    public let written: Int
    /// The forks this batch revealed, ordered by dot, at most one per origin (its lowest
    /// seq). Each origin named is quarantined from now on; the caller stores each one
    /// (``ForkEvidenceStore/store(_:)``) before acknowledging the batch.
    public let forks: [ForkEvidence]
    /// Entries not written because their origin is quarantined: every entry of an origin
    /// quarantined before the batch, and the new entries of an origin this batch forked.
    public let quarantineSkipped: Int
    /// Entries refused by authorization (origin not allowed from this peer, reporter not
    /// allowed for the origin), with the first reason.
    public let refusals: Refusals

    public init(ticket: Int, written: Int, forks: [ForkEvidence], quarantineSkipped: Int, refusals: Refusals = Refusals()) {
        self.ticket = ticket
        self.written = written
        self.forks = forks
        self.quarantineSkipped = quarantineSkipped
        self.refusals = refusals
    }
}

/// How one received batch splits, before anything is read or written.
struct ReceivePlan {
    /// New entries in batch order: per origin, seq `held + 1`, `+ 2`, … without gaps.
    var fresh: [Entry] = []
    /// Entries whose dot the store holds already, in batch order (compared with it next).
    var held: [Entry] = []
    /// Dots the batch carries twice with different content (the first copy counts as held).
    var forks: [ForkEvidence] = []
    /// The first entry of each origin that skips ahead, in batch order.
    var gaps: [(dot: Dot, expectedSeq: UInt64)] = []
    /// Entries of origins quarantined before the batch.
    var skipped = 0
    /// Whether the batch carries a dot of ``fresh`` a second time.
    var repeatsFresh = false

    /// Splits `entries` against `vector` (what the store holds), leaving out the origins
    /// in `quarantined`. Complexity O(n); dictionary lookups once per run of one origin's
    /// entries (a batch is mostly one run), not per entry; no I/O.
    init(_ entries: [Entry], vector: VersionVector, quarantined: [NodeID: ForkEvidence]) {
        var next: [NodeID: UInt64] = [:]  // highest seq planned per origin, for runs before the current one
        var positions: [Dot: Int]?  // built only when the batch repeats a new dot
        // The current run's origin, whether it is quarantined, what the store holds of it and
        // the highest seq planned so far.
        var runOrigin: NodeID?
        var isQuarantined = false
        var stored: UInt64 = 0
        var planned: UInt64 = 0
        fresh.reserveCapacity(entries.count)
        for entry in entries {
            let dot = entry.dot
            if dot.origin != runOrigin {
                if let origin = runOrigin { next[origin] = planned }
                runOrigin = dot.origin
                isQuarantined = !quarantined.isEmpty && quarantined[dot.origin] != nil
                stored = vector[dot.origin]
                planned = next[dot.origin] ?? stored
            }
            if isQuarantined {
                skipped += 1
                continue
            }
            let expected = planned + 1
            if dot.seq == expected {  // the common case
                planned = expected
                positions?[dot] = fresh.count
                fresh.append(entry)
            } else if dot.seq <= stored {
                held.append(entry)
            } else if dot.seq < expected {
                repeatsFresh = true
                if positions == nil { positions = Self.positions(of: fresh) }
                if let earlier = positions?[dot], let fork = ForkEvidence(held: fresh[earlier], received: entry) {
                    forks.append(fork)
                }
            } else if !gaps.contains(where: { $0.dot.origin == dot.origin }) {
                gaps.append((dot, expected))
            }
        }
    }

    private static func positions(of entries: [Entry]) -> [Dot: Int] {
        var result: [Dot: Int] = [:]
        result.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() { result[entry.dot] = position }
        return result
    }
}

extension ReplicaNode {
    /// Stages a batch received from a peer: new entries are written and applied; entries
    /// whose dot is already held are compared with the held ones, and a different one is
    /// a fork (docs/ARCHITECTURE.md, "Fork"): its origin is quarantined and the evidence
    /// returned. Entries of quarantined origins are skipped, later seqs included, without a
    /// gap error; entries of other origins in the same batch are applied normally.
    ///
    /// Held entries are read back with one ``LogStore/entries(origin:after:limit:)`` call
    /// per contiguous run of held dots in the batch; two entries differ when their
    /// canonical encodings do (``ForkEvidence/init(held:received:)``).
    ///
    /// A fork of this node's own origin (a peer sends a different entry for a dot this node
    /// authored: a clone of its data directory writes elsewhere) keeps this node's entries,
    /// refuses the other's, and from then on refuses local authoring
    /// (``NodeError/ownOriginForked(dot:)``). Entries of the node's own origin that it does
    /// not hold (pulled back after a restore from an older backup) are written like any
    /// others, which lifts the amnesia guard once they reach the claim.
    ///
    /// All or nothing: when it throws, nothing was written, applied or quarantined.
    /// Complexity: O(batch) plus the reads of held runs (O(their bytes)).
    /// - Throws: ``NodeError/batchGap(dot:expectedSeq:)`` when an entry of an origin that is
    ///   not quarantined skips ahead; ``NodeError/log(_:)`` when the store cannot be read or
    ///   written; ``NodeError/stopped(reason:)`` when the store lacks an entry its vector holds.
    public mutating func stageReceived(_ entries: [Entry]) throws(NodeError) -> ReceivedBatch {
        try stageReceived(entries.map { SignedEntry($0) }, policy: ReceivePolicy(requireSignatures: false))
    }

    /// ``stageReceived(_:)`` for a batch whose entries carry their origins' signatures,
    /// from a peer `policy` describes: entries of origins the peer may not send are refused
    /// (counted), the new entries are checked against their origins' chains and signatures
    /// and reporter authorization (``verifyFresh(_:requireSignatures:)``), and written with
    /// their seals.
    ///
    /// With `deferApply` the entries are written but not applied: the caller starts the
    /// fsync that covers them, then calls ``applyDeferred()`` at once (before anything else
    /// reads or changes this node), so that the fsync runs on its thread while they are
    /// applied instead of after.
    /// - Throws: as ``stageReceived(_:)``, and ``NodeError/forged(origin:firstSeq:lastSeq:reason:)``
    ///   (nothing written).
    /// - Precondition: nothing is left from an earlier `deferApply`.
    public mutating func stageReceived(_ signed: [SignedEntry], policy: ReceivePolicy, deferApply: Bool = false)
        throws(NodeError) -> ReceivedBatch
    {
        precondition(deferred.isEmpty, "stageReceived before applyDeferred")
        var refusals = Refusals()
        var admitted = signed
        if let allowed = policy.origins {
            let localID = replica.localID
            admitted.removeAll { !allowed.contains($0.entry.dot.origin) && $0.entry.dot.origin != localID }
            refusals.origin = signed.count - admitted.count
            if let first = signed.first(where: { !allowed.contains($0.entry.dot.origin) && $0.entry.dot.origin != localID }) {
                refusals.reason = "this peer may not send entries of origin \(first.entry.dot.origin.short) (\(first.entry.dot))"
            }
        }
        if !chainStops.isEmpty {
            let vector = replica.vector
            let before = admitted.count
            let stopped = admitted.first { chainStops[$0.entry.dot.origin] != nil && $0.entry.dot.seq > vector[$0.entry.dot.origin] }
            admitted.removeAll { chainStops[$0.entry.dot.origin] != nil && $0.entry.dot.seq > vector[$0.entry.dot.origin] }
            refusals.reporter += before - admitted.count
            if let stopped, refusals.reason == nil, let cause = chainStops[stopped.entry.dot.origin] {
                refusals.reason = "origin \(stopped.entry.dot.origin.short)'s chain stops here at \(cause)"
            }
        }
        let entries = admitted.map(\.entry)
        let plan = ReceivePlan(entries, vector: replica.vector, quarantined: quarantined)
        let forks = Self.lowestPerOrigin(plan.forks + (try compareHeld(plan.held)))
        let forked = Set(forks.map(\.dot.origin))
        if let gap = plan.gaps.first(where: { !forked.contains($0.dot.origin) }) {
            throw .batchGap(dot: gap.dot, expectedSeq: gap.expectedSeq)
        }
        var fresh = plan.fresh
        var skipped = plan.skipped
        if !forked.isEmpty {
            fresh.removeAll { forked.contains($0.dot.origin) }
            // Every entry of a forked origin the node does not hold (new, repeated or ahead).
            let vector = replica.vector
            skipped += entries.count(where: { forked.contains($0.dot.origin) && $0.dot.seq > vector[$0.dot.origin] })
        }
        let verified = try verifyFresh(
            Self.signatures(of: fresh, in: admitted, repeated: plan.repeatsFresh), requireSignatures: policy.requireSignatures)
        if !verified.write.isEmpty {
            do { _ = try store.write(sealed: verified.write) } catch { throw .log(error) }
            for (origin, head) in verified.heads { chainHeads[origin] = head }
            if deferApply { deferred = verified.write.map(\.entry) } else { applyWritten(verified.write.map(\.entry)) }
        }
        for (origin, reason) in verified.stops { chainStops[origin] = reason }
        refusals.reporter += verified.refusals.reporter
        refusals.reason = refusals.reason ?? verified.refusals.reason
        refused.origin += refusals.origin
        refused.reporter += refusals.reporter
        if refused.reason == nil { refused.reason = refusals.reason }
        for fork in forks { quarantine(fork) }
        quarantineSkipped += skipped
        return ReceivedBatch(
            ticket: store.entryCount, written: verified.write.count, forks: forks, quarantineSkipped: skipped,
            refusals: refusals)
    }

    /// `fresh` (entries of `admitted`, in its order) with the signatures `admitted` gives
    /// their dots: the last one given, when a dot comes more than once (`repeated`).
    /// Without repeats one walk pairs them up, with no hashing per entry.
    private static func signatures(of fresh: [Entry], in admitted: [SignedEntry], repeated: Bool) -> [SignedEntry] {
        if repeated {
            var byDot: [Dot: ChainSignature] = [:]
            for item in admitted { if let signature = item.signature { byDot[item.entry.dot] = signature } }
            return fresh.map { SignedEntry($0, signature: byDot[$0.dot]) }
        }
        var result: [SignedEntry] = []
        result.reserveCapacity(fresh.count)
        var cursor = admitted.startIndex
        for entry in fresh {
            let dot = entry.dot
            while admitted[cursor].entry.dot != dot {  // bound: `fresh` is a subsequence of `admitted`
                cursor += 1
                precondition(cursor < admitted.count, "fresh entry \(dot) is not in the batch")
            }
            result.append(SignedEntry(entry, signature: admitted[cursor].signature))
            cursor += 1
        }
        return result
    }

    /// Applies what the last ``stageReceived(_:policy:deferApply:)`` with `deferApply`
    /// wrote; nothing when there is none.
    public mutating func applyDeferred() {
        guard !deferred.isEmpty else { return }
        let entries = deferred
        deferred = []
        applyWritten(entries)
    }

    /// Reads the held counterparts of `held` (one store read per contiguous run of one
    /// origin) and returns the forks among them, in batch order.
    private func compareHeld(_ held: [Entry]) throws(NodeError) -> [ForkEvidence] {
        var forks: [ForkEvidence] = []
        var start = 0
        while start < held.count {  // bound: each pass consumes at least one entry
            let first = held[start].dot
            var end = start + 1
            while end < held.count && held[end].dot.origin == first.origin
                && held[end].dot.seq == held[end - 1].dot.seq + 1
            {
                end += 1
            }
            let stored: [Entry]
            do { stored = try store.entries(origin: first.origin, after: first.seq - 1, limit: end - start) } catch {
                throw .log(error)
            }
            guard stored.count == end - start else {
                let held = replica.vector[first.origin]
                throw .stopped(
                    reason: "the log holds \(first.origin.short) up to seq \(held) but returned \(stored.count) "
                        + "of the \(end - start) entries from seq \(first.seq)")
            }
            for (mine, theirs) in zip(stored, held[start..<end]) {
                if let fork = ForkEvidence(held: mine, received: theirs) { forks.append(fork) }
            }
            start = end
        }
        return forks
    }

    /// The fork with the lowest seq of each origin, ordered by dot.
    private static func lowestPerOrigin(_ forks: [ForkEvidence]) -> [ForkEvidence] {
        guard forks.count > 1 else { return forks }
        var result: [ForkEvidence] = []
        for fork in forks.sorted(by: { $0.dot < $1.dot }) where result.last?.dot.origin != fork.dot.origin {
            result.append(fork)
        }
        return result
    }
}
