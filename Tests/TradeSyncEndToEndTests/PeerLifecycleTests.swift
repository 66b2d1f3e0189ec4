import Foundation
import Testing
import TradeSyncControl

/// Issue 5 §5–7 with real daemons and real data directories: a peer whose log was
/// recreated, a node restored from an old backup, a data directory cloned onto a second
/// machine.
@Suite struct PeerLifecycleTests {
    static let cement = "comtrade_legacy_bulk_cement-252310_1988-2020.csv"

    /// Removes the log (segments, checkpoint) of a stopped node, keeping its node key.
    static func removeLog(_ node: NodeProcess) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: node.dataDir.path)
        where name.hasPrefix("segment-") || name.hasPrefix("checkpoint") {
            try FileManager.default.removeItem(at: node.dataDir.appendingPathComponent(name))
        }
    }

    static func converged(_ nodes: [NodeProcess], seconds: Double = 30) -> Bool {
        Harness.waitUntil(seconds: seconds) {
            let digests = nodes.compactMap { try? $0.status().digest }
            return digests.count == nodes.count && Set(digests).count == 1
        }
    }

    @Test("E2E: a peer whose log was recreated (same node key, new log instance) is resent everything from zero")
    func logInstanceChange() throws {
        let root = Harness.tempDir("instance")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort(), peers: [a.port])
        try a.start()
        defer { a.stop() }
        #expect(try a.cli(["import", "--skip-invalid", Harness.dataFile(Self.cement)]).status == 0)
        try b.start()
        #expect(Self.converged([a, b]))
        let before = try b.status()
        let entries = try a.status().entries
        #expect(before.entries == entries)

        #expect(b.stop() == 0)
        try Self.removeLog(b)
        try b.start()
        defer { b.stop() }
        let after = try b.status()
        #expect(after.nodeID == before.nodeID)
        #expect(after.logInstance != before.logInstance)
        #expect(Self.converged([a, b]))
        #expect(try b.status().entries == entries)
        let row = try #require(try a.json([PeerStatus].self, ["peers"]).first { $0.nodeID == after.nodeID })
        #expect(row.logInstance == after.logInstance)
        let logged = a.log().split(separator: "\n").filter {
            $0.contains("log instance changed from \(before.logInstance) to \(after.logInstance)")
        }
        #expect(logged.count == 1, "\(a.log())")
    }
}
