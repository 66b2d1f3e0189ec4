import Foundation
import Testing
import TradeSyncControl
import TradeSyncModel

#if canImport(Glibc)
import Glibc
#endif

/// Issue 7 §5 with real daemons: export and re-import, `sync --wait`, `log --follow`,
/// `--json` of the new commands, shell completions.
@Suite(.serialized) struct CLIUsabilityTests {
    static let cement = "comtrade_legacy_bulk_cement-252310_1988-2020.csv"
    static let thailand = "comtradeplus_csv_tha-imports-8542_2014-2024.csv"
    /// cement with --skip-invalid (9,553) + Thailand (1,178, customs and transport breakdowns).
    static let realRecords = 9_553 + 1_178

    /// The `export --json` summary.
    struct ExportJSON: Decodable {
        let records: Int
        let conflicts: Int
        let contentDigest: String
        let format: String
        let output: String
        let seconds: Double
        let roundTripProblems: Int
        enum CodingKeys: String, CodingKey {
            case records, conflicts, format, output, seconds
            case contentDigest = "content_digest", roundTripProblems = "round_trip_problems"
        }
    }

    /// The `import --json` summary (the keys this suite checks).
    struct ImportJSON: Decodable {
        let written: Int
        let unchanged: Int
    }

    /// The `sync --json` report.
    struct SyncJSON: Decodable {
        let inSync: Bool
        let behind: Int
        let waitedSeconds: Double
        let peers: [PeerStatus]
        enum CodingKeys: String, CodingKey {
            case peers, behind
            case inSync = "in_sync", waitedSeconds = "waited_seconds"
        }
    }

    @Test("E2E: export csv and jsonl of real files re-import into fresh nodes with the same content digest; into A: nothing written, digest unchanged")
    func exportRoundTrip() throws {
        let root = Harness.tempDir("export")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        try a.start()
        defer { a.stop() }
        let cement = try a.cli(["import", "--skip-invalid", "--progress", "--json", Harness.dataFile(Self.cement)])
        #expect(cement.status == 0, "\(cement.stderr)")
        // The progress bar went to stderr; stdout is still exactly the JSON summary.
        #expect(try JSONDecoder().decode(ImportJSON.self, from: Data(cement.stdout.utf8)).written == 9_553)
        #expect(cement.stderr.contains("importing  ["), "\(cement.stderr)")
        #expect(try a.cli(["import", Harness.dataFile(Self.thailand)]).status == 0)
        let original = try a.status()
        #expect(original.records == Self.realRecords)
        let contentDigest = try #require(original.contentDigest)

        let csv = root.appendingPathComponent("export.csv").path
        let summary = try a.json(ExportJSON.self, ["export", "--format", "csv", "--output", csv, "--page-size", "2000"])
        #expect(summary.records == Self.realRecords && summary.conflicts == 0 && summary.roundTripProblems == 0)
        #expect(summary.contentDigest == contentDigest && summary.format == "csv" && summary.output == csv)
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == Self.realRecords + 1)
        #expect(lines.first == "reporter,partner,flow,commodity,period,customs,transport,value_usd,net_weight_kg,qty,qty_unit,flags")
        #expect(!FileManager.default.fileExists(atPath: "\(csv).tmp-\(getpid())"))

        // JSON Lines to stdout; the text summary goes to stderr.
        let jsonl = try a.cli(["export", "--format", "jsonl"])
        #expect(jsonl.status == 0, "\(jsonl.stderr)")
        #expect(jsonl.stderr.contains("exported \(Self.realRecords) records (jsonl) to stdout"), "\(jsonl.stderr)")
        #expect(jsonl.stderr.contains("content digest  \(contentDigest)"))
        let jsonlPath = root.appendingPathComponent("export.jsonl").path
        try jsonl.stdout.write(toFile: jsonlPath, atomically: true, encoding: .utf8)
        #expect(jsonl.stdout.split(separator: "\n").count == Self.realRecords)

        for (index, file) in [csv, jsonlPath].enumerated() {
            let fresh = NodeProcess(name: "fresh\(index)", root: root, port: Harness.freePort())
            try fresh.start()
            defer { fresh.stop() }
            let imported = try fresh.json(ImportJSON.self, ["import", file])
            #expect(imported.written == Self.realRecords)
            let status = try fresh.status()
            #expect(status.records == Self.realRecords, "\(file)")
            #expect(status.contentDigest == contentDigest, "\(file)")
            #expect(status.digest != original.digest)
        }

