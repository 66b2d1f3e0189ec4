import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// An origin's chain head at one of its seqs (``EntryChain``).
public struct ChainHead: Sendable, Equatable {
    /// The seq the head is at (0: before the origin's first entry).
    public let seq: UInt64
    /// 32 bytes; ``EntryChain/genesis`` at seq 0.
    public let head: [UInt8]
}

/// Who may write what, as the node's configuration says (issue 6 §4).
public struct Authorization: Sendable, Equatable {
    /// Per origin, the reporter countries whose records it may author; an origin not
    /// listed may author any. Applies to received entries and to the node's own writes.
    public var reporters: [NodeID: Set<AreaCode>]

    /// Rules from the configuration's `[[origin]]` tables; empty allows everything.
    public init(reporters: [NodeID: Set<AreaCode>] = [:]) { self.reporters = reporters }

    /// Why `origin` may not author an entry for `reporter`, or nil when it may.
    public func problem(origin: NodeID, reporter: AreaCode) -> String? {
        guard let allowed = reporters[origin], !allowed.contains(reporter) else { return nil }
        return "origin \(origin.short) may not author records of reporter \(reporter.rawValue) "
            + "(allowed: \(allowed.map(\.rawValue).sorted().joined(separator: ", ")))"
    }
}

/// How a batch from one peer is checked before anything of it is written.
public struct ReceivePolicy: Sendable, Equatable {
    /// Origins this peer may send entries of; nil means any.
    public var origins: Set<NodeID>?
    /// True to require every new entry to be vouched for by its origin's signature.
    public var requireSignatures: Bool

    /// A policy; the defaults accept any origin and require signatures.
    public init(origins: Set<NodeID>? = nil, requireSignatures: Bool = true) {
        self.origins = origins
        self.requireSignatures = requireSignatures
    }
}

/// Entries a batch carried that were refused by authorization, and why (the first reason).
public struct Refusals: Sendable, Equatable {
    /// Entries of an origin the sending peer may not send.
    public var origin = 0
    /// Entries for a reporter their origin may not author, with the entries of that origin
    /// after them (its chain stops there on this node).
    public var reporter = 0
    /// The first reason, for the log.
    public var reason: String?

    /// No refusals.
    public init() {}
    /// Entries refused, for either reason.
    public var total: Int { origin + reporter }
}

extension ReplicaNode {
    /// The chain head of `origin` at the highest seq the store holds: the seal of its last
    /// record (every append ends each origin's run sealed), else computed over all its
    /// entries (a store that keeps no seals). Cached; kept current by every write.
    /// - Throws: ``NodeError/log(_:)`` when the store cannot be read.
    mutating func chainHead(_ origin: NodeID) throws(NodeError) -> ChainHead {
        let top = store.vector[origin]
        if let cached = chainHeads[origin], cached.seq == top { return cached }
        var head = ChainHead(seq: 0, head: EntryChain.genesis)
        if top > 0 {
            do {
                if let last = try store.sealedEntries(origin: origin, after: top - 1, limit: 1).first, let seal = last.seal {
                    head = ChainHead(seq: top, head: seal.head)
                } else {
                    var running = EntryChain.genesis
                    var after: UInt64 = 0
                    while after < top {  // bound: each pass reads up to 4096 entries
                        let chunk = try store.entries(origin: origin, after: after, limit: 4096)
                        guard !chunk.isEmpty else { break }
                        for entry in chunk { running = EntryChain.next(running, entry: entry) }
                        after += UInt64(chunk.count)
                    }
                    head = ChainHead(seq: after, head: running)
                }
            } catch {
                throw .log(error)
            }
        }
        chainHeads[origin] = head
        return head
    }

    /// Seals the node's own new entries (all of the local origin, in seq order): computes
    /// their chain heads and signs the last one, and one at least every
    /// ``EntryChain/sealEntriesMax`` entries or ``EntryChain/sealBytesMax`` bytes.
    /// Without a ``signer`` the entries go unsealed.
    /// - Throws: ``NodeError/log(_:)``; ``NodeError/stopped(reason:)`` when signing fails.
    mutating func sealOwn(_ entries: [Entry]) throws(NodeError) -> (sealed: [SealedEntry], head: ChainHead?) {
        guard let signer, let first = entries.first else { return (entries.map { SealedEntry($0) }, nil) }
        precondition(first.dot.origin == signer.origin, "own entries of another origin")
        var head = Digest32(try chainHead(signer.origin).head)
        var sealed: [SealedEntry] = []
        sealed.reserveCapacity(entries.count)
        var spanEntries = 0
        var spanBytes = 0
        for (position, entry) in entries.enumerated() {
            let hash = entry.digest
            head = EntryChain.next(head, entryHash: hash)
            spanEntries += 1
            spanBytes += entry.encodedCount
            let last = position == entries.count - 1
            if last || spanEntries >= EntryChain.sealEntriesMax || spanBytes >= EntryChain.sealBytesMax {
                do {
                    sealed.append(SealedEntry(entry, seal: try signer.seal(head: head.bytes, at: entry.dot), entryHash: hash))
                } catch {
                    throw .stopped(reason: "cannot sign entry \(entry.dot): \(error)")
                }
                spanEntries = 0
                spanBytes = 0
            } else {
                sealed.append(SealedEntry(entry, entryHash: hash))
            }
        }
        return (sealed, ChainHead(seq: entries[entries.count - 1].dot.seq, head: head.bytes))
    }

