import ArgumentParser
import TradeSyncControl

/// `tradesync conflicts`: every key with more than one sibling.
struct ConflictsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "List keys in conflict with their siblings (* marks the winner).")

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("At most this many keys (default: the node's).", valueName: "n"))
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws(CLIFailure) {
        let response = try options.call(ControlRequest(command: .conflicts, limit: limit))
        let records = try options.require(response.records, "records")
        try options.printer.emit(records) { Self.text(records, limit: limit) }
    }

    /// Each key, then its siblings indented, then a count line; `no conflicts` when none.
    static func text(_ records: [RecordView], limit: Int?) -> String {
        guard !records.isEmpty else { return "no conflicts" }
        var lines: [String] = []
        for record in records {
            lines.append("\(record.key)  (\(record.siblings.count) siblings)")
            lines += record.siblings.map { "  " + Format.sibling($0) }
        }
        var count = records.count == 1 ? "1 key in conflict" : "\(records.count) keys in conflict"
        if let limit, records.count >= limit { count += "; limit \(limit) reached, raise --limit for more" }
        lines.append(count)
        return lines.joined(separator: "\n")
    }
}
