import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

/// One local write as the oracle saw it authored.
struct WriteRecord {
    let dot: Dot
    let key: TradeKey
    /// The author's whole version vector just before the write (its causal past, apart
    /// from the author's own earlier entries in the same batch; see ``Oracle/precedes(_:_:)``).
    let past: VersionVector
    /// FNV-1a 64 of the entry's canonical encoding.
    let payloadHash: UInt64
}

/// The reference the properties are checked against, kept apart from the replica's own
/// bookkeeping: every write ever authored, with its dot and its author's causal past.
///
/// "a precedes b" holds when a's dot is in b's causal past: b's author had applied a
/// (its full vector covered a's dot) before writing b. Sources: Lamport (1978) for the
/// happened-before relation; Almeida et al. (DAIS 2014) for what a DVV set must keep.
struct Oracle {
    private(set) var writes: [WriteRecord] = []
    private var indexByDot: [Dot: Int] = [:]
    private var writesByKey: [TradeKey: [Int]] = [:]
    private var seqByOrigin: [NodeID: UInt64] = [:]
    /// Origins a scenario cloned on purpose (two writers, one identity), and the second
    /// writes of their dots. Only these may author a dot twice.
    private var forkedOrigins: Set<NodeID> = []
    private var forkedWrites: [Dot: WriteRecord] = [:]

    /// Lets `origin` author dots already recorded (the clone scenario's deliberate fault).
    mutating func allowForks(of origin: NodeID) { forkedOrigins.insert(origin) }

    /// Records entries just authored by one node whose vector was `past` before the batch.
    mutating func record(_ entries: [Entry], past: VersionVector) {
        for entry in entries {
            if forkedOrigins.contains(entry.dot.origin) && entry.dot.seq <= seqKnown(origin: entry.dot.origin) {
                precondition(forkedWrites[entry.dot] == nil, "oracle: \(entry.dot) authored three times")
                forkedWrites[entry.dot] = WriteRecord(
                    dot: entry.dot, key: entry.key, past: past, payloadHash: TraceHasher.hash(entry.encoded()))
                continue
            }
            precondition(entry.dot.seq == seqKnown(origin: entry.dot.origin) + 1, "oracle: \(entry.dot) out of order")
            seqByOrigin[entry.dot.origin] = entry.dot.seq
            indexByDot[entry.dot] = writes.count
            writesByKey[entry.key, default: []].append(writes.count)
            writes.append(
                WriteRecord(dot: entry.dot, key: entry.key, past: past, payloadHash: TraceHasher.hash(entry.encoded())))
        }
    }

    /// The highest seq recorded for `origin` (0 when none).
    func seqKnown(origin: NodeID) -> UInt64 { seqByOrigin[origin] ?? 0 }

    /// Every key written, in key order.
    var keys: [TradeKey] { writesByKey.keys.sorted() }

    /// Every write recorded for `key`, in authoring order.
    func writes(of key: TradeKey) -> [WriteRecord] { (writesByKey[key] ?? []).map { writes[$0] } }

    func write(_ dot: Dot) -> WriteRecord? { indexByDot[dot].map { writes[$0] } }

    /// The write of `dot` for `key`: the first one, or for a forked dot the second when
    /// only that one is for `key`.
    func write(_ dot: Dot, key: TradeKey) -> WriteRecord? {
        let first = write(dot)
        if first?.key != key, let second = forkedWrites[dot], second.key == key { return second }
        return first
    }

    /// The second write of a forked dot, if a cloned origin authored it twice.
    func forkedWrite(_ dot: Dot) -> WriteRecord? { forkedWrites[dot] }

    /// True when `earlier` is in the causal past of `later`.
    func precedes(_ earlier: Dot, _ later: WriteRecord) -> Bool {
        earlier.origin == later.dot.origin ? earlier.seq < later.dot.seq : later.past.covers(earlier)
    }

    /// The per-key properties that hold at every step: every surviving dot was authored;
    /// surviving versions come from distinct origins; no more siblings than concurrent
    /// writers; and no surviving version causally precedes another (no false conflict).
    func check(_ view: KeyView) -> (FailureKind, String)? {
        let dots = view.siblings.flatMap(\.dots).sorted()
        var records: [WriteRecord] = []
        for dot in dots {
            guard let record = write(dot, key: view.key) else {
                return (.invariant, "key \(view.key): dot \(dot) was never authored")
            }
            guard record.key == view.key else {
                return (.invariant, "key \(view.key): dot \(dot) was authored for \(record.key)")
            }
            records.append(record)
        }
        var origins: [NodeID] = []
        for dot in dots {
            if origins.last == dot.origin {
                return (.siblings, "key \(view.key): two surviving versions from origin \(dot.origin.short): \(dots)")
            }
            origins.append(dot.origin)
        }
        if view.siblings.count > origins.count {
            return (.siblings, "key \(view.key): \(view.siblings.count) siblings from \(origins.count) concurrent writers")
        }
        for later in records {
            for earlier in records where earlier.dot != later.dot && precedes(earlier.dot, later) {
                return (.falseConflict, "key \(view.key): \(earlier.dot) survives beside \(later.dot), whose author had seen it")
            }
        }
        return nil
    }

    /// No silent loss, at quiescence: every write of `key` the replica no longer shows
    /// is in the causal past of another write of that key. Complexity O(writes of key).
    func checkNoSilentLoss(_ view: KeyView?, key: TradeKey) -> String? {
        let records = writes(of: key)
        let surviving = Set(view?.siblings.flatMap(\.dots) ?? [])
        var seen = VersionVector()  // the join of the causal pasts of the key's writes
        for record in records {
            seen.merge(record.past)
            if record.dot.seq > 1 { seen.advance(record.dot.origin, to: record.dot.seq - 1) }
        }
        for record in records where !surviving.contains(record.dot) && !seen.covers(record.dot) {
            return "key \(key): \(record.dot) is gone, but no write of the key had seen it (siblings \(view?.siblings.count ?? 0))"
        }
        return nil
    }
}