    /// Checks the new entries of a received batch (per origin, seq `held + 1`, … in batch
    /// order) against their origins' chains and signatures, and the origins' reporter
    /// authorization; returns them sealed, ready to write, and the entries refused.
    ///
    /// For each origin's run the chain is recomputed from this node's head; every signature
    /// in the run must verify over the head at its entry, and the run must end with a
    /// signed entry (senders cut batches there). An entry for a reporter its origin may not
    /// author cuts the run back to the last signed entry before it, and the origin's later
    /// entries are refused from then on (returned in `stops`, for ``chainStops``).
    /// - Throws: ``NodeError/forged(origin:firstSeq:lastSeq:reason:)`` naming the entries no
    ///   valid signature vouches for; ``NodeError/log(_:)``.
    mutating func verifyFresh(_ fresh: [SignedEntry], requireSignatures: Bool) throws(NodeError)
        -> (write: [SealedEntry], heads: [NodeID: ChainHead], refusals: Refusals, stops: [NodeID: String])
    {
        // Runs by origin, in order of first appearance, as positions into `fresh`: an origin
        // is looked up only where it changes from the entry before (a batch is mostly one
        // long run), and no entry is copied until it is sealed.
        var origins: [NodeID] = []
        var runs: [[Int]] = []
        var runNumber = [Int](repeating: 0, count: fresh.count)
        var current = -1
        var index: [NodeID: Int] = [:]
        for (position, item) in fresh.enumerated() {
            let origin = item.entry.dot.origin
            if current < 0 || origins[current] != origin {
                if let known = index[origin] {
                    current = known
                } else {
                    current = origins.count
                    index[origin] = current
                    origins.append(origin)
                    runs.append([])
                }
            }
            runs[current].append(position)
            runNumber[position] = current
        }
        var accepted: [[SealedEntry]] = Array(repeating: [], count: origins.count)
        var heads: [NodeID: ChainHead] = [:]
        var stops: [NodeID: String] = [:]
        var refusals = Refusals()
        for (number, origin) in origins.enumerated() {
            let run = runs[number]
            var head = Digest32(try chainHead(origin).head)
            var sealed: [SealedEntry] = []
            sealed.reserveCapacity(run.count)
            var lastSigned = -1
            var firstUnauthorized: Int?
            let restricted = authorization.reporters[origin] != nil
            for (position, at) in run.enumerated() {
                let item = fresh[at]
                let hash = item.entry.digest
                head = EntryChain.next(head, entryHash: hash)
                if let signature = item.signature {
                    let headBytes = head.bytes
                    if let problem = EntryChain.problem(with: signature, at: item.entry.dot, head: headBytes) {
                        let from = lastSigned + 1
                        throw .forged(
                            origin: origin, firstSeq: fresh[run[from]].entry.dot.seq, lastSeq: item.entry.dot.seq,
                            reason: problem)
                    }
                    sealed.append(SealedEntry(item.entry, seal: EntrySeal(head: headBytes, signature: signature), entryHash: hash))
                    lastSigned = position
                } else {
                    sealed.append(SealedEntry(item.entry, entryHash: hash))
                }
                if restricted, firstUnauthorized == nil,
                    let problem = authorization.problem(origin: origin, reporter: item.entry.key.reporter)
                {
                    firstUnauthorized = position
                    refusals.reason = refusals.reason ?? "entry \(item.entry.dot): \(problem)"
                    stops[origin] = "\(item.entry.dot): \(problem)"
                }
            }
            if requireSignatures && lastSigned < run.count - 1 {
                throw .forged(
                    origin: origin, firstSeq: fresh[run[lastSigned + 1]].entry.dot.seq,
                    lastSeq: fresh[run[run.count - 1]].entry.dot.seq,
                    reason: "no signature of the origin vouches for them (the run does not end at a signed entry)")
            }
            var keep = run.count
            if let cut = firstUnauthorized {
                keep = 0
                for position in stride(from: cut - 1, through: 0, by: -1) where sealed[position].seal != nil {
                    keep = position + 1
                    break
                }
                refusals.reporter += run.count - keep
            }
            guard keep > 0 else { continue }
            sealed.removeLast(sealed.count - keep)
            let top = sealed[keep - 1]
            heads[origin] = ChainHead(seq: top.entry.dot.seq, head: top.seal?.head ?? head.bytes)
            accepted[number] = sealed
        }
        // Batch order, as received (one run: already in it).
        if accepted.count == 1 { return (accepted[0], heads, refusals, stops) }
        var next = [Int](repeating: 0, count: origins.count)
        var write: [SealedEntry] = []
        write.reserveCapacity(fresh.count)
        for position in fresh.indices {
            let number = runNumber[position]
            if next[number] < accepted[number].count {
                write.append(accepted[number][next[number]])
                next[number] += 1
            }
        }
        return (write, heads, refusals, stops)
    }
}
