import Foundation
import Testing
import TradeSyncControl

#if canImport(Glibc)
import Glibc
#endif

/// Issue 7 §2 and §4: SIGTERM/SIGINT stop the daemon cleanly; SIGHUP re-reads the
/// config without dropping healthy sessions; log lines for journald and for a terminal.
@Suite struct SignalTests {
    /// Lines of `text` containing `needle`.
    static func lines(_ text: String, containing needle: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.contains(needle) }
    }

    @Test(
        "E2E: SIGTERM and SIGINT with a live session: sessions closed, log synced and checkpointed, exit 0 within 10 s; the restart replays nothing",
        arguments: [SIGTERM, SIGINT])
    func cleanStop(signal: Int32) throws {
        let root = Harness.tempDir("stop-\(signal)")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort(), peers: [a.port])
        try a.start()
        try b.start()
        defer { b.stop() }
        let imported = try a.cli(["import", "--skip-invalid", Harness.dataFile(PeerLifecycleTests.cement)])
        #expect(imported.status == 0, "\(imported.stderr)")
        let entries = try a.status().entries
        #expect(entries == 9553)
        #expect(Harness.waitUntil(seconds: 30) { (try? b.status().entries) == entries }, "B did not catch up")
        let digest = try a.status().digest

        let sent = Date()
        a.send(signal)
        let exit = a.waitForExit(seconds: 10)
        let elapsed = Date().timeIntervalSince(sent)
        #expect(exit == 0, "exit status \(String(describing: exit)) after \(elapsed) s; log:\n\(a.log())")
        let log = a.log()
        #expect(log.contains("session with") && log.contains("ended: closed, this node is stopping"), "\(log)")
        #expect(log.contains("checkpoint at \(entries) entries"), "no final checkpoint:\n\(log)")
        #expect(log.contains("log closed: \(entries) entries"))
        #expect(log.contains("tradesyncd stopped"))
        // Its own stop is no peer failure: nothing about the session at warning level.
        let warnings = Self.lines(log, containing: " warning ").filter { !$0.contains("insecure = true") }
        #expect(warnings.isEmpty, "warnings at shutdown: \(warnings)")
        // B was told (ERROR shutdown) and says so at info, not as a failure.
        let aID = String(try b.status().peers.first { $0.connected == false }?.nodeID?.prefix(12) ?? "?")
        #expect(
            Harness.waitUntil(seconds: 10) {
                b.log().contains("(node \(aID)): closed by the peer: it is stopping")
            }, "\(b.log())")
        // B's redials fail while A is down: that is worth a warning, in the OS's words.
        let peerWarnings = Self.lines(b.log(), containing: " warning ").filter { !$0.contains("insecure = true") }
        #expect(peerWarnings.allSatisfy { $0.contains("dial failed: connection refused") }, "B warned: \(peerWarnings)")

        // The log was synced and the checkpoint covers it: the restart replays nothing.
        try a.start()
        defer { a.stop() }
        #expect(try a.status().entries == entries)
        #expect(try a.status().digest == digest)
        #expect(a.log().contains("\(entries) from the checkpoint, 0 replayed"), "\(a.log())")
    }

    /// Writes an insecure config for `node` dialling `peers`.
    static func writeConfig(_ node: NodeProcess, peers: [Int], level: String, extra: String = "") throws {
        let text = """
            data_dir = "\(node.dataDir.path)"
            listen = "127.0.0.1:\(node.port)"
            log_level = "\(level)"
            peers = [\(peers.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", "))]
            \(extra)
            """
        try text.write(toFile: node.dataDir.path + ".toml", atomically: true, encoding: .utf8)
    }

    @Test("E2E: SIGHUP re-reads the config: a peer added is dialled, one removed is closed, the log level changes, the healthy session stays up; a bad config changes nothing")
    func reload() throws {
        let root = Harness.tempDir("reload")
        defer { try? FileManager.default.removeItem(at: root) }
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort())
        let c = NodeProcess(name: "c", root: root, port: Harness.freePort())
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Self.writeConfig(a, peers: [b.port], level: "info")
        a.configFile = a.dataDir.path + ".toml"
        try b.start()
        try c.start()
        try a.start()
        defer { [a, b, c].forEach { $0.stop() } }
        #expect(try a.cli(["put", "CHN:DEU:X:850760:2022", "value_usd=1200.5"]).status == 0)
        #expect(Harness.waitUntil(seconds: 20) { (try? b.status().entries) == 1 }, "B did not get A's entry")
        let bID = try b.status().nodeID
        let sessionsWithB = { Self.lines(a.log(), containing: "session with \(bID.prefix(12))") }
        #expect(sessionsWithB().count == 1)
        #expect(Self.lines(a.log(), containing: " debug ").isEmpty, "debug lines before the reload")

        // Add C, raise the log level.
        try Self.writeConfig(a, peers: [b.port, c.port], level: "debug")
        a.send(SIGHUP)
        #expect(Harness.waitUntil(seconds: 20) { (try? c.status().entries) == 1 }, "C was not dialled: \(a.log())")
        #expect(a.log().contains("config reloaded: dialling 127.0.0.1:\(c.port); log level info → debug"), "\(a.log())")
        #expect(!Self.lines(a.log(), containing: " debug ").isEmpty, "no debug lines after the reload")
        #expect(sessionsWithB().count == 1, "the session with B was dropped: \(sessionsWithB())")
        #expect(try a.status().peers.first { $0.nodeID == bID }?.connected == true)

        // Remove B, change a key bound at start.
        let otherPort = Harness.freePort()
        try FileManager.default.removeItem(atPath: a.dataDir.path + ".toml")
        try Self.writeConfig(a, peers: [c.port], level: "info")
        let text = try String(contentsOfFile: a.dataDir.path + ".toml", encoding: .utf8)
            .replacingOccurrences(of: "127.0.0.1:\(a.port)\"", with: "127.0.0.1:\(otherPort)\"")
        try text.write(toFile: a.dataDir.path + ".toml", atomically: true, encoding: .utf8)
        a.send(SIGHUP)
        #expect(Harness.waitUntil(seconds: 20) { (try? a.status().peers.first { $0.nodeID == bID }?.connected) == false })
        let log = a.log()
        #expect(log.contains("no longer dialling 127.0.0.1:\(b.port); closed 1 session(s) of peers no longer configured"), "\(log)")
        #expect(log.contains("changed listen: takes effect at the next restart"), "\(log)")
        #expect(log.contains("ended: closed, the peer is no longer configured"), "\(log)")
        #expect(try a.status().listen == "127.0.0.1:\(a.port)", "listen must keep its running value")
        let cID = try c.status().nodeID
        #expect(try a.status().peers.first { $0.nodeID == cID }?.connected == true)

        // A config that does not load changes nothing.
        try "bogus = 1\n".write(toFile: a.dataDir.path + ".toml", atomically: true, encoding: .utf8)
        a.send(SIGHUP)
        #expect(Harness.waitUntil(seconds: 10) { a.log().contains("config reload failed, keeping the running config: ") })
        #expect(a.log().contains("unknown key 'bogus'"))
        #expect(try a.cli(["put", "CHN:DEU:M:850760:2022", "value_usd=7"]).status == 0)
        #expect(Harness.waitUntil(seconds: 20) { (try? c.status().entries) == 2 }, "C stopped syncing after a bad reload")
        #expect(a.stop() == 0)
    }

    @Test("E2E: SIGHUP over TLS: pinning a peer that was refused lets it in; sessions of pins that stay are kept")
    func reloadPins() throws {
        let root = Harness.tempDir("reload-pins")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort())
        let c = NodeProcess(name: "c", root: root, port: Harness.freePort())
        for node in [a, b, c] { node.tls = true }
        let (aID, bID, cID) = (try a.nodeID(), try b.nodeID(), try c.nodeID())
        a.pins = [(bID, b.port)]
        b.pins = [(aID, nil)]
        c.pins = [(aID, a.port)]
        try a.start()
        try b.start()
        try c.start()
        defer { [a, b, c].forEach { $0.stop() } }
        #expect(try a.cli(["put", "CHN:DEU:X:850760:2022", "value_usd=1"]).status == 0)
        #expect(Harness.waitUntil(seconds: 20) { (try? b.status().entries) == 1 })
        #expect(Harness.waitUntil(seconds: 20) { a.log().contains("which is not a pinned peer") }, "A should refuse C")
        #expect(try c.status().entries == 0)

        a.pins = [(bID, b.port), (cID, nil)]
        _ = try a.writeTLSConfig()
        a.send(SIGHUP)
        // C redials with the refusal backoff (1 s doubling): give it time.
        #expect(Harness.waitUntil(seconds: 40) { (try? c.status().entries) == 1 }, "C not let in: \(a.log())")
        #expect(Self.lines(a.log(), containing: "session with \(String(try b.status().nodeID.prefix(12)))").count == 1)
    }

    @Test("E2E: log lines: a timestamp and a level on a terminal; under journald (JOURNAL_STREAM is stderr) a <priority> prefix and no timestamp; peer and session metadata on session lines")
    func logFormat() throws {
        let root = Harness.tempDir("logformat")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort(), peers: [a.port])
        // B's stderr is its log file: JOURNAL_STREAM names that file's device and inode.
        b.journald = true
        try a.start()
        try b.start()
        defer { [a, b].forEach { $0.stop() } }
        let aID = try a.status().nodeID
        #expect(Harness.waitUntil(seconds: 20) { b.log().contains("session with \(aID.prefix(12))") })

        let terminal = a.log().split(separator: "\n")
        #expect(!terminal.isEmpty)
        let stamped = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info|notice|warning|error|critical) /#
        for line in terminal { #expect(line.firstMatch(of: stamped) != nil, "\(line)") }

        let journal = b.log().split(separator: "\n")
        let prefixed = #/^<[2-7]>(trace|debug|info|notice|warning|error|critical) /#
        for line in journal {
            #expect(line.firstMatch(of: prefixed) != nil, "\(line)")
            #expect(line.firstMatch(of: #/\d{4}-\d\d-\d\dT\d\d:/#) == nil, "timestamp doubled under journald: \(line)")
        }
        #expect(journal.contains { $0.hasPrefix("<6>info ") })
        #expect(journal.contains { $0.hasPrefix("<4>warning insecure = true") })
        let session = journal.first { $0.contains("session with \(aID.prefix(12))") && $0.contains("established") }
        #expect(session?.contains("{node=\(aID.prefix(12)) peer=127.0.0.1:\(a.port) session=") == true, "\(String(describing: session))")
    }
}
