import Foundation
import Logging
import Testing
import TradeSyncControl
@testable import TradeSyncDaemon
import TradeSyncModel

/// `count` records on distinct keys, from key number `first` on.
private func records(_ count: Int, first: Int) throws -> [TradeRecord] {
    let partners = ["FRA", "USA", "CHN", "JPN", "BRA"]
    return try (first..<(first + count)).map { index in
        TradeRecord(
            key: try TradeKey(parsing: "DEU:\(partners[index % 5]):M:8542:\(1900 + index / 5)"),
            values: TradeValues(valueUSD: ExactDecimal(Int64(index + 1))))
    }
}

@Suite struct CheckpointPolicyTests {
    /// ``CheckpointState``: while entries keep coming in, a due checkpoint waits for a pause
    /// of ``CheckpointState/pause`` unless the fresh entries reach
    /// ``CheckpointState/intakeGrowth`` times the covered ones.
    @Test("Checkpoint: a due checkpoint waits for a 1 s pause in the intake; at the bound (fresh ≥ 3 × covered) it is taken at once")
    func waitsForPause() async throws {
        let directory = NSTemporaryDirectory() + "tradesync-checkpoint-policy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = NodeConfig()
        config.dataDir = directory
        config.checkpointEntries = 100
        var logger = Logger(label: "checkpoint-policy-test")
        logger.logLevel = .critical
        let node = try Node(identity: NodeIdentity.loadOrCreate(directory: directory), config: config, logger: logger)

        // 150 fresh of 0 covered: at the bound max(100, 0), taken at once despite the intake.
        _ = try await node.importRecords(try records(150, first: 0))
        let started = await node.checkpoints.inFlight != nil
        let coveredAtOnce = await node.checkpoints.covered
        #expect(started || coveredAtOnce == 150)
        try await waitCovered(node, 150, within: .seconds(5))

        // 100 fresh of 150 covered: due (≥ max(100, 37)) but below the bound (150), and the
        // intake was just now: deferred.
        let imported = ContinuousClock.now
        _ = try await node.importRecords(try records(100, first: 150))
        let deferred = await (node.checkpoints.inFlight == nil, node.checkpoints.covered, node.checkpoints.retry != nil)
        #expect(deferred.0 && deferred.1 == 150 && deferred.2, "\(deferred)")
        // Taken once the intake paused for a second.
        try await waitCovered(node, 250, within: .seconds(5))
        #expect(ContinuousClock.now - imported >= CheckpointState.pause)
        // `status` shows it: what the checkpoint covers, none pending.
        let report = await node.status(digests: false)
        #expect(report.entries == 250 && report.checkpointEntries == 250 && report.checkpointPending == false)

        // During the intake: 500 fresh of 250 covered is below the bound (750), deferred;
        // 250 more reach it, and that checkpoint starts at once.
        _ = try await node.importRecords(try records(500, first: 250))
        let below = await (node.checkpoints.inFlight == nil, node.checkpoints.covered)
        #expect(below.0 && below.1 == 250, "\(below)")
        // Due, deferred: `status` says one is pending though none is being written.
        let deferredReport = await node.status(digests: false)
        #expect(deferredReport.checkpointEntries == 250 && deferredReport.checkpointPending == true)
        let atBound = ContinuousClock.now
        _ = try await node.importRecords(try records(250, first: 750))
        try await waitCovered(node, 1000, within: .seconds(5))
        #expect(ContinuousClock.now - atBound < CheckpointState.pause, "taken at once, not after a pause")
        await node.shutdown()
    }

    private func waitCovered(_ node: Node, _ covered: Int, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while await node.checkpoints.covered != covered {
            guard ContinuousClock.now < deadline else {
                let now = await node.checkpoints.covered
                Issue.record("checkpoint never covered \(covered) entries (covers \(now))")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
