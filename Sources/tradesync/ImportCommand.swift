import ArgumentParser
import TradeSyncControl
import TradeSyncImport

/// `tradesync import FILE`: parse a trade file here and send its good records to the node.
///
/// Rows that cannot be imported abort the import (exit 2, nothing sent) unless
/// `--skip-invalid` is given; then every skipped row is reported on stderr as
/// `FILE:LINE: reason` and the rest is sent in chunks of ``chunkRecordsDefault`` records,
/// one request (one append and fsync on the node) each, while the file is still being
/// parsed (``ImportSender``). An import cut short between chunks keeps the chunks sent so
/// far (with `--skip-invalid` that includes a file found damaged beyond a row, such as an
/// unterminated quote, after some chunks went); running it again sends everything, and the
/// node skips the records it already holds with the same values (counted as `unchanged`).
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a trade file (Comtrade legacy/Plus CSV, Comtrade API JSON, TradeSync CSV or JSON Lines).",
        discussion: """
            The format is detected from the file's header or first bytes, never its name. \
            Without --skip-invalid the whole file is parsed first: rows that cannot be stored \
            refuse it whole (exit 2, nothing sent). With it, the good records go to the node \
            in chunks of 50000 (one fsync each) while the rest of the file is parsed, and a \
            file found damaged midway (an unterminated quote) keeps the chunks sent before. \
            An import interrupted midway can simply be run again: records the node already \
            holds are skipped (counted as unchanged).
            """)

    /// Most rejected rows listed when the import is refused; the rest are counted.
    static let rejectedShownMax = 20
    /// Records per control request (about 2.5 MB of blob; one append and fsync each).
    static let chunkRecordsDefault = 50_000

    @OptionGroup var options: GlobalOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Argument(help: ArgumentHelp("The trade file.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Import the valid rows and report each invalid one, instead of refusing the file.")
    var skipInvalid = false

    /// Records per request; for tests that need several chunks from a small file.
    @Option(name: .long, help: .hidden)
    var chunkRecords = ImportCommand.chunkRecordsDefault

    func validate() throws {
        guard chunkRecords >= 1 else { throw ValidationError("--chunk-records must be at least 1") }
    }

    func run() throws(CLIFailure) {
        let clock = ContinuousClock()
        let start = clock.now
        let showProgress = progressOptions.enabled(json: options.json)
        var parsing = ProgressBar(label: "parsing", unit: "bytes", total: 0, enabled: showProgress)
        // With --skip-invalid every good row goes to the node anyway: chunks are sent while
        // the rest of the file is parsed. Without it, nothing is sent before the whole file
        // is known to be good.
        let sender = skipInvalid ? ImportSender(controlPath: options.controlPath, file: file) : nil
        let stream = sender.map { sender in
            RowStream(blockRows: chunkRecords) { records, rowsExpected in sender.send(records, rowsExpected: rowsExpected) }
        }
        let report: ImportReport
        do {
            report = try TradeFileImporter.read(path: file, progress: { parsing.update(done: $0, total: $1) }, stream: stream)
        } catch {
            parsing.clear()
            if let sender {
                let outcome = sender.finish { _ in }
                Self.diagnoseSent(outcome.acknowledged, of: nil, then: "fix the file and run the import again")
                if let failure = outcome.failure { Printer.diagnose(["tradesync: sending failed too: \(failure.message)"]) }
            }
            throw CLIFailure(error)
        }
        parsing.finish(always: false)
        guard report.rejected.isEmpty || skipInvalid else { throw refusal(report) }
        Printer.diagnose(report.rejected.map(\.description))

        var sending = ProgressBar(label: "importing", unit: "records", total: report.rows.count, enabled: showProgress)
        let result: ImportResult
        // A file of less than one chunk (a day's edits) goes as one request from here, as
        // without --skip-invalid: no sender thread for it.
        if let sender, sender.queued > 0 {
            // The rows after the last whole chunk, with the rejected count (node metrics).
            let queued = sender.queued
            sender.send(report.rows[queued...].map(\.record), rejectedRows: report.rejected.count)
            let outcome = sender.finish { sending.update(done: $0) }
            if let failure = outcome.failure {
                sending.clear()
                Self.diagnoseSent(outcome.acknowledged, of: report.rows.count, then: "run the import again to finish it")
                throw failure
            }
            result = outcome.result
        } else {
            result = try sendAll(report, progress: &sending)
        }
        sending.update(done: report.rows.count)
        sending.finish(always: report.rows.count > chunkRecords)
        let summary = ImportSummary(
            report: report, result: result, seconds: Format.seconds(start.duration(to: clock.now)))
        try options.printer.emit(summary) { summary.text }
    }

    /// Sends the parsed file's records in chunks, one request at a time.
    private func sendAll(_ report: ImportReport, progress sending: inout ProgressBar) throws(CLIFailure) -> ImportResult {
        let records = report.rows.map(\.record)
        // With the first chunk only: the rows skipped as invalid (node metrics) and the
        // records to come (the node makes room for their keys once).
        var request = ControlRequest(
            command: .importRecords, file: file, rejectedRows: report.rejected.count, importTotal: records.count)
        var result = ImportResult(file: file, received: 0, written: 0, unchanged: 0)
        var sent = 0
        repeat {  // bound: each pass sends up to chunkRecords records; one pass for an empty file
            let chunk = Array(records[sent..<min(records.count, sent + chunkRecords)])
            let response: ControlResponse
            do { response = try options.call(request, blob: ControlFrame.encodeRecords(chunk)) } catch {
                sending.clear()
                Self.diagnoseSent(sent, of: records.count, then: "run the import again to finish it")
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
        return result
    }

    /// Says how many records the node holds from an import that failed midway, if any.
    /// - Parameters:
    ///   - sent: records the node acknowledged.
    ///   - total: the file's good rows, when the whole file was parsed.
    ///   - then: what to do next.
    private static func diagnoseSent(_ sent: Int, of total: Int?, then: String) {
        guard sent > 0 else { return }
        let of = total.map { " of \($0)" } ?? ""
        Printer.diagnose([
            "tradesync: \(sent)\(of) records were sent before this failure; \(then) (records already held are skipped)"
        ])
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
