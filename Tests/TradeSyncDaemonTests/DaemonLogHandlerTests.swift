import Logging
import Testing

@testable import TradeSyncDaemon

/// Issue 7 §4: the daemon's log lines, for journald and for a terminal.
@Suite struct DaemonLogHandlerTests {
    @Test("journald form: <priority>level message {metadata sorted}; no timestamp")
    func journaldLine() {
        let line = DaemonLogHandler.format(
            level: .warning, message: "peer 10.0.0.2:7400: connection refused",
            metadata: ["session": "4", "peer": "10.0.0.2:7400", "node": "7f3a9c0d1e2b"], journald: true, timestamp: nil)
        #expect(line == "<4>warning peer 10.0.0.2:7400: connection refused {node=7f3a9c0d1e2b peer=10.0.0.2:7400 session=4}")
    }

    @Test("terminal form: timestamp, level, message; no braces without metadata")
    func terminalLine() {
        let line = DaemonLogHandler.format(
            level: .info, message: "log closed: 3 entries", metadata: [:], journald: false,
            timestamp: "2026-11-30T11:13:49.123Z")
        #expect(line == "2026-11-30T11:13:49.123Z info log closed: 3 entries")
    }

    @Test("syslog priorities follow RFC 5424: critical 2 … debug 7")
    func priorities() {
        let levels: [Logger.Level] = [.critical, .error, .warning, .notice, .info, .debug, .trace]
        #expect(levels.map(DaemonLogHandler.priority) == [2, 3, 4, 5, 6, 7, 7])
    }

    @Test("JOURNAL_STREAM must name stderr's device and inode; absent or malformed means not journald")
    func journalStreamDetection() {
        #expect(!DaemonLogHandler.journaldAttached(environment: [:]))
        #expect(!DaemonLogHandler.journaldAttached(environment: ["JOURNAL_STREAM": "garbage"]))
        #expect(!DaemonLogHandler.journaldAttached(environment: ["JOURNAL_STREAM": "1:1"]))
    }

    @Test("the level switch is shared: changing it changes every handler's level; a logger's own level is a floor")
    func sharedLevel() {
        let levels = LogLevelSwitch(.info)
        let first = DaemonLogHandler(levels: levels, journald: false)
        var second = DaemonLogHandler(levels: levels, journald: true)
        second.logLevel = .trace  // a floor below the shared level: no effect
        #expect(first.logLevel == .info && second.logLevel == .info)
        levels.current = .debug
        #expect(first.logLevel == .debug && second.logLevel == .debug)
        second.logLevel = .notice  // quieter than the shared level
        #expect(first.logLevel == .debug && second.logLevel == .notice)
    }

    @Test("UTC timestamps: ISO 8601 with milliseconds and Z")
    func timestampShape() {
        let stamp = DaemonLogHandler.utcNow()
        #expect(stamp.firstMatch(of: #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/#) != nil, "\(stamp)")
    }
}

/// Issue 7 §2: what a config reload reports.
@Suite struct ReloadOutcomeTests {
    @Test("keys bound at start are reported, reloadable ones are not")
    func restartOnly() throws {
        let running = NodeConfig()
        var fresh = running
        fresh.listen = try NodeConfig.address("127.0.0.1:7999", "listen", "test")
        fresh.segmentBytes = 1 << 20
        fresh.logLevel = "debug"
        fresh.checkpointEntries = 5
        fresh.peers = [try NodeConfig.address("127.0.0.1:7401", "peers", "test")]
        #expect(fresh.restartOnlyChanges(from: running) == ["listen", "segment_bytes"])
        #expect(running.restartOnlyChanges(from: running).isEmpty)
    }

    @Test("the summary says what changed, in one line")
    func summary() throws {
        var outcome = ReloadOutcome()
        #expect(outcome.summary == "no change")
        let address = try NodeConfig.address("127.0.0.1:7402", "peers", "test")
        outcome.added = [DialTarget(address: address, expected: nil)]
        outcome.logLevel = ("info", "debug")
        outcome.restartOnly = ["listen"]
        #expect(outcome.summary == "dialling 127.0.0.1:7402; log level info → debug; changed listen: takes effect at the next restart")
    }
}
