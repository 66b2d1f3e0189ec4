import ArgumentParser
import TradeSyncClock
import TradeSyncControl
import TradeSyncImport
import TradeSyncModel
import TradeSyncReplica

extension ExportFormat: ExpressibleByArgument {}

/// `tradesync export --format csv|jsonl [--output FILE]`: every live record, in a layout
/// `tradesync import` reads back to the same records.
///
/// Pages of records come from the node (`export` control command, a key cursor, at most
/// `--page-size` records each), so a million records never make one huge frame. The
/// export is not a snapshot: a write that lands while it runs may or may not be in it;
/// the summary's content digest is that of the records written, and a warning says so
/// when the node's content digest differs at the end.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every live record as TradeSync CSV or JSON Lines (import reads it back).",
        discussion: """
            Writes the winner of every key whose winner is a put, in key order: deleted keys are \
            left out; a key in conflict exports its winner (the one `get` marks *) and is counted. \
            Re-importing the export into an empty node gives the same content_digest (see status); \
            into this node it writes nothing. Writes to stdout, or atomically to --output FILE \
            (a temporary file renamed over it). The summary goes to stderr (records, conflicts, \
            content digest); with --json it is a JSON object {"records", "conflicts", \
            "content_digest", "format", "output", "seconds", "round_trip_problems"}, on stdout \
            with --output, else on stderr.
            """)

    /// Rejected-row style warnings listed for records that would not import back as
    /// themselves; the rest are counted.
    static let problemsShownMax = 20

    @OptionGroup var options: GlobalOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Option(help: ArgumentHelp("csv (TradeSync CSV) or jsonl (JSON Lines).", valueName: "format"))
    var format: ExportFormat

    @Option(name: [.short, .long], help: ArgumentHelp("Write to this file (atomically) instead of stdout.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Records per request to the node (1...100000).", valueName: "n"))
    var pageSize = 20_000

    func validate() throws {
        guard (1...100_000).contains(pageSize) else { throw ValidationError("--page-size must be 1...100000") }
        if let output, output.isEmpty || output.hasSuffix("/") { throw ValidationError("--output needs a file name") }
    }

    func run() throws(CLIFailure) {
        let clock = ContinuousClock()
        let start = clock.now
        let expected = try options.require(options.call(ControlRequest(command: .status)).status, "status").records
        var sink = try ExportSink(path: output)
        var bar = ProgressBar(
            label: "exporting", unit: "records", total: expected, enabled: progressOptions.enabled(json: options.json))
        var tally = ExportTally()
        if output != nil { Interrupt.install() }  // Ctrl-C: remove the temporary file first
        do {
            if format == .csv { try sink.writeLine(TradeRecordWriter.csvHeader) }
            try exportPages(into: &sink, tally: &tally, bar: &bar)
            try sink.commit()
        } catch {
            bar.clear()
            sink.discard()
            if Interrupt.interrupted { Interrupt.reraise() }
            throw error
        }
        bar.finish()
        let nodeDigest = try? options.call(ControlRequest(command: .status)).status?.contentDigest
        let summary = ExportSummary(
            tally: tally, format: format, output: sink.name, seconds: Format.seconds(start.duration(to: clock.now)))
        var notes = tally.problems.prefix(Self.problemsShownMax).map { "tradesync: warning: \($0)" }
        if tally.problems.count > Self.problemsShownMax {
            notes.append("tradesync: warning: … and \(tally.problems.count - Self.problemsShownMax) more records that would not import back as themselves")
        }
        if let nodeDigest, nodeDigest != summary.contentDigest {
            notes.append(
                "tradesync: warning: the node's content digest is now \(nodeDigest): it changed while the export ran")
        }
        Printer.diagnose(notes)
        if options.json {
            let json = try Printer.encodeJSON(summary)
            if output == nil { Printer.diagnose([json]) } else { print(json) }
        } else {
            Printer.diagnose([summary.text])
        }
    }

    /// Fetches pages until the node says there is no more, writing each record.
    private func exportPages(into sink: inout ExportSink, tally: inout ExportTally, bar: inout ProgressBar)
        throws(CLIFailure)
    {
        var cursor: TradeKey?
        repeat {  // bound: every page moves the cursor forward over a finite key space
            var request = ControlRequest(command: .export, limit: pageSize)
            request.cursor = cursor?.description
            let (response, blob) = try exchange(request)
            let page = try options.require(response.export, "export page")
            let records: [TradeRecord]
            do { records = try ControlFrame.decodeRecords(blob) } catch {
                throw CLIFailure(ControlClientError.protocolError(path: options.controlPath, reason: error.description))
            }
            guard records.count == page.records else {
                throw CLIFailure.missing("the \(page.records) records it announced (got \(records.count))", path: options.controlPath)
            }
            for record in records {
                try tally.add(record, path: options.controlPath)
                try sink.writeLine(TradeRecordWriter.line(record, format: format))
            }
            tally.conflicts += page.conflicts
            bar.update(done: tally.digester.count)
            if Interrupt.interrupted { throw CLIFailure(.refused, "interrupted") }
            guard let nextText = page.next else { return }
            guard let next = try? TradeKey(parsing: nextText), cursor.map({ $0 < next }) ?? true else {
                throw CLIFailure.missing("a cursor past \(cursor?.description ?? "the start") (got \(nextText))", path: options.controlPath)
            }
            cursor = next
        } while true
    }

    private func exchange(_ request: ControlRequest) throws(CLIFailure) -> (ControlResponse, [UInt8]) {
        let answer: (response: ControlResponse, blob: [UInt8])
        do { answer = try ControlClient(path: options.controlPath).exchange(request) } catch { throw CLIFailure(error) }
        guard answer.response.ok else { throw CLIFailure.node(answer.response) }
        return answer
    }
}

