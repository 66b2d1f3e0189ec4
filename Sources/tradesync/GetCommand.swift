import ArgumentParser
import TradeSyncControl
import TradeSyncModel

/// `tradesync get KEY`: one key's winner and, when in conflict, every sibling.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a record: its winning values and, if in conflict, every sibling.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("REPORTER:PARTNER:FLOW:COMMODITY:PERIOD[:CUSTOMS:TRANSPORT]", valueName: "key"))
    var key: String

    func run() throws(CLIFailure) {
        let canonical = try CommandInput.key(key)
        let notFound = "no record for \(canonical)"
        let response = try options.call(ControlRequest(command: .get, key: canonical), notFound: notFound)
        guard let record = try options.require(response.records, "records").first else {
            throw CLIFailure(.refused, notFound)
        }
        try options.printer.emit(record) { Self.text(record) }
    }

    /// The key line, the winner's fields, then the version (or all siblings when in conflict).
    static func text(_ record: RecordView) -> String {
        var header = record.key
        if record.deleted { header += "  (deleted)" }
        if record.conflict { header += "  (conflict: \(record.siblings.count) siblings)" }
        var lines = [header]
        if let values = record.values {
            lines.append(
                labelled(
                    [
                        ("value_usd", Format.decimal(values.valueUSD)),
                        ("net_weight_kg", Format.decimal(values.netWeightKg)),
                        ("qty", Format.decimal(values.quantity)),
                        ("qty_unit", values.quantityUnit.isEmpty ? Format.absent : values.quantityUnit),
                        ("flags", Format.flags(values.flags)),
                    ], indent: "  "))
        }
        if record.conflict {
            lines.append("  siblings (* = winner):")
            lines += record.siblings.map { "    " + Format.sibling($0) }
        } else if let only = record.siblings.first {
            lines.append("  version  \(only.dots.joined(separator: ","))  hlc \(only.hlc)")
        }
        return lines.joined(separator: "\n")
    }
}
