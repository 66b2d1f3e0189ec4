import Foundation
import Testing
import TradeSyncControl

/// Two nodes that list each other: one session between them, not two fighting ones.
@Suite(.serialized) struct SessionPairTests {
    @Test("E2E: mutual peers (one from a TOML config): exactly one stable session, writes flow both ways")
    func mutualPeersKeepOneSession() throws {
        let root = Harness.tempDir("mutual")
        defer { try? FileManager.default.removeItem(at: root) }
        let ports = (0..<2).map { _ in Harness.freePort() }
        let a = NodeProcess(name: "a", root: root, port: ports[0], peers: [ports[1]])
        let b = NodeProcess(name: "b", root: root, port: ports[1], peers: [ports[0]])
        let config = root.appendingPathComponent("b.toml").path
        try """
            data_dir = "\(b.dataDir.path)"
            listen = "127.0.0.1:\(ports[1])"
            peers = ["127.0.0.1:\(ports[0])"]
            log_level = "debug"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        b.configFile = config
        defer { a.stop(); b.stop() }
        try a.start()
        try b.start()

        func connectedPeers(_ node: NodeProcess) -> Int { (try? node.status().peers.filter(\.connected).count) ?? -1 }
        func peerRows(_ node: NodeProcess) -> Int { (try? node.status().peers.count) ?? -1 }
        // Until a node has dialled once it cannot tell that the inbound peer is the one at its
        // configured address; after that, one row per peer and one session per pair.
        let settled = Harness.waitUntil(seconds: 20) {
            connectedPeers(a) == 1 && connectedPeers(b) == 1 && peerRows(a) == 1 && peerRows(b) == 1
        }
        #expect(settled, "a: \(connectedPeers(a))/\(peerRows(a)), b: \(connectedPeers(b))/\(peerRows(b))")

        #expect(try a.cli(["put", "DEU:FRA:M:870380:2023", "value_usd=42"]).status == 0)
        #expect(try b.cli(["put", "FRA:DEU:X:870380:2023", "value_usd=43"]).status == 0)
        #expect(try Harness.waitUntil(seconds: 20) { try a.status().digest == b.status().digest && a.status().records == 2 })

        // Stable: over two more seconds no session is torn down and rebuilt.
        let established = a.log().components(separatedBy: "established").count
        usleep(2_000_000)
        #expect(a.log().components(separatedBy: "established").count == established)
        #expect(connectedPeers(a) == 1 && connectedPeers(b) == 1)
        // And on the wire: one TCP connection between them (two endpoints), no orphan.
        let oneConnection = Harness.waitUntil(seconds: 5) { Harness.establishedEndpoints(ports: Set(ports)) == 2 }
        #expect(
            oneConnection,
            "\(Harness.establishedEndpoints(ports: Set(ports))) endpoints; a:\n\(a.log())\nb:\n\(b.log())")
        let status = try b.status()
        #expect(status.listen == "127.0.0.1:\(ports[1])")
        #expect(status.peers.first?.inSync == true)
        #expect(status.peers.first?.nodeID == (try a.status().nodeID))
    }

    @Test("E2E: SIGTERM stops a node cleanly (exit 0), and a restart keeps its node ID and records")
    func cleanStopAndRestart() throws {
        let root = Harness.tempDir("stop")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = NodeProcess(name: "solo", root: root, port: Harness.freePort())
        defer { node.stop() }
        try node.start()
        #expect(try node.cli(["put", "CHN:DEU:X:850760:2022", "value_usd=10", "qty=3", "qty_unit=u"]).status == 0)
        // The same values again: nothing new is written.
        let again = try node.json(WriteResult.self, ["put", "CHN:DEU:X:850760:2022", "value_usd=10"])
        #expect(again.unchanged == true)
        let before = try node.status()
        #expect(node.stop() == 0)
        try node.start()
        let after = try node.status()
        #expect(after.nodeID == before.nodeID)
        #expect(after.digest == before.digest)
        #expect(after.records == 1 && after.entries == 1)
        // Errors: one line on stderr, the documented exit codes.
        let missing = try node.cli(["get", "CHN:DEU:X:850760:2021"])
        #expect(missing.status == 1)
        #expect(missing.stderr.split(separator: "\n").count == 1)
        let badKey = try node.cli(["get", "CHN:DEU:Q:850760:2021"])
        #expect(badKey.status == 2)
        let unreachable = try Harness.run("tradesync", ["status", "--control", root.appendingPathComponent("none.sock").path])
        #expect(unreachable.status == 3)
    }
}
