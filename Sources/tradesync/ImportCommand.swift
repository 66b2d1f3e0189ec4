import ArgumentParser
import TradeSyncControl
import TradeSyncImport

/// `tradesync import FILE`: parse a trade file here and send its good records to the node.
///
/// Rows that cannot be imported abort the import (exit 2, nothing sent) unless
/// `--skip-invalid` is given; then every skipped row is reported on stderr as
/// `FILE:LINE: reason` and the rest is sent as one request.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a trade file (Comtrade legacy/Plus CSV, Comtrade API JSON, TradeSync CSV).",
        discussion: "The format is detected from the file's header or first bytes, never its name.")

    /// Most rejected rows listed when the import is refused; the rest are counted.
    static let rejectedShownMax = 20

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("The trade file.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Import the valid rows and report each invalid one, instead of refusing the file.")
    var skipInvalid = false

    func run() throws(CLIFailure) {
        let clock = ContinuousClock()
        let start = clock.now
        let report: ImportReport
        do {
            report = try TradeFileImporter.read(path: file)
        } catch {
            throw CLIFailure(error)
        }
        guard report.rejected.isEmpty || skipInvalid else { throw refusal(report) }
        Printer.diagnose(report.rejected.map(\.description))

        let records = report.rows.map(\.record)
        let request = ControlRequest(command: .importRecords, file: file, rejectedRows: report.rejected.count)
        let response = try options.call(request, blob: ControlFrame.encodeRecords(records))
        let result = try options.require(response.importResult, "import result")
        let summary = ImportSummary(
            report: report, result: result, seconds: Format.seconds(start.duration(to: clock.now)))
        try options.printer.emit(summary) { summary.text }
    }

    /// Lists the first ``rejectedShownMax`` rejected rows on stderr and returns the failure
    /// (exit 2) whose line says nothing was imported.
    private func refusal(_ report: ImportReport) -> CLIFailure {
        var lines = report.rejected.prefix(Self.rejectedShownMax).map(\.description)
        if report.rejected.count > Self.rejectedShownMax {
            lines.append("… and \(report.rejected.count - Self.rejectedShownMax) more")
        }
        Printer.diagnose(lines)
        let invalid = report.rejected.count == 1 ? "1 invalid row" : "\(report.rejected.count) invalid rows"
        return CLIFailure(
            .invalidInput,
            "\(report.file): \(invalid) of \(report.rowsRead); nothing was imported "
                + "(use --skip-invalid to import the \(report.rows.count) valid rows)")
    }
}

/// What `import` prints: the file's counts from the importer and the node's write counts.
struct ImportSummary: Encodable {
    let file: String
    let format: String
    let rowsRead: Int
    let written: Int
    let unchanged: Int
    let skipped: Int
    let duplicatesCollapsed: Int
    /// Every skipped row, `FILE:LINE: reason`.
    let rejected: [String]
    /// Wall time of parse and send, in seconds.
    let seconds: Double

    init(report: ImportReport, result: ImportResult, seconds: Double) {
        file = report.file
        format = report.format.rawValue
        rowsRead = report.rowsRead
        written = result.written
        unchanged = result.unchanged
        skipped = report.rejected.count
        duplicatesCollapsed = report.duplicatesCollapsed
        rejected = report.rejected.map(\.description)
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case file, format, written, unchanged, skipped, rejected, seconds
        case rowsRead = "rows_read", duplicatesCollapsed = "duplicates_collapsed"
    }

    /// The text form: a label block with rows/s.
    var text: String {
        let rate = seconds > 0 ? Format.fixed(Double(rowsRead) / seconds, digits: 0) : "∞"
        return "imported \(file) (\(format))\n"
            + labelled(
                [
                    ("rows read", "\(rowsRead)"),
                    ("imported", "\(written)"),
                    ("unchanged", "\(unchanged)"),
                    ("skipped", "\(skipped)"),
                    ("duplicates collapsed", "\(duplicatesCollapsed)"),
                    ("elapsed", "\(Format.fixed(seconds, digits: 2)) s (\(rate) rows/s)"),
                ], indent: "  ")
    }
}
