import ArgumentParser
import TradeSyncControl

/// `tradesync log`: the node's most recent log entries.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Show recent log entries: dot, HLC, op, key, values.")

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("At most this many entries.", valueName: "n"))
    var limit = 20

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws(CLIFailure) {
        let response = try options.call(ControlRequest(command: .log, limit: limit))
        let entries = try options.require(response.entries, "entries")
        try options.printer.emit(entries) { Self.text(entries) }
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
}
