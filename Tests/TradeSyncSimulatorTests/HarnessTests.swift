import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
@testable import TradeSyncSimulator

/// A put by `origin` at `seq` on one of a few keys, with the given context.
func entry(_ origin: NodeID, _ seq: UInt64, key index: Int = 0, context: VersionVector = VersionVector()) throws -> Entry {
    let partners = ["FRA", "USA", "CHN"]
    let key = try TradeKey(
        reporter: AreaCode("DEU"), partner: AreaCode(partners[index % 3]), flow: .export,
        commodity: CommodityCode("850760"), period: Period(year: 2020))
    return Entry(
        dot: Dot(origin: origin, seq: seq), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + seq, logical: 0),
        context: context, key: key, operation: .put(TradeValues(valueUSD: ExactDecimal(Int64(seq)), quantityUnit: "kg")))
}

func nodeID(_ byte: UInt8) throws -> NodeID {
    try #require(NodeID(bytes: [UInt8](repeating: byte, count: NodeID.byteCount)))
}

@Suite struct HarnessTests {
    @Test("Sim harness: PRNG: same seed, same stream; chance(0) draws nothing")
    func random() {
        var a = SimRandom(seed: 7)
        var b = SimRandom(seed: 7)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
        var c = SimRandom(seed: 7)
        _ = c.chance(0)
        var d = SimRandom(seed: 7)
        #expect(c.next() == d.next())
    }

    @Test("Sim harness: event queue: by time, then by insertion")
    func eventQueue() {
        var queue = EventQueue<Int>()
        for (index, time) in [5, 1, 5, 3, 1, 5].enumerated() { queue.push(index, at: UInt64(time)) }
        var order: [Int] = []
        while let (_, payload) = queue.pop() { order.append(payload) }
        #expect(order == [1, 4, 3, 0, 2, 5])
    }

    @Test("Sim harness: SimLog: gaps refused like FileLog, nothing written")
    func simLogContiguity() throws {
        let a = try nodeID(0x0A)
        let log = SimLog(file: "t", instanceID: 1, random: SimRandom(seed: 1))
        try log.append([try entry(a, 1), try entry(a, 2)])
        #expect(throws: LogError.notContiguous(dot: Dot(origin: a, seq: 5), expectedSeq: 4)) {
            try log.append([try entry(a, 3), try entry(a, 5)])
        }
        #expect(log.entryCount == 2)
        #expect(try log.entries(origin: a, after: 1, limit: 5).map(\.dot.seq) == [2])
    }

    @Test("Sim harness: SimLog: a crash in append keeps a prefix, cuts the torn tail, acknowledges nothing", arguments: Array(UInt64(1)...20))
    func simLogCrash(seed: UInt64) throws {
        let a = try nodeID(0x0A)
        let log = SimLog(file: "t", instanceID: 1, random: SimRandom(seed: seed), crashPerAppendProbability: 1)
        try log.append([try entry(a, 1)])
        log.isArmed = true
        #expect(throws: LogError.self) { try log.append(try (2...6).map { try entry(a, $0) }) }
        #expect(log.isCrashed)
        #expect(throws: LogError.closed(file: "t")) { try log.append([try entry(a, 2)]) }
        log.isArmed = false
        log.recover()
        let held = log.vector[a]
        #expect(held >= 1 && held <= 6)
        var replayed: [UInt64] = []
        try log.replay(from: 0) { replayed.append($0.dot.seq) }
        #expect(replayed == Array(1...held))
        try log.append([try entry(a, held + 1)])
        #expect(log.vector[a] == held + 1)
    }

    @Test("Sim harness: oracle: a version its sibling's author had seen is a false conflict")
    func oracleFalseConflict() throws {
        let (a, b) = (try nodeID(0x0A), try nodeID(0x0B))
        var oracle = Oracle()
        let first = try entry(a, 1)
        // b's author had seen a:1, but its context (wrongly) does not cover it.
        let second = try entry(b, 1)
        oracle.record([first], past: VersionVector())
        oracle.record([second], past: VersionVector([a: 1]))
        var replica = Replica(localID: a)
        try replica.apply(first)
        try replica.apply(second)
        let view = try #require(replica.read(first.key))
        #expect(oracle.check(view)?.0 == .falseConflict)
    }

    @Test("Sim harness: oracle: a write gone without a later write having seen it is a silent loss")
    func oracleSilentLoss() throws {
        let (a, b) = (try nodeID(0x0A), try nodeID(0x0B))
        var oracle = Oracle()
        let first = try entry(a, 1)
        // b's write supersedes a:1 (its context covers it), but b's author had never seen a:1.
        let second = try entry(b, 1, context: VersionVector([a: 1]))
        oracle.record([first], past: VersionVector())
        oracle.record([second], past: VersionVector())
        var replica = Replica(localID: a)
        try replica.apply(first)
        try replica.apply(second)
        #expect(oracle.checkNoSilentLoss(replica.read(first.key), key: first.key) != nil)
        // Had b seen it, nothing is lost.
        var honest = Oracle()
        honest.record([first], past: VersionVector())
        honest.record([second], past: VersionVector([a: 1]))
        #expect(honest.checkNoSilentLoss(replica.read(first.key), key: first.key) == nil)
    }

    @Test("Sim harness: a BATCH lost on the wire is noticed by the ACK timeout and the pair converges")
    func lostBatchConverges() throws {
        let rows = try SimData.records(SimData.thaiFile)
        let cluster = Cluster(seed: 11, nodeCount: 2)
        cluster.start()
        try cluster.runUntilConverged(stepsMax: 100_000, timeMaxMs: 60_000)
        cluster.setMessageFaults(drop: 1)
        cluster.faultsActive = true
        cluster.write(node: 0, [(key: rows[0].key, operation: .put(rows[0].values))])
        try cluster.run(stepsMax: 1_000) { $0.stats.framesDropped > 0 }
        cluster.faultsActive = false
        #expect(cluster.stats.framesDropped == 1)
        try cluster.runUntilConverged(stepsMax: 100_000, timeMaxMs: 5 * 60_000)
        #expect(cluster.stats.closedByTimeout >= 1)
        try cluster.checkQuiet(quietMs: 100_000)
        try cluster.checkFinal()
    }
}
