import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncWire

/// What a named scenario measured: the figures its test asserts, by name, in order.
public struct ScenarioReport: Sendable, CustomStringConvertible {
    public let name: String
    public private(set) var figures: [(name: String, value: Int)] = []
    /// Texts the scenario captured (an error message, say), by name, in order.
    public private(set) var texts: [(name: String, value: String)] = []
    /// Entries the scenario wrote and wants checked by value, by name.
    public private(set) var entries: [(name: String, value: Entry)] = []
    /// Fork evidence the scenario found, as the node that found it stored it.
    public internal(set) var evidence: [ForkEvidence] = []
    /// Steps taken and virtual time at the end, in ms.
    public internal(set) var steps = 0
    public internal(set) var timeMs: UInt64 = 0

    init(name: String) { self.name = name }

    mutating func add(_ name: String, _ value: Int) { figures.append((name, value)) }
    mutating func add(_ name: String, text: String) { texts.append((name, text)) }
    mutating func add(_ name: String, entry: Entry) { entries.append((name, entry)) }

    /// The figure called `name` (nil when the scenario did not measure it).
    public subscript(_ name: String) -> Int? { figures.first { $0.name == name }?.value }

    /// The text called `name`, if captured.
    public func text(_ name: String) -> String? { texts.first { $0.name == name }?.value }

    /// The entry called `name`, if recorded.
    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name }?.value }

    public var description: String {
        "scenario \(name): " + figures.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
            + " (\(steps) steps, \(timeMs / 1000) s virtual)"
    }
}

/// The named scenarios of issue #3, each on the same harness as the random runs: real
/// `ReplicaNode`s and `SyncSession`s over the simulated network, disks and clocks.
/// Each throws the first property that failed (with its kind) and otherwise returns its figures.
public enum Scenarios {
    /// Liveness budget of a scenario, in steps and virtual ms.
    static let settleStepsMax = 20_000_000
    static let settleTimeMaxMs: UInt64 = 2 * 60 * 60_000
    /// Quiet period after convergence, in virtual ms.
    static let quietMs: UInt64 = 100_000

    /// Converges, checks the quiet period and the end-of-run properties.
    static func settle(_ cluster: Cluster) throws(SimFailure) {
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        try cluster.checkQuiet(quietMs: quietMs)
        try cluster.checkFinal()
    }

    static func finish(_ report: inout ScenarioReport, _ cluster: Cluster) {
        report.steps = cluster.step
        report.timeMs = cluster.nowMs
    }

    /// (a) Two offices import the same real file independently (their link cut), then meet.
    /// Figures: `rows`, per node `records0/1` and `conflicts0/1`, `siblingsMax`.
    public static func sameFileTwoOffices(seed: UInt64, file: String = SimData.cementFile) throws -> ScenarioReport {
        let rows = try SimData.records(file)
        let cluster = Cluster(seed: seed, nodeCount: 2)
        cluster.setClockSkew(1, ms: 1_234_567)
        cluster.partition(0, 1)
        cluster.start()
        try cluster.run(forMs: 1_000)
        let written = [cluster.importRecords(node: 0, rows)?.count ?? 0, cluster.importRecords(node: 1, rows)?.count ?? 0]
        try cluster.run(forMs: 1_000)
        cluster.heal(0, 1)
        try settle(cluster)
        var report = ScenarioReport(name: "a: same file, two offices")
        report.add("rows", rows.count)
        report.add("written0", written[0])
        report.add("written1", written[1])
        for node in 0...1 {
            report.add("records\(node)", cluster.counts(node)?.records ?? -1)
            report.add("conflicts\(node)", cluster.counts(node)?.conflicts ?? -1)
        }
        report.add("siblingsMax", cluster.stats.siblingsMax)
        finish(&report, cluster)
        return report
    }

    /// (b) Two nodes each write one key `rounds` times, concurrently within a round, and
    /// sync between rounds. Figures: `siblingsMax` (over every step on both nodes),
    /// `siblingsEnd`, `rounds`.
    public static func writeSyncRepeat(seed: UInt64, rounds: Int = 200) throws -> ScenarioReport {
        let row = try SimData.records(SimData.thaiFile)[0]
        let cluster = Cluster(seed: seed, nodeCount: 2)
        cluster.start()
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        for round in 0..<rounds {
            for node in 0...1 {
                var values = row.values
                values.valueUSD = ExactDecimal(Int64(10 * round + node + 1))
                cluster.write(node: node, [(key: row.key, operation: .put(values))])
            }
            try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        }
        try settle(cluster)
        var report = ScenarioReport(name: "b: write, sync, repeat")
        report.add("rounds", rounds)
        report.add("siblingsMax", cluster.stats.siblingsMax)
        report.add("siblingsEnd", cluster.read(0, row.key)?.siblings.count ?? -1)
        finish(&report, cluster)
        return report
    }

