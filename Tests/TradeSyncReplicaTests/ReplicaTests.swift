import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

private func node(_ byte: UInt8) -> NodeID {
    NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero
}

private let keyA = (try? TradeKey(parsing: "CHN:DEU:X:850760:2022"))!
private let keyB = (try? TradeKey(parsing: "AZE:W00:M:252310:2019:C01:3200"))!

private func put(_ usd: Int64) -> Operation { .put(TradeValues(valueUSD: ExactDecimal(usd))) }

/// Authors one write on `replica` and applies it, as the daemon does after fsync.
@discardableResult
private func write(_ replica: inout Replica, _ key: TradeKey, _ op: Operation, at ms: UInt64) throws -> Entry {
    let entry = replica.prepare([(key: key, operation: op)], nowMs: ms)[0]
    #expect(try replica.apply(entry) == .applied)
    return entry
}

@Suite struct ReplicaTests {
    @Test("Replica: concurrent different puts: two siblings, same winner everywhere")
    func concurrentPuts() throws {
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let ea = try write(&a, keyA, put(100), at: 1_000)
        let eb = try write(&b, keyA, put(200), at: 1_000)
        try a.apply(eb)
        try b.apply(ea)
        let viewA = try #require(a.read(keyA))
        let viewB = try #require(b.read(keyA))
        #expect(viewA.siblings.count == 2)
        #expect(viewA == viewB)
        // Equal HLC: the higher origin ID (node 2) wins.
        #expect(viewA.winner.operation == put(200))
        #expect(a.counts.conflicts == 1)
        #expect(a.digest() == b.digest())
    }

    @Test("Replica: concurrent equal puts: one sibling holding both dots")
    func equalValuesCollapse() throws {
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let ea = try write(&a, keyA, put(100), at: 5)
        let eb = try write(&b, keyA, put(100), at: 9)
        try a.apply(eb)
        try b.apply(ea)
        let view = try #require(a.read(keyA))
        #expect(view.siblings.count == 1)
        #expect(view.winner.dots == [ea.dot, eb.dot])
        #expect(a.counts == ReplicaCounts(records: 1, keys: 1, conflicts: 0, tombstones: 0))
        #expect(a.digest() == b.digest())
    }

    @Test("Replica: write after seeing another: supersedes it, no conflict")
    func causalFollowIsNoConflict() throws {
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let first = try write(&a, keyA, put(1), at: 50)
        try b.apply(first)
        // b's clock is behind, yet its later write still supersedes a's.
        let second = try write(&b, keyA, put(2), at: 10)
        #expect(second.context.covers(first.dot))
        try a.apply(second)
        #expect(try #require(a.read(keyA)).siblings.map(\.operation) == [put(2)])
        #expect(a.counts.conflicts == 0)
    }

    @Test("Replica: superseding entry arrives before the one it saw: the late one is obsolete")
    func outOfOrderObsolete() throws {
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        var c = Replica(localID: node(3))
        let first = try write(&a, keyA, put(1), at: 1)
        try b.apply(first)
        let second = try write(&b, keyA, put(2), at: 2)
        // c hears b's entry first (forwarded), then a's.
        #expect(try c.apply(second) == .applied)
        #expect(try c.apply(first) == .obsolete)
        #expect(try #require(c.read(keyA)).siblings.map(\.operation) == [put(2)])
        try a.apply(second)
        #expect(c.digest() == a.digest())
    }

    @Test("Replica: resolve writes a context covering all siblings: conflict clears everywhere")
    func resolveClears() throws {
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let ea = try write(&a, keyA, put(1), at: 1)
        let eb = try write(&b, keyA, put(2), at: 1)
        try a.apply(eb)
        try b.apply(ea)
        #expect(a.counts.conflicts == 1)
        let resolve = try write(&a, keyA, put(3), at: 2)
        try b.apply(resolve)
        #expect(b.counts.conflicts == 0)
        #expect(try #require(b.read(keyA)).siblings.map(\.operation) == [put(3)])
        #expect(a.digest() == b.digest())
    }