/// What an export has written so far.
struct ExportTally {
    var digester = ContentDigester()
    var conflicts = 0
    /// One line per record that would not import back as itself.
    var problems: [String] = []
    private var last: TradeKey?

    /// Counts `record` into the digest.
    /// - Throws: ``CLIFailure`` (exit 3) when the node sent keys out of order.
    mutating func add(_ record: TradeRecord, path: String) throws(CLIFailure) {
        if let last, !(last < record.key) {
            throw CLIFailure.missing("keys in ascending order (\(record.key) came after \(last))", path: path)
        }
        last = record.key
        digester.add(record)
        if let problem = TradeRecordWriter.roundTripProblem(record) { problems.append("\(record.key): \(problem)") }
    }
}

/// The export summary (stderr, or JSON).
struct ExportSummary: Encodable {
    let records: Int
    let conflicts: Int
    let contentDigest: String
    let format: String
    /// The file written, or `-` for stdout.
    let output: String
    let seconds: Double
    /// Records that would not import back as themselves (listed as warnings).
    let roundTripProblems: Int

    init(tally: ExportTally, format: ExportFormat, output: String, seconds: Double) {
        records = tally.digester.count
        conflicts = tally.conflicts
        contentDigest = Hex.encode(tally.digester.finalize())
        self.format = format.rawValue
        self.output = output
        self.seconds = seconds
        roundTripProblems = tally.problems.count
    }

    enum CodingKeys: String, CodingKey {
        case records, conflicts, format, output, seconds
        case contentDigest = "content_digest", roundTripProblems = "round_trip_problems"
    }

    var text: String {
        let rate = seconds > 0 ? Format.fixed(Double(records) / seconds, digits: 0) : "∞"
        return "exported \(records) records (\(format)) to \(output == "-" ? "stdout" : output)\n"
            + labelled(
                [
                    ("conflicts", "\(conflicts) (keys in conflict: their winner was exported)"),
                    ("content digest", contentDigest),
                    ("elapsed", "\(Format.fixed(seconds, digits: 2)) s (\(rate) records/s)"),
                ], indent: "  ")
    }
}
