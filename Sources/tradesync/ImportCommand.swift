import ArgumentParser
import TradeSyncControl
import TradeSyncImport

/// `tradesync import FILE`: parse a trade file here and send its good records to the node.
///
/// Rows that cannot be imported abort the import (exit 2, nothing sent) unless
/// `--skip-invalid` is given; then every skipped row is reported on stderr as
/// `FILE:LINE: reason` and the rest is sent in chunks of ``chunkRecords`` records, one
/// request (one append and fsync on the node) each. An import cut short between chunks
/// keeps the chunks sent so far; running it again sends everything, and the node skips
/// the records it already holds with the same values (counted as `unchanged`).
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a trade file (Comtrade legacy/Plus CSV, Comtrade API JSON, TradeSync CSV or JSON Lines).",
        discussion: """
            The format is detected from the file's header or first bytes, never its name. The \
            whole file is parsed first: rows that cannot be stored refuse it whole (exit 2, \
            nothing sent) unless --skip-invalid. The good records then go to the node in chunks \
            of 50000 (one fsync each); an import interrupted midway can simply be run again: \
            records the node already holds are skipped (counted as unchanged).
            """)

    /// Most rejected rows listed when the import is refused; the rest are counted.
    static let rejectedShownMax = 20
    /// Records per control request (about 2.5 MB of blob; one append and fsync each).
    static let chunkRecords = 50_000

    @OptionGroup var options: GlobalOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Argument(help: ArgumentHelp("The trade file.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Import the valid rows and report each invalid one, instead of refusing the file.")
    var skipInvalid = false

    func run() throws(CLIFailure) {
        let clock = ContinuousClock()
        let start = clock.now
        let showProgress = progressOptions.enabled(json: options.json)
        var parsing = ProgressBar(label: "parsing", unit: "bytes", total: 0, enabled: showProgress)
        let report: ImportReport
        do {
            report = try TradeFileImporter.read(path: file) { done, total in parsing.update(done: done, total: total) }
        } catch {
            parsing.clear()
            throw CLIFailure(error)
        }
        parsing.finish(always: false)
        guard report.rejected.isEmpty || skipInvalid else { throw refusal(report) }
        Printer.diagnose(report.rejected.map(\.description))

        let records = report.rows.map(\.record)
        // With the first chunk only: the rows skipped as invalid (node metrics) and the
        // records to come (the node makes room for their keys once).
        var request = ControlRequest(
            command: .importRecords, file: file, rejectedRows: report.rejected.count, importTotal: records.count)
        var sending = ProgressBar(label: "importing", unit: "records", total: records.count, enabled: showProgress)
        var result = ImportResult(file: file, received: 0, written: 0, unchanged: 0)
        var sent = 0
        repeat {  // bound: each pass sends up to chunkRecords records; one pass for an empty file
            let chunk = Array(records[sent..<min(records.count, sent + Self.chunkRecords)])
            let response: ControlResponse
            do { response = try options.call(request, blob: ControlFrame.encodeRecords(chunk)) } catch {
                sending.clear()
                if sent > 0 {
                    Printer.diagnose([
                        "tradesync: \(sent) of \(records.count) records were sent before this failure; "
                            + "run the import again to finish it (records already held are skipped)"
                    ])
                }
                throw error
            }
            request.rejectedRows = nil
            request.importTotal = nil
            let part = try options.require(response.importResult, "import result")
            result.received += part.received
            result.written += part.written
            result.unchanged += part.unchanged
            sent += chunk.count
            sending.update(done: sent)
        } while sent < records.count
        sending.finish(always: records.count > Self.chunkRecords)
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