    @Test("Replica: delete is a tombstone sibling; a concurrent put conflicts with it")
    func tombstones() throws {
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let created = try write(&a, keyA, put(1), at: 1)
        try b.apply(created)
        let deleted = try write(&a, keyA, .delete, at: 2)
        #expect(a.counts == ReplicaCounts(records: 0, keys: 1, conflicts: 0, tombstones: 1))
        let updated = try write(&b, keyA, put(5), at: 3)
        try a.apply(updated)
        try b.apply(deleted)
        let view = try #require(a.read(keyA))
        #expect(view.siblings.count == 2)
        #expect(view.winner.operation == put(5))
        #expect(a.counts.conflicts == 1)
        #expect(a.digest() == b.digest())
    }

    @Test("Replica: a seq that skips ahead is refused; a repeated dot is a duplicate")
    func gapsAndDuplicates() throws {
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let entries = a.prepare([(key: keyA, operation: put(1)), (key: keyB, operation: put(2))], nowMs: 1)
        #expect(throws: ReplicaError.gap(dot: entries[1].dot, expectedSeq: 1)) { try b.apply(entries[1]) }
        #expect(try b.apply(entries[0]) == .applied)
        #expect(try b.apply(entries[0]) == .duplicate)
        #expect(b.vector[node(1)] == 1)
    }

    @Test("Replica: writes to one key within one batch supersede each other")
    func batchSameKey() throws {
        var a = Replica(localID: node(1))
        let entries = a.prepare([(key: keyA, operation: put(1)), (key: keyA, operation: put(2))], nowMs: 1)
        for entry in entries { try a.apply(entry) }
        #expect(try #require(a.read(keyA)).siblings.map(\.operation) == [put(2)])
        #expect(entries[1].hlc > entries[0].hlc)
    }

    @Test("Replica: any delivery order of the same entries gives the same digest", arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func orderIndependence(seed: UInt64) throws {
        // Three writers interleave writes on two keys, each seeing a random subset.
        var rng = SplitMix64(seed: seed)
        var writers = (1...3).map { Replica(localID: node(UInt8($0))) }
        var all: [Entry] = []
        for step in 0..<60 {
            let w = Int(rng.next() % 3)
            // Deliver some random earlier entries to this writer first (in per-origin order).
            for entry in all where rng.next() % 3 == 0 { _ = try? writers[w].apply(entry) }
            let key = rng.next() % 2 == 0 ? keyA : keyB
            let op: Operation = rng.next() % 7 == 0 ? .delete : put(Int64(rng.next() % 4))
            let entry = writers[w].prepare([(key: key, operation: op)], nowMs: UInt64(step))[0]
            try writers[w].apply(entry)
            all.append(entry)
        }
        var forward = Replica(localID: node(9))
        var backward = Replica(localID: node(8))
        for entry in all { try forward.apply(entry) }
        // Reverse order per origin is impossible (gaps); instead deliver origin by origin.
        for origin in (1...3).reversed() {
            for entry in all where entry.dot.origin == node(UInt8(origin)) { try backward.apply(entry) }
        }
        #expect(forward.digest() == backward.digest(), "seed \(seed)")
        #expect(forward.contentDigest() == backward.contentDigest(), "seed \(seed)")
        #expect(forward.counts == backward.counts, "seed \(seed)")
        // The running sums (updated on every apply: conflicts, obsolete entries, tombstones,
        // partial deliveries) equal a recomputation from the keys, on every replica.
        for replica in writers + [forward, backward] {
            let scratch = replica.digestsFromScratch()
            #expect(replica.digest() == scratch.state, "seed \(seed)")
            #expect(replica.contentDigest() == scratch.content, "seed \(seed)")
        }
        // Siblings never outnumber the writers.
        for key in [keyA, keyB] { #expect((forward.read(key)?.siblings.count ?? 0) <= 3, "seed \(seed)") }
    }
}

/// A tiny deterministic PRNG so the seeds above replay exactly.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