    /// (c) A node offline edits one key `edits` times in a row, then reconnects.
    /// Figures: `conflicts0/1`, `siblings0/1` of the key, `winnerIsLastEdit` (1 = yes),
    /// `batches` and `entries` of the catch-up.
    public static func longOfflineEdit(seed: UInt64, edits: Int = 2_000) throws -> ScenarioReport {
        let row = try SimData.records(SimData.thaiFile)[1]
        let cluster = Cluster(seed: seed, nodeCount: 2)
        cluster.start()
        cluster.write(node: 0, [(key: row.key, operation: .put(row.values))])
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        cluster.setLinked(0, 1, false)
        try cluster.run(forMs: 1_000)
        var last = row.values
        for edit in 0..<edits {
            last.valueUSD = ExactDecimal(Int64(edit + 1))
            cluster.write(node: 1, [(key: row.key, operation: .put(last))])
            try cluster.run(forMs: 10)
        }
        let (batches, entries) = (cluster.stats.batchesSent, cluster.stats.entriesSent)
        cluster.setLinked(0, 1, true)
        try settle(cluster)
        var report = ScenarioReport(name: "c: long offline edit")
        for node in 0...1 {
            report.add("conflicts\(node)", cluster.counts(node)?.conflicts ?? -1)
            report.add("siblings\(node)", cluster.read(node, row.key)?.siblings.count ?? -1)
        }
        let winners = (0...1).map { cluster.read($0, row.key)?.winner.operation }
        report.add("winnerIsLastEdit", winners.allSatisfy { $0 == .put(last) } ? 1 : 0)
        report.add("batches", cluster.stats.batchesSent - batches)
        report.add("entries", cluster.stats.entriesSent - entries)
        finish(&report, cluster)
        return report
    }

    /// (d) Node 1's clock runs 1 h ahead of nodes 0 and 2. A write by node 0 that follows
    /// node 1's write wins although its clock is behind; concurrent writes by nodes 0 and 1
    /// show the same winner everywhere (node 1's: the higher HLC) and keep the loser visible.
    /// Figures: `causalSiblings` (max over nodes), `causalWinnerIsLater` (nodes agreeing),
    /// `concurrentSiblingsMin/Max`, `concurrentWinnerIsNode1` and `loserVisible` (nodes agreeing).
    public static func clockSkew(seed: UInt64) throws -> ScenarioReport {
        let rows = try SimData.records(SimData.thaiFile)
        let cluster = Cluster(seed: seed, nodeCount: 3)
        for node in 0..<3 { cluster.setClockSkew(node, ms: node == 1 ? 3_600_000 : 0) }
        cluster.start()
        func put(_ node: Int, _ row: TradeRecord, _ amount: Int64) -> Operation {
            var values = row.values
            values.valueUSD = ExactDecimal(amount)
            cluster.write(node: node, [(key: row.key, operation: .put(values))])
            return .put(values)
        }
        _ = put(1, rows[2], 111)
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        let later = put(0, rows[2], 222)
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        for (a, b) in [(0, 1), (0, 2), (1, 2)] { cluster.partition(a, b) }
        let loser = put(0, rows[3], 333)
        let winner = put(1, rows[3], 444)
        cluster.healAll()
        try settle(cluster)
        var report = ScenarioReport(name: "d: clock skew")
        let causal = (0..<3).compactMap { cluster.read($0, rows[2].key) }
        let concurrent = (0..<3).compactMap { cluster.read($0, rows[3].key) }
        report.add("causalSiblings", causal.map(\.siblings.count).max() ?? -1)
        report.add("causalWinnerIsLater", causal.filter { $0.winner.operation == later }.count)
        report.add("concurrentSiblingsMin", concurrent.map(\.siblings.count).min() ?? -1)
        report.add("concurrentSiblingsMax", concurrent.map(\.siblings.count).max() ?? -1)
        report.add("concurrentWinnerIsNode1", concurrent.filter { $0.winner.operation == winner }.count)
        report.add("loserVisible", concurrent.filter { $0.siblings.dropFirst().contains { $0.operation == loser } }.count)
        finish(&report, cluster)
        return report
    }
}
