import ArgumentParser
import TradeSyncControl
import TradeSyncModel

/// `tradesync query`: records matching criteria, as a table.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "List records matching criteria (`!` marks a key in conflict).")

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("Reporter area code (DEU, W00, …).", valueName: "code"))
    var reporter: String?

    @Option(help: ArgumentHelp("Partner area code.", valueName: "code"))
    var partner: String?

    @Option(help: ArgumentHelp("Flow code (M, X, RM, RX, …) or name (Import, Export, …).", valueName: "flow"))
    var flow: String?

    @Option(help: ArgumentHelp("Commodity code prefix (25, 2523, 252310).", valueName: "prefix"))
    var commodity: String?

    @Option(help: ArgumentHelp("2015, 201503, 2015..2019, 2015.. or ..2019 (bounds inclusive).", valueName: "period"))
    var period: String?

    @Flag(help: "Include keys whose winner is a deletion.")
    var includeDeleted = false

    @Option(help: ArgumentHelp("At most this many records (default: the node's).", valueName: "n"))
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws(CLIFailure) {
        let filter = try CommandInput.filter(
            reporter: reporter, partner: partner, flow: flow, commodity: commodity, period: period,
            includeDeleted: includeDeleted)
        let response = try options.call(ControlRequest(command: .query, filter: filter, limit: limit))
        let records = try options.require(response.records, "records")
        try options.printer.emit(records) { Self.text(records, limit: limit) }
    }

    /// The table and a count line (noting a reached `--limit`).
    static func text(_ records: [RecordView], limit: Int?) -> String {
        var table = TextTable([
            TextTable.Column(""), TextTable.Column("KEY"), TextTable.Column("VALUE_USD", .right),
            TextTable.Column("NET_WEIGHT_KG", .right), TextTable.Column("QTY", .right), TextTable.Column("QTY_UNIT"),
            TextTable.Column("FLAGS"),
        ])
        for record in records {
            let values = record.values
            var flags = values.map { Format.flags($0.flags) } ?? Format.absent
            if record.deleted { flags = "deleted" }
            table.append([
                record.conflict ? "!" : "", record.key, Format.decimal(values?.valueUSD),
                Format.decimal(values?.netWeightKg), Format.decimal(values?.quantity),
                values.map { $0.quantityUnit.isEmpty ? Format.absent : $0.quantityUnit } ?? Format.absent, flags,
            ])
        }
        let conflicts = records.filter(\.conflict).count
        var count = records.count == 1 ? "1 record" : "\(records.count) records"
        if conflicts > 0 { count += " (\(conflicts) in conflict)" }
        if let limit, records.count >= limit { count += "; limit \(limit) reached, raise --limit for more" }
        return records.isEmpty ? count : table.rendered + "\n" + count
    }
}
