import ArgumentParser
import TradeSyncControl

/// `tradesync put KEY field=value…`: write a record's values on this node.
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Write a record: put KEY value_usd=1200.5 qty_unit=kg flags=estimated …",
        discussion: """
            Fields: value_usd, net_weight_kg, qty (exact decimals), qty_unit (text), flags \
            (comma-separated: estimated, qty_estimated, net_weight_estimated, confidential). \
            An empty value (qty=) clears the field.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("REPORTER:PARTNER:FLOW:COMMODITY:PERIOD[:CUSTOMS:TRANSPORT]", valueName: "key"))
    var key: String

    @Argument(help: ArgumentHelp("One or more field=value assignments.", valueName: "field=value"))
    var assignments: [String] = []

    func run() throws(CLIFailure) {
        let canonical = try CommandInput.key(key)
        guard !assignments.isEmpty else {
            let names = CommandInput.fieldNames.joined(separator: ", ")
            throw CLIFailure(.invalidInput, "put needs at least one field=value (\(names))")
        }
        let fields = try CommandInput.assignments(assignments)
        let response = try options.call(ControlRequest(command: .put, key: canonical, fields: fields))
        let write = try options.require(response.write, "write result")
        try options.printer.emit(write) {
            write.unchanged == true
                ? "put \(write.key): unchanged (already held as dot \(write.dot))"
                : "put \(write.key): dot \(write.dot) hlc \(write.hlc)"
        }
    }
}