        // Back into A itself: every record is already held, nothing is written.
        let again = try a.json(ImportJSON.self, ["import", csv])
        #expect(again.written == 0 && again.unchanged == Self.realRecords)
        let after = try a.status()
        #expect(after.digest == original.digest && after.entries == original.entries)
    }

    @Test("E2E: sync --wait returns 0 once the peer caught up with an import; with the peer down, --timeout 1 exits 5 naming it")
    func syncWait() throws {
        let root = Harness.tempDir("syncwait")
        defer { try? FileManager.default.removeItem(at: root) }
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort())
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort(), peers: [b.port])
        try b.start()
        defer { b.stop() }
        try a.start()
        defer { a.stop() }
        #expect(try a.cli(["import", "--skip-invalid", Harness.dataFile(Self.cement)]).status == 0)
        let waited = try a.cli(["sync", "--wait", "--timeout", "120", "--json"])
        #expect(waited.status == 0, "\(waited.stderr)")
        let report = try JSONDecoder().decode(SyncJSON.self, from: Data(waited.stdout.utf8))
        #expect(report.inSync && report.behind == 0 && report.waitedSeconds >= 0)
        #expect(report.peers.count == 1 && report.peers[0].connected && report.peers[0].address == "127.0.0.1:\(b.port)")
        #expect(try b.status().records == 9_553)
        let table = try a.cli(["sync"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("PEER") && table.stdout.contains("IN SYNC"), "\(table.stdout)")

        b.stop()
        let timedOut = try a.cli(["sync", "--wait", "--timeout", "1"])
        #expect(timedOut.status == 5)
        #expect(timedOut.stderr.hasPrefix("tradesync: not in sync after "), "\(timedOut.stderr)")
        #expect(timedOut.stderr.contains("127.0.0.1:\(b.port) (down)"), "\(timedOut.stderr)")
        #expect(timedOut.stderr.split(separator: "\n").count == 1)
        let now = try a.cli(["sync", "--json"])
        #expect(now.status == 5)
        #expect(try JSONDecoder().decode(SyncJSON.self, from: Data(now.stdout.utf8)).inSync == false)
    }

    @Test("E2E: log --follow prints an entry put after it started; SIGINT exits 0; --json is JSON Lines; the node going away exits 3")
    func logFollow() throws {
        let root = Harness.tempDir("follow")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        try a.start()
        defer { a.stop() }
        #expect(try a.cli(["put", "CHN:DEU:X:850760:2020", "value_usd=1"]).status == 0)

        let text = try Follower(a, ["log", "--follow", "--limit", "5"], root: root)
        #expect(text.waitFor("CHN:DEU:X:850760:2020"), "\(text.output())")
        #expect(try a.cli(["put", "CHN:DEU:X:850760:2021", "value_usd=2", "qty_unit=kg"]).status == 0)
        #expect(text.waitFor("CHN:DEU:X:850760:2021"), "\(text.output())")
        #expect(text.interrupt() == 0)
        let lines = text.output().split(separator: "\n")
        #expect(lines.first?.hasPrefix("DOT") == true && lines.count == 3, "\(lines)")
        #expect(lines.last?.contains("value_usd=2 qty_unit=kg") == true)

        let json = try Follower(a, ["log", "--follow", "--json"], root: root)
        #expect(json.waitFor("CHN:DEU:X:850760:2021"))
        #expect(try a.cli(["delete", "CHN:DEU:X:850760:2020"]).status == 0)
        #expect(json.waitFor("\"op\":\"delete\""), "\(json.output())")
        let entries = try json.output().split(separator: "\n").map {
            try JSONDecoder().decode(LogEntryView.self, from: Data($0.utf8))
        }
        #expect(entries.map(\.position) == [1, 2, 3])
        #expect(entries.last?.op == "delete" && entries.last?.key == "CHN:DEU:X:850760:2020")
        a.stop()
        #expect(json.waitForExit() == 3)
        #expect(json.errors().hasPrefix("tradesync: cannot reach tradesyncd at"), "\(json.errors())")
    }

    @Test("E2E: --json of log and status carries position and content_digest; completions name every command")
    func jsonKeysAndCompletions() throws {
        let root = Harness.tempDir("jsonkeys")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        try a.start()
        defer { a.stop() }
        #expect(try a.cli(["put", "AUS:W00:X:252310:1988", "value_usd=1043786"]).status == 0)
        let log = try a.cli(["log", "--json"])
        let array = try #require(try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [[String: Any]])
        #expect(array.count == 1 && array[0]["position"] as? Int == 1 && array[0]["dot"] != nil)
        let status = try #require(
            try JSONSerialization.jsonObject(with: Data(try a.cli(["status", "--json"]).stdout.utf8)) as? [String: Any])
        #expect((status["content_digest"] as? String)?.count == 64)
        let alone = try a.cli(["sync", "--json"])
        #expect(alone.status == 0)
        let sync = try #require(try JSONSerialization.jsonObject(with: Data(alone.stdout.utf8)) as? [String: Any])
        #expect(Set(sync.keys) == ["in_sync", "behind", "waited_seconds", "peers"])

        let commands = [
            "status", "import", "export", "get", "query", "put", "delete", "conflicts", "resolve", "log", "sync", "verify",
            "peers", "id", "completions",
        ]
        let bash = try Harness.run("tradesync", ["completions", "bash"])
        #expect(bash.status == 0)
        for command in commands { #expect(bash.stdout.contains(command), "\(command)") }
        #expect(bash.stdout.contains("--follow") && bash.stdout.contains("--format"))
        for shell in ["zsh", "fish"] {
            let script = try Harness.run("tradesync", ["completions", shell])
            #expect(script.status == 0 && script.stdout.contains("export"))
        }
        #expect(try Harness.run("tradesync", ["completions", "tcsh"]).status == 64)
    }
}

/// A long-running `tradesync` (`log --follow`) whose stdout and stderr go to files.
final class Follower {
    let process = Process()
    let outPath: String
    let errPath: String

    init(_ node: NodeProcess, _ arguments: [String], root: URL) throws {
        let base = root.appendingPathComponent("follow-\(UInt32.random(in: 0...UInt32.max))").path
        outPath = base + ".out"
        errPath = base + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = Harness.binDir.appendingPathComponent("tradesync")
        process.arguments = arguments + ["--control", node.control]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func output() -> String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    func errors() -> String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits until stdout contains `text` (or 30 s pass).
    func waitFor(_ text: String) -> Bool {
        Harness.waitUntil(seconds: 30) { output().contains(text) }
    }

    /// SIGINT, then the exit status (-1 if it died of a signal instead of exiting).
    func interrupt() -> Int32 {
        process.interrupt()
        return waitForExit()
    }

    /// Waits up to 30 s for the process to end; its exit status, -1 when a signal ended
    /// it, -2 when it was still running (it is then killed).
    func waitForExit() -> Int32 {
        guard Harness.waitUntil(seconds: 30, { !process.isRunning }) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -2
        }
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : -1
    }
}
