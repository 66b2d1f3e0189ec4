import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// Batches whose origins come in several runs: the receive path looks origins up per run
/// (`ReceivePlan`) and pairs signatures with fresh entries by one walk; these pin that
/// it gives what per-entry lookups gave. Nodes sign as `signingNode(seed:)` (ReplicaNodeChainTests.swift) makes them.
@Suite struct ReplicaNodeRunTests {
    /// `count` puts on distinct keys of reporter `testKey(key)`, as one append (sealed at its end).
    private func write(_ node: inout ReplicaNode<MemoryStore>, _ count: Int, key: Int, from first: Int = 0) throws {
        var writes: [(key: TradeKey, operation: Operation)] = []
        for index in first..<(first + count) {
            let base = testKey(key)
            let key = try TradeKey(
                reporter: base.reporter, partner: base.partner, flow: base.flow, commodity: base.commodity,
                period: try Period(year: 1900 + index % 300))
            writes.append((key, .put(TradeValues(valueUSD: ExactDecimal(Int64(index + 1))))))
        }
        _ = try node.stageLocal(writes, nowMs: 1_700_000_000_000)
    }

    private func fetchAll(_ node: ReplicaNode<MemoryStore>) throws -> [SignedEntry] {
        try node.fetch(after: VersionVector(), entriesMax: 100_000, bytesMax: 1 << 30)
    }

    @Test("Receive: two origins interleaved in runs, after held entries: every seal lands on its own entry")
    func interleavedRuns() throws {
        var (a, aStore) = try signingNode(seed: 11)
        var (d, dStore) = try signingNode(seed: 12)
        var (c, cStore) = try signingNode(seed: 13)
        try write(&a, 3, key: 1)  // A1…A3, sealed at 3
        try write(&a, 2, key: 1, from: 3)  // A4, A5, sealed at 5
        try write(&d, 2, key: 2)  // D1, D2, sealed at 2
        try write(&d, 1, key: 2, from: 2)  // D3, sealed at 3
        let fromA = try fetchAll(a)
        let fromD = try fetchAll(d)
        #expect(fromA.map { $0.signature != nil } == [false, false, true, false, true])
        // C holds A1…A3 already; the batch repeats A2 and A3 (held), then runs A, D, A, D.
        #expect(try c.stageReceived(Array(fromA[0..<3]), policy: ReceivePolicy()).written == 3)
        let batch = [fromA[1], fromA[2], fromD[0], fromD[1], fromA[3], fromA[4], fromD[2]]
        let received = try c.stageReceived(batch, policy: ReceivePolicy())
        #expect(received.written == 5)
        #expect(cStore.seals == aStore.seals.merging(dStore.seals) { held, _ in held })
        #expect(c.replica.vector == VersionVector([a.replica.localID: 5, d.replica.localID: 3]))
        #expect(cStore.seals.count == 4)
    }

    @Test("Receive: a batch that carries a new dot twice, the same entry, writes it once with its seal")
    func repeatedFreshDot() throws {
        var (a, aStore) = try signingNode(seed: 21)
        var (c, cStore) = try signingNode(seed: 22)
        try write(&a, 3, key: 3)
        let fromA = try fetchAll(a)
        // The copy of A3 without its signature comes after the signed one: the signed one counts.
        let repeated = fromA + [SignedEntry(fromA[2].entry)]
        let received = try c.stageReceived(repeated, policy: ReceivePolicy())
        #expect(received.written == 3)
        #expect(received.forks.isEmpty)
        #expect(cStore.seals == aStore.seals)
        #expect(c.digest() == a.digest())
    }
}
