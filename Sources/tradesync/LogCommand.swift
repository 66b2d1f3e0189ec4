import ArgumentParser
import TradeSyncControl

#if canImport(Glibc)
import Glibc
#endif

/// `tradesync log [--limit N] [--follow]`: the node's most recent log entries, and with
/// `--follow` every entry appended after them until interrupted.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show recent log entries: dot, HLC, op, key, values; --follow keeps printing new ones.",
        discussion: """
            --follow prints the last --limit entries, then each entry as the node appends it \
            (local writes, imports and entries from peers), polling every 250 ms, until \
            interrupted (Ctrl-C: exit 0). If the node goes away: exit 3. With --json, --follow \
            prints one JSON object per line (JSON Lines); without --follow, a JSON array. Each \
            entry has "position", its place in the log (1 = the first entry appended).
            """)

    /// Time between two polls with `--follow`.
    static let pollInterval = Duration.milliseconds(250)
    /// Entries asked for per poll with `--follow` (the node caps it too).
    static let followPageEntries = 10_000

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("At most this many entries (with --follow: shown before following).", valueName: "n"))
    var limit = 20

    @Flag(name: [.short, .long], help: "Keep printing entries as they are appended, until interrupted.")
    var follow = false

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws(CLIFailure) {
        let response = try options.call(ControlRequest(command: .log, limit: limit))
        let entries = try options.require(response.entries, "entries")
        guard follow else {
            try options.printer.emit(entries) { Self.text(entries) }
            return
        }
        Interrupt.install()
        var position = try options.require(response.logPosition, "log position")
        if !options.json { guard Self.write(Self.followHeader) else { return } }
        guard try printFollowed(entries) else { return }
        while !Interrupt.interrupted {  // bound: until SIGINT/SIGTERM, stdout closing or the node going away
            SyncCommand.sleep(Self.pollInterval)
            if Interrupt.interrupted || Self.stdoutClosed() { break }
            var request = ControlRequest(command: .log, limit: Self.followPageEntries)
            request.after = position
            let next: ControlResponse
            do { next = try options.call(request) } catch {
                if Interrupt.interrupted { break }
                throw error
            }
            guard try printFollowed(try options.require(next.entries, "entries")) else { return }
            position = try options.require(next.logPosition, "log position")
        }
    }

    /// Writes entries as JSON Lines or as fixed-width lines, and flushes at once so a
    /// reader of a pipe sees each entry when it is appended. Returns false once stdout is
    /// closed (the reader of the pipe left): following ends, exit 0, as `tail -f` does.
    private func printFollowed(_ entries: [LogEntryView]) throws(CLIFailure) -> Bool {
        guard !entries.isEmpty else { return true }
        var text = ""
        for entry in entries {
            if options.json {
                text += try Printer.encodeJSONLine(entry)
            } else {
                text += Self.followLine(entry)
            }
            text += "\n"
        }
        return Self.write(text)
    }

    /// A table of entries in the node's order; `no entries` when the log is empty.
    static func text(_ entries: [LogEntryView]) -> String {
        guard !entries.isEmpty else { return "no entries" }
        var table = TextTable([
            TextTable.Column("DOT"), TextTable.Column("HLC"), TextTable.Column("OP"), TextTable.Column("KEY"),
            TextTable.Column("VALUES"),
        ])
        for entry in entries {
            let values = entry.op == "delete" ? "" : entry.values.map(Format.values) ?? ""
            table.append([entry.dot, entry.hlc, entry.op, entry.key, values])
        }
        return table.rendered
    }

    /// Column widths of the `--follow` lines (wider cells push the rest along).
    static let followWidths = [20, 18, 6, 32]

    /// The `--follow` header line.
    static var followHeader: String { padded(["DOT", "HLC", "OP", "KEY", "VALUES"]) + "\n" }

    /// One entry as a `--follow` line: the `text` table's columns at fixed widths.
    static func followLine(_ entry: LogEntryView) -> String {
        let values = entry.op == "delete" ? "" : entry.values.map(Format.values) ?? ""
        return padded([entry.dot, entry.hlc, entry.op, entry.key, values])
    }

    private static func padded(_ cells: [String]) -> String {
        var line = ""
        for (index, cell) in cells.enumerated() {
            line += cell
            if index < followWidths.count { line += String(repeating: " ", count: max(1, followWidths[index] - cell.count) + 1) }
        }
        while line.last == " " { line.removeLast() }
        return line
    }

    /// True when stdout is a pipe whose reader has gone (`| head` finished): `poll(2)`
    /// reports an error on its write end, so following stops without waiting for the next
    /// entry to fail to write.
    private static func stdoutClosed() -> Bool {
        var descriptor = pollfd(fd: 1, events: 0, revents: 0)
        return poll(&descriptor, 1, 0) > 0 && descriptor.revents & Int16(POLLERR | POLLHUP) != 0
    }

    /// Writes to stdout with `write(2)` (unbuffered: nothing waits in a stdio buffer);
    /// false when stdout is closed.
    private static func write(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {  // bound: each pass writes at least one byte or stops
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
