import Foundation
import Testing
import TradeSyncClock
import TradeSyncControl
import TradeSyncWire

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

    /// Copies a stopped node's data directory (its log, checkpoint, key, peer book) to `to`.
    static func copyDataDir(_ from: NodeProcess, to: URL) throws {
        try? FileManager.default.removeItem(at: to)
        try FileManager.default.copyItem(at: from.dataDir, to: to)
        for stale in ["control.sock", "LOCK"] { try? FileManager.default.removeItem(at: to.appendingPathComponent(stale)) }
    }

    @Test("E2E: restored from a backup: behind on its own origin, writes refused with the reason until pulled back; nothing lost, nothing dominated")
    func restoredFromBackup() throws {
        let root = Harness.tempDir("amnesia")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort(), peers: [a.port])
        try a.start()
        try b.start()
        for (index, value) in ["100", "200"].enumerated() {
            #expect(try a.cli(["put", "DEU:FRA:M:8507\(index)0:2024", "value_usd=\(value)"]).status == 0)
        }
        #expect(Self.converged([a, b]))
        // The backup: A's data directory while A is stopped.
        #expect(a.stop() == 0)
        let backup = root.appendingPathComponent("a-backup")
        try Self.copyDataDir(a, to: backup)
        try a.start()
        // Three writes after the backup, acknowledged and synced to B.
        let keys = ["DEU:FRA:M:850720:2024", "DEU:FRA:M:850730:2024", "DEU:FRA:M:850740:2024"]
        for (index, key) in keys.enumerated() {
            #expect(try a.cli(["put", key, "value_usd=\(1000 + index)"]).status == 0)
        }
        #expect(Self.converged([a, b]))
        let aHex = try a.status().nodeID
        let aID = try #require(NodeID(hex: aHex))
        let written = try #require(try a.status().vector[aHex])
        #expect(a.stop() == 0)
        #expect(b.stop() == 0)

        // Restore the backup over A: its log ends 3 entries short of what B holds of A.
        try FileManager.default.removeItem(at: a.dataDir)
        try FileManager.default.copyItem(at: backup, to: a.dataDir)
        try a.start()
        defer { a.stop() }
        #expect(try a.status().vector[aHex] == written - 3)
        #expect(try a.status().writesRefused == nil)
        // A peer's VECTOR says it holds A's origin up to `written` (this one then leaves
        // without sending anything back).
        let peer = try FakePeer.connect(port: a.port)
        peer.send(FakePeer.hello(ProtocolVersion.supported, node: FakePeer.randomNode()))
        peer.send(.vector(VersionVector([aID: written])))
        #expect(Harness.waitUntil(seconds: 10) { (try? a.status().writesRefused) != nil })
        _ = peer
        let reason = try #require(try a.status().writesRefused)
        #expect(reason.contains("up to seq \(written - 3)") && reason.contains("holds up to seq \(written)"), "\(reason)")
        // Every write is refused, with that reason, and nothing is written.
        let refused = try a.cli(["put", keys[0], "value_usd=7"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("restored from an older backup"), "\(refused.stderr)")
        #expect(try a.status().vector[aHex] == written - 3)
        #expect(a.log().contains("this data directory was restored from an older backup"))
        // The guard is on disk: a restart does not lift it.
        #expect(a.stop() == 0)
        try a.start()
        #expect(try a.status().writesRefused != nil)
        #expect(try a.cli(["put", keys[0], "value_usd=7"]).status == 1)

        // B comes back and dials A: A pulls its own entries back, and writes resume.
        try b.start()
        defer { b.stop() }
        #expect(Harness.waitUntil(seconds: 20) { (try? a.status().writesRefused) == nil })
        #expect(try a.status().vector[aHex] == written)
        let put = try a.cli(["put", keys[0], "value_usd=5000", "--json"])
        #expect(put.status == 0, "\(put.stderr)")
        #expect(put.stdout.contains(":\(written + 1)\""), "\(put.stdout)")
        #expect(Self.converged([a, b]))
        // No entry silently dominated: the new write supersedes 850720 without a conflict,
        // and the other writes made after the backup are on both nodes.
        #expect(try b.status().conflicts == 0)
        for node in [a, b] {
            #expect(try node.cli(["get", keys[0]]).stdout.contains("5000"))
            for (index, key) in keys.enumerated() where index > 0 {
                let get = try node.cli(["get", key])
                #expect(get.status == 0 && get.stdout.contains("\(1000 + index)"), "\(node.name) \(key): \(get.stdout)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: a.dataDir.appendingPathComponent("authoring-guard.json").path))
    }

    @Test("E2E: a copied data directory writes on two machines: the peer finds the fork by HEADS, stores both entries, quarantines the origin")
    func clonedDataDir() throws {
        let root = Harness.tempDir("fork")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort(), peers: [a.port])
        try a.start()
        try b.start()
        defer { b.stop() }
        #expect(try a.cli(["put", "DEU:FRA:M:850760:2024", "value_usd=1"]).status == 0)
        #expect(Self.converged([a, b]))
        let aHex = try a.status().nodeID
        // Clone: a copy of A's data directory, started on a second port with the same key.
        #expect(a.stop() == 0)
        let clone = NodeProcess(name: "a-clone", root: root, port: Harness.freePort())
        try Self.copyDataDir(a, to: clone.dataDir)
        try a.start()
        // A writes seq 2 and B gets it.
        #expect(try a.cli(["put", "DEU:FRA:M:850761:2024", "value_usd=2"]).status == 0)
        #expect(Self.converged([a, b]))
        #expect(a.stop() == 0)
        // The clone, offline, writes its own seq 2: same dot, other entry.
        try clone.start()
        defer { clone.stop() }
        #expect(try clone.cli(["put", "DEU:FRA:M:850762:2024", "value_usd=3"]).status == 0)
        #expect(try clone.cli(["put", "DEU:FRA:M:850763:2024", "value_usd=33"]).status == 0)
        #expect(try clone.status().vector[aHex] == 3)
        // The clone dials B. Both hold dot A:2, so vectors agree; HEADS tell them apart.
        clone.stop()
        clone.peers = [b.port]
        try clone.start()
        #expect(Harness.waitUntil(seconds: 20) { (try? b.status().forks?.count) == 1 })
        let fork = try #require(try b.status().forks?.first)
        #expect(fork.origin == aHex)
        #expect(fork.dot.hasSuffix(":2"))
        #expect(Set([fork.heldKey, fork.receivedKey]) == ["DEU:FRA:M:850761:2024", "DEU:FRA:M:850762:2024"])
        #expect(FileManager.default.fileExists(atPath: fork.evidence))
        // Quarantined before anything after the forked dot was applied: the clone's seq 3
        // (sent with its seq 2, since HEADS are compared before streaming) never lands.
        #expect(try b.status().vector[aHex] == 2)
        #expect(try b.cli(["get", "DEU:FRA:M:850763:2024"]).status == 1)
        #expect((try b.status().quarantineSkipped ?? 0) >= 1)
        // The clone learns it too: its own origin is forked, so it refuses writes.
        #expect(Harness.waitUntil(seconds: 10) { (try? clone.status().writesRefused) != nil })
        #expect(try clone.cli(["put", "DEU:FRA:M:850764:2024", "value_usd=4"]).status == 1)
        #expect(try clone.status().forks?.first?.dot == fork.dot)
        // B shows the fork in status and peers, keeps it across a restart, and keeps serving.
        let rows = try b.json([PeerStatus].self, ["peers"])
        #expect(rows.contains { $0.fork?.contains("dot") == true }, "\(rows)")
        #expect(try b.cli(["status"]).stdout.contains("FORKS"))
        #expect(b.stop() == 0)
        try b.start()
        #expect(try b.status().forks?.first?.dot == fork.dot)
        #expect(try b.cli(["put", "FRA:DEU:X:850760:2024", "value_usd=9"]).status == 0)
    }

    @Test("E2E: two running copies of one data directory dial the same peer: they take turns, the fork is found, and both copies learn it")
    func concurrentClones() throws {
        let root = Harness.tempDir("clones")
        defer { try? FileManager.default.removeItem(at: root) }
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort())
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort(), peers: [b.port])
        try a.start()
        #expect(try a.cli(["put", "DEU:FRA:M:850760:2024", "value_usd=1"]).status == 0)
        #expect(a.stop() == 0)
        let clone = NodeProcess(name: "a-clone", root: root, port: Harness.freePort(), peers: [b.port])
        try Self.copyDataDir(a, to: clone.dataDir)
        // Both copies run and write their own seq 2 while B is down.
        try a.start()
        defer { a.stop() }
        try clone.start()
        defer { clone.stop() }
        #expect(try a.cli(["put", "DEU:FRA:M:850761:2024", "value_usd=2"]).status == 0)
        #expect(try clone.cli(["put", "DEU:FRA:M:850762:2024", "value_usd=3"]).status == 0)
        try b.start()
        defer { b.stop() }
        #expect(Harness.waitUntil(seconds: 30) { (try? b.status().forks?.count) == 1 }, "b:\n\(b.log())")
        let fork = try #require(try b.status().forks?.first)
        #expect(fork.dot.hasSuffix(":2"))
        #expect(Set([fork.heldKey, fork.receivedKey]) == ["DEU:FRA:M:850761:2024", "DEU:FRA:M:850762:2024"])
        // Both copies learn it: the one B heard from second gets B's copy back at once; the
        // one B stored first gets both copies at its next session (B's HEADS comparison
        // sends known forks to every peer holding the dot). Both then refuse writes.
        #expect(Harness.waitUntil(seconds: 40) {
            (try? a.status().writesRefused) != nil && (try? clone.status().writesRefused) != nil
        }, "a:\n\(a.log())\nclone:\n\(clone.log())")
        #expect(try a.cli(["put", "DEU:FRA:M:850769:2024", "value_usd=9"]).status == 1)
        #expect(try clone.cli(["put", "DEU:FRA:M:850769:2024", "value_usd=9"]).status == 1)
        #expect(b.log().contains("connected again from"))
    }
}
