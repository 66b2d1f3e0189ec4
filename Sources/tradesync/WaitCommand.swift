import ArgumentParser
import TradeSyncControl

/// `tradesync wait --entries N [--timeout SECONDS]`: blocks until the node holds N entries
/// durably, without polling it: the node answers the parked request the moment an fsync
/// makes the Nth entry durable (``ControlCommand/wait``).
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Block until the node holds at least N entries durably (no polling).",
        discussion: """
            N counts every entry in the node's log, its own and those received from peers (the \
            sum of its version vector, `entries` in `status --json`). The node answers as soon as \
            an fsync makes the Nth entry durable: at A, `tradesync import --json` answers \
            {"written": W}; at B, `tradesync wait --entries <A's count before + W>` returns when B \
            holds them. Exit 0 once reached, 5 when --timeout passed first. --json prints \
            {"entries", "waited_seconds", "vector"}.
            """)

    /// Longest `--timeout`, in seconds (as `sync --wait`).
    static let timeoutSecondsMax = SyncCommand.timeoutSecondsMax

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("The entry count to wait for (0 or more).", valueName: "count"))
    var entries: Int

    @Option(help: ArgumentHelp("Give up after this many seconds (exit 5; default: wait forever).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if entries < 0 { throw ValidationError("--entries must be 0 or more") }
        if let timeout, !(timeout >= 0 && timeout <= Self.timeoutSecondsMax) {
            throw ValidationError("--timeout must be a number of seconds from 0 to \(Int(Self.timeoutSecondsMax))")
        }
    }

    func run() throws(CLIFailure) {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = timeout.map { start.advanced(by: .milliseconds(Int64(($0 * 1000).rounded()))) }
        // One request per at most 24 h (the node's cap); without --timeout, ask again.
        while true {
            let leftMs = deadline.map { Self.milliseconds(clock.now.duration(to: $0)) }
            let slice = min(leftMs ?? ControlRequest.waitTimeoutMsMax, ControlRequest.waitTimeoutMsMax)
            let request = ControlRequest(command: .wait, entries: entries, timeoutMs: slice)
            let response: ControlResponse
            do {
                response = try ControlClient(path: options.controlPath).send(request)
            } catch {
                throw CLIFailure(error)
            }
            if response.ok {
                let status = try options.require(response.status, "status")
                let report = WaitReport(
                    entries: status.entries, waitedSeconds: Format.seconds(start.duration(to: clock.now)),
                    vector: status.vector)
                try options.printer.emit(report) {
                    "holds \(status.entries) entries (waited \(Format.fixed(report.waitedSeconds, digits: 3)) s)"
                }
                return
            }
            guard response.errorCode == "timeout" else { throw CLIFailure.node(response) }
            if let deadline, clock.now >= deadline {
                throw CLIFailure(.notInSync, response.error ?? "timed out waiting for \(entries) entries")
            }
        }
    }

    /// A duration in whole milliseconds, at least 0.
    static func milliseconds(_ duration: Duration) -> Int {
        let parts = duration.components
        return max(0, Int(clamping: parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000))
    }
}

/// What `wait` prints with `--json`.
struct WaitReport: Encodable {
    /// Entries the node holds (at least the count waited for).
    let entries: Int
    /// Seconds from the command's start to the node's answer.
    let waitedSeconds: Double
    /// The node's version vector: origin (hex) → highest seq.
    let vector: [String: UInt64]

    enum CodingKeys: String, CodingKey {
        case entries, vector
        case waitedSeconds = "waited_seconds"
    }
}
