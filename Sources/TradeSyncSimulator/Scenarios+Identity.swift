import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

/// The identity scenarios of issue 5 (§6 amnesia guard, §7 fork detection), with the
/// deliberate faults of `Cluster+Identity.swift`.
extension Scenarios {
    /// Virtual time a scenario waits for one of its conditions, in ms.
    static let conditionTimeMaxMs: UInt64 = 10 * 60_000

    /// Runs until `done` holds. - Throws: a ``FailureKind/convergence`` failure naming `what`.
    static func waitFor(_ cluster: Cluster, _ what: String, _ done: (Cluster) -> Bool) throws(SimFailure) {
        let deadline = cluster.now + conditionTimeMaxMs * 1_000_000
        guard try cluster.run(stepsMax: settleStepsMax, untilNs: deadline, done: done) else {
            throw cluster.failure(.convergence, "\(what): not reached within \(conditionTimeMaxMs) ms")
        }
    }

    /// One put of thai row `index` with `amount` as its trade value at `node`.
    static func put(_ cluster: Cluster, node: Int, row index: Int, _ amount: Int64) throws -> Entry {
        let row = try SimData.records(SimData.thaiFile)[index]
        var values = row.values
        values.valueUSD = ExactDecimal(amount)
        let entries = cluster.write(node: node, [(key: row.key, operation: .put(values))])
        guard let entries, entries.count == 1 else {
            throw cluster.failure(.invariant, "node \(node): the put of row \(index) was refused")
        }
        return entries[0]
    }

    /// (g) Restore from backup: node 0 writes seqs 1…5, is backed up, writes 6…8 (acknowledged,
    /// and synced to nodes 1 and 2), then restarts from the backup and reconnects. Its
    /// writes are refused until it has pulled 6…8 back; then its next write is seq 9 and
    /// supersedes them. Ends with convergence, a quiet period and the end-of-run checks
    /// (every acknowledged entry on every node byte for byte).
    /// Figures: `heldAfterRestore`, `guardClaimed`, `guardHeld`, `refused` (1), `heldAtRefusal`,
    /// `guardCleared` (1), `heldAfterPull`, `nextSeq`, `nextCoversPulled` (1), `siblingsMax` (of
    /// the key rewritten, over nodes), `forks`, `quarantined` (over nodes), `converged` (1).
    /// Texts: `refusal`. Entries: `lost8`, `next`.
    public static func restoreFromBackup(seed: UInt64) throws -> ScenarioReport {
        let cluster = Cluster(seed: seed, nodeCount: 3)
        cluster.start()
        let origin = cluster.nodeID(0)
        for index in 0..<5 { _ = try put(cluster, node: 0, row: index, Int64(100 + index)) }
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        let backup = cluster.backupLog(node: 0)
        var lost: [Entry] = []
        for index in 5..<8 { lost.append(try put(cluster, node: 0, row: index, Int64(100 + index))) }
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)

