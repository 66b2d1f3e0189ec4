import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncWire

extension Scenarios {
    /// Most writes per local append when filling a log (one batch of the protocol).
    static let fillWritesMax = Limits.batchEntriesMax

    /// (e) `entries` entries written at node 0 sync to node 1; the link drops, node 0 writes
    /// 10 entries, the link comes back. Then the same with node 1 restarted while the link is down.
    /// Figures: `syncBatches`, `syncEntries`; for `drop` and `restart`: `…Bytes` (both
    /// directions of the new connection until in sync), `…Handshake` (its HELLO and VECTOR
    /// frames), `…EntryBytes` (the 10 entries' canonical encodings), `…Limit` = handshake + 2 × entry bytes.
    /// With `checkAll` false the per-step and end-of-run oracle checks are skipped (the
    /// largest sizes), leaving convergence, quiet and the byte figures.
    public static func reconnectAfterLargeSync(seed: UInt64, entries: Int = 1_000_000, checkAll: Bool = true)
        throws -> ScenarioReport
    {
        let rows = try SimData.allRecords()
        let cluster = Cluster(seed: seed, nodeCount: 2)
        cluster.checkEveryStep = checkAll
        cluster.setLinked(0, 1, false)
        cluster.start()
        var written = 0
        while written < entries {  // bounded: each turn writes at least one entry
            let count = min(fillWritesMax, entries - written)
            let writes = (0..<count).map { index in
                var values = rows[(written + index) % rows.count].values
                values.valueUSD = ExactDecimal(Int64(written + index))
                return (key: rows[(written + index) % rows.count].key, operation: Operation.put(values))
            }
            guard cluster.write(node: 0, writes)?.count == count else { throw cluster.failure(.invariant, "fill write refused") }
            written += count
        }
        var report = ScenarioReport(name: "e: reconnect after a large sync")
        let (batches, sent) = (cluster.stats.batchesSent, cluster.stats.entriesSent)
        cluster.setLinked(0, 1, true)
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        report.add("syncEntries", cluster.stats.entriesSent - sent)
        report.add("syncBatches", cluster.stats.batchesSent - batches)
        for (label, restarts) in [("drop", false), ("restart", true)] {
            cluster.setLinked(0, 1, false)
            try cluster.run(forMs: 1_000)
            let ten = (0..<10).map { index in
                var values = rows[index].values
                values.valueUSD = ExactDecimal(Int64(-1 - index - (restarts ? 100 : 0)))
                return (key: rows[index].key, operation: Operation.put(values))
            }
            guard let entries = cluster.write(node: 0, ten) else { throw cluster.failure(.invariant, "write refused") }
            if restarts {
                cluster.crash(node: 1)
                cluster.restart(node: 1)
            }
            cluster.setLinked(0, 1, true)
            try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
            let wire = cluster.wireBytes(0, 1) ?? (total: -1, handshake: 0)
            let entryBytes = entries.reduce(0) { $0 + $1.encodedCount }
            report.add("\(label)Bytes", wire.total)
            report.add("\(label)Handshake", wire.handshake)
            report.add("\(label)EntryBytes", entryBytes)
            report.add("\(label)Limit", wire.handshake + 2 * entryBytes)
        }
        try cluster.checkQuiet(quietMs: quietMs)
        if checkAll { try cluster.checkFinal() }
        finish(&report, cluster)
        return report
    }

    /// (f) Pairs 0–1 and 2–3 sync among themselves; then links 0–2 and 1–3 join them into
    /// one ring (0–1–3–2–0) while every node keeps writing, with `dropRate` of all messages
    /// lost throughout (each loss is detected and the session redialled).
    /// Figures: `converged` (1), `mergeEntries` and `mergeBatches` sent from the switch to
    /// convergence, `sessions` started, `closedByFault` (sessions that detected a lost message).
    public static func twoPairsMerge(seed: UInt64, dropRate: Double = 0.2, rowsPerNode: Int = 2_000) throws
        -> ScenarioReport
    {
        let rows = try SimData.allRecords()
        let cluster = Cluster(seed: seed, nodeCount: 4)
        cluster.setTopology([(0, 1), (2, 3)])
        cluster.setMessageFaults(drop: dropRate)
        cluster.faultsActive = true
        cluster.start()
        let rounds = 20
        let slice = max(1, rowsPerNode / rounds)
        var before = (batches: 0, entries: 0)
        for round in 0..<rounds {
            if round == rounds / 2 {
                before = (cluster.stats.batchesSent, cluster.stats.entriesSent)
                cluster.setTopology([(0, 1), (2, 3), (0, 2), (1, 3)])
            }
            for node in 0..<4 {
                let start = node * rowsPerNode + round * slice
                cluster.importRecords(node: node, (0..<slice).map { rows[(start + $0) % rows.count] })
                var values = rows[0].values
                values.valueUSD = ExactDecimal(Int64(100 * round + node))
                cluster.write(node: node, [(key: rows[0].key, operation: .put(values))])
            }
            try cluster.run(forMs: 2_000)
        }
        try cluster.runUntilConverged(stepsMax: settleStepsMax, timeMaxMs: settleTimeMaxMs)
        var report = ScenarioReport(name: "f: two pairs merge")
        report.add("converged", cluster.isConverged ? 1 : 0)
        report.add("mergeEntries", cluster.stats.entriesSent - before.entries)
        report.add("mergeBatches", cluster.stats.batchesSent - before.batches)
        report.add("sessions", cluster.stats.sessions)
        report.add("closedByFault", cluster.stats.closedByFault)
        report.add("framesDropped", cluster.stats.framesDropped)
        cluster.faultsActive = false
        try settle(cluster)
        finish(&report, cluster)
        return report
    }
}
