import Foundation
import Testing
import TradeSyncControl
import TradeSyncModel

/// Real processes on 127.0.0.1: three `tradesyncd` chained 1–2–3, driven by `tradesync`.
@Suite(.serialized) struct ConvergenceTests {
    static let cement = "comtrade_legacy_bulk_cement-252310_1988-2020.csv"
    static let thailand = "comtradeplus_csv_tha-imports-8542_2014-2024.csv"
    /// comtrade_legacy_bulk_cement-252310_1988-2020.csv line 2: Australia exports to World, 1988.
    static let contestedKey = "AUS:W00:X:252310:1988"

    @Test("E2E: three chained nodes: converge on two real files, then one conflict resolved everywhere")
    func chainConvergesAndResolves() throws {
        let root = Harness.tempDir("chain")
        defer { try? FileManager.default.removeItem(at: root) }
        let ports = (0..<3).map { _ in Harness.freePort() }
        // Chain: 1 dials 2, 2 dials 3. Node 3 only listens.
        let nodes = [
            NodeProcess(name: "n1", root: root, port: ports[0], peers: [ports[1]]),
            NodeProcess(name: "n2", root: root, port: ports[1], peers: [ports[2]]),
            NodeProcess(name: "n3", root: root, port: ports[2]),
        ]
        defer { nodes.forEach { $0.stop() } }
        for node in nodes { try node.start() }

        // Import without --skip-invalid refuses the whole cement file (2nd-partner rows).
        let refused = try nodes[0].cli(["import", Harness.dataFile(Self.cement)])
        #expect(refused.status == 2)
        #expect(try nodes[0].status().records == 0)

        let first = try nodes[0].cli(["import", "--skip-invalid", Harness.dataFile(Self.cement)])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try nodes[2].cli(["import", Harness.dataFile(Self.thailand)])
        #expect(second.status == 0, "\(second.stderr)")
        let expectedRecords = 9_553 + 1_178

        let converged = try Harness.waitUntil(seconds: 60) {
            let statuses = try nodes.map { try $0.status() }
            return Set(statuses.map(\.digest)).count == 1 && statuses.allSatisfy { $0.records == expectedRecords }
        }
        #expect(converged, "nodes did not converge: \(nodes.map { (try? $0.status())?.records ?? -1 })")
        let statuses = try nodes.map { try $0.status() }
        #expect(statuses.allSatisfy { $0.conflicts == 0 })
        #expect(statuses[1].peers.filter(\.connected).count == 2)
        // Every side of every link knows the other holds everything: nobody is behind.
        let caughtUp = try Harness.waitUntil(seconds: 10) {
            try nodes.allSatisfy { try $0.status().peers.allSatisfy { $0.connected && $0.behind == 0 && $0.inSync } }
        }
        #expect(caughtUp, "\(nodes.map { (try? $0.status())?.peers.map(\.behind) ?? [] })")

        // Apart: stop all, then write the same key differently on 1 and on 3.
        nodes.forEach { #expect($0.stop() == 0, "\($0.name) did not exit 0 on SIGTERM") }
        try nodes[0].start()
        #expect(try nodes[0].cli(["put", Self.contestedKey, "value_usd=111"]).status == 0)
        try nodes[2].start()
        #expect(try nodes[2].cli(["put", Self.contestedKey, "value_usd=333"]).status == 0)
        try nodes[1].start()

        let conflicted = try Harness.waitUntil(seconds: 30) {
            try nodes.allSatisfy { try $0.status().conflicts == 1 } && Set(try nodes.map { try $0.status().digest }).count == 1
        }
        #expect(conflicted, "conflicts per node: \(nodes.map { (try? $0.status())?.conflicts ?? -1 })")
        let views = try nodes.map { try $0.json([RecordView].self, ["conflicts"]) }
        for view in views {
            #expect(view.count == 1)
            #expect(view.first?.key == Self.contestedKey)
            #expect(view.first?.siblings.count == 2)
        }
        let winners = views.compactMap { $0.first?.siblings.first }
        #expect(winners.count == 3 && Set(winners.map(\.dots)).count == 1, "winners differ: \(winners)")

        // Resolve on the middle node; the conflict clears on all three.
        let resolved = try nodes[1].cli(["resolve", Self.contestedKey, "value_usd=222"])
        #expect(resolved.status == 0, "\(resolved.stderr)")
        let cleared = try Harness.waitUntil(seconds: 30) {
            try nodes.allSatisfy { try $0.status().conflicts == 0 } && Set(try nodes.map { try $0.status().digest }).count == 1
        }
        #expect(cleared)
        let record = try nodes[2].json(RecordView.self, ["get", Self.contestedKey])
        #expect(record.values?.valueUSD?.description == "222")
        #expect(record.siblings.count == 1 && !record.conflict)
    }

    @Test("E2E: a restarted node catches up from its vector: only the missing entries cross the wire")
    func restartCatchesUpFromVector() throws {
        let root = Harness.tempDir("restart")
        defer { try? FileManager.default.removeItem(at: root) }
        let ports = (0..<2).map { _ in Harness.freePort() }
        let a = NodeProcess(name: "a", root: root, port: ports[0], peers: [ports[1]])
        let b = NodeProcess(name: "b", root: root, port: ports[1])
        defer { a.stop(); b.stop() }
        try a.start()
        try b.start()
        #expect(try a.cli(["import", "--skip-invalid", Harness.dataFile(Self.cement)]).status == 0)
        let synced = try Harness.waitUntil(seconds: 60) { try b.status().digest == a.status().digest }
        #expect(synced, "a:\n\(a.log().suffix(4000))\nb:\n\(b.log().suffix(4000))")
        let before = try #require(try a.status().peers.first)
        #expect(before.entriesSent == 9_553)
        // A large answer (every record, several MB of JSON) arrives whole over the control socket.
        #expect(try b.json([RecordView].self, ["query"]).count == 9_553)

        b.stop()
        for value in 1...5 {
            #expect(try a.cli(["put", "CHN:DEU:X:850760:202\(value)", "value_usd=\(value)000"]).status == 0)
        }
        try b.start()
        #expect(try Harness.waitUntil(seconds: 30) { try b.status().digest == a.status().digest })
        let after = try #require(try a.status().peers.first)
        // Exactly the five missing entries went out, in a few hundred bytes, not the whole log again.
        #expect(after.entriesSent - before.entriesSent == 5)
        let bytes = after.bytesSent - before.bytesSent
        #expect(bytes > 0 && bytes < 4_096, "catch-up sent \(bytes) bytes")
        #expect(try b.status().records == 9_553 + 5)
    }
}