        var report = ScenarioReport(name: "g: restore from backup")
        cluster.restoreFromBackup(node: 0, backup)
        report.add("heldAfterRestore", Int(cluster.vector(0)?[origin] ?? 0))
        try waitFor(cluster, "the amnesia guard of node 0") { $0.authoringGuard(0) != nil }
        let guarded = cluster.authoringGuard(0)
        report.add("guardClaimed", Int(guarded?.claimedSeq ?? 0))
        report.add("guardHeld", Int(guarded?.heldSeq ?? 0))
        let entriesBefore = cluster.logEntryCount(0)
        let refusedWrite = cluster.write(node: 0, [(key: lost[2].key, operation: .delete)])
        report.add("refused", refusedWrite == nil && cluster.logEntryCount(0) == entriesBefore ? 1 : 0)
        report.add("heldAtRefusal", Int(cluster.vector(0)?[origin] ?? 0))
        report.add("refusal", text: cluster.lastRefusal(0)?.description ?? "")

        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        report.add("guardCleared", cluster.authoringGuard(0) == nil ? 1 : 0)
        report.add("heldAfterPull", Int(cluster.vector(0)?[origin] ?? 0))
        let next = try put(cluster, node: 0, row: 7, 4_242)
        report.add("nextSeq", Int(next.dot.seq))
        report.add("nextCoversPulled", next.context.covers(lost[2].dot) ? 1 : 0)
        try settle(cluster)
        report.add("siblingsMax", (0..<3).map { cluster.read($0, next.key)?.siblings.count ?? -1 }.max() ?? -1)
        report.add("forks", cluster.stats.forksFound)
        report.add("quarantined", (0..<3).map { cluster.quarantined($0).count }.reduce(0, +))
        report.add("converged", cluster.isConverged ? 1 : 0)
        report.add("lost8", entry: lost[2])
        report.add("next", entry: next)
        finish(&report, cluster)
        return report
    }

    /// (h) Clone: node 0 writes seqs 1…3 (synced through node 2 to node 3), then its data
    /// directory is copied to node 1 with the same node ID. Both write offline (their links
    /// to node 2 cut) one entry with the same next dot, 4; node 0's link heals first, node 1's
    /// a second later. Node 2 finds the fork when node 1's entry arrives and quarantines the
    /// origin; node 1 finds it when node 2 forwards node 0's entry, and refuses its own
    /// writes. Nodes 2 and 3 keep writing and serving each other and both clones; node 0's
    /// next entry (seq 5) stops at node 2. Node 2 restarts and keeps its quarantine.
    /// Figures: `forkSeq`, `forkOrigin` (1 when it is the cloned ID), `evidenceAt2`,
    /// `evidenceAt1`, `quarantinedAt0/1/2/3`, `cloneWriteRefused` (1), `skippedAt2`,
    /// `originSeqAt2/3`, `othersServed` (nodes holding both node 2's and node 3's new
    /// entries), `originNextAt0`, `quarantinedAfterRestart`, `forks`.
    /// Texts: `refusal`. Entries: `original`, `clone`. Evidence: node 2's, then node 1's.
    public static func cloneMeetsThird(seed: UInt64) throws -> ScenarioReport {
        let cluster = Cluster(seed: seed, nodeCount: 4, absent: [1])
        cluster.setTopology([(0, 2), (1, 2), (2, 3)])
        cluster.start()
        let origin = cluster.nodeID(0)
        for index in 0..<3 { _ = try put(cluster, node: 0, row: index, Int64(100 + index)) }
        try waitFor(cluster, "nodes 0, 2, 3 in sync") {
            $0.inSync(0, 2) && $0.inSync(2, 3) && $0.vector(3)?[origin] == 3
        }
        cluster.cloneNode(from: 0, to: 1)
        try waitFor(cluster, "the clone in sync with node 2") { $0.inSync(1, 2) }

        cluster.partition(0, 2)
        cluster.partition(1, 2)
        let original = try put(cluster, node: 0, row: 3, 3_000)
        let clone = try put(cluster, node: 1, row: 4, 4_000)
        try cluster.run(forMs: 1_000)
        cluster.heal(0, 2)
        try waitFor(cluster, "node 0's entry at node 2") { $0.vector(2)?[origin] == 4 }
        try cluster.run(forMs: 1_000)
        cluster.heal(1, 2)
        try waitFor(cluster, "the fork found by nodes 2 and 1") {
            !$0.quarantined(2).isEmpty && !$0.quarantined(1).isEmpty
        }

        var report = ScenarioReport(name: "h: clone meets a third node")
        let third = try put(cluster, node: 2, row: 5, 5_000)
        let fourth = try put(cluster, node: 3, row: 6, 6_000)
        let originalNext = try put(cluster, node: 0, row: 7, 7_000)
        report.add("cloneWriteRefused", cluster.write(node: 1, [(key: clone.key, operation: .delete)]) == nil ? 1 : 0)
        report.add("refusal", text: cluster.lastRefusal(1)?.description ?? "")
        try cluster.run(forMs: 5_000)

        let evidence = cluster.storedEvidence(2) + cluster.storedEvidence(1)
        report.evidence = evidence
        report.add("forkSeq", Int(evidence.first?.dot.seq ?? 0))
        report.add("forkOrigin", evidence.first?.dot.origin == origin ? 1 : 0)
        report.add("evidenceAt2", cluster.storedEvidence(2).count)
        report.add("evidenceAt1", cluster.storedEvidence(1).count)
        for node in 0..<4 { report.add("quarantinedAt\(node)", cluster.quarantined(node).count) }
        report.add("skippedAt2", cluster.quarantineSkipped(2))
        report.add("originSeqAt2", Int(cluster.vector(2)?[origin] ?? 0))
        report.add("originSeqAt3", Int(cluster.vector(3)?[origin] ?? 0))
        let served = (0..<4).filter { node in
            [third.dot, fourth.dot].allSatisfy { cluster.vector(node)?.covers($0) == true }
        }
        report.add("othersServed", served.count)
        report.add("originNextAt0", cluster.vector(0)?.covers(originalNext.dot) == true ? 1 : 0)
        report.add("forks", cluster.stats.forksFound)
        cluster.crash(node: 2)
        cluster.restart(node: 2)
        report.add("quarantinedAfterRestart", cluster.quarantined(2).first?.dot == evidence.first?.dot ? 1 : 0)
        report.add("original", entry: original)
        report.add("clone", entry: clone)
        finish(&report, cluster)
        return report
    }
}
