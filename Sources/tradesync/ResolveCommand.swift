import ArgumentParser
import TradeSyncControl

/// `tradesync resolve KEY (--pick DOT | field=value…)`: end a conflict with one write
/// that supersedes every sibling.
struct ResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Resolve a conflict: keep one sibling (--pick DOT) or write new values (field=value…).",
        discussion: "Exactly one of the two forms. DOT is a sibling's dot as get or conflicts shows it.")

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("REPORTER:PARTNER:FLOW:COMMODITY:PERIOD[:CUSTOMS:TRANSPORT]", valueName: "key"))
    var key: String

    @Option(help: ArgumentHelp("Keep the sibling with this dot (SHORTID:SEQ).", valueName: "dot"))
    var pick: String?

    @Argument(help: ArgumentHelp("New values instead of --pick.", valueName: "field=value"))
    var assignments: [String] = []

    func run() throws(CLIFailure) {
        let canonical = try CommandInput.key(key)
        let request: ControlRequest
        switch (pick, assignments.isEmpty) {
        case (let pick?, true):
            request = ControlRequest(command: .resolve, key: canonical, pick: try CommandInput.dot(pick))
        case (nil, false):
            let fields = try CommandInput.assignments(assignments)
            request = ControlRequest(command: .resolve, key: canonical, fields: fields)
        case (.some, false):
            throw CLIFailure(.invalidInput, "resolve takes --pick DOT or field=value…, not both")
        case (nil, true):
            throw CLIFailure(.invalidInput, "resolve needs --pick DOT or field=value… (see tradesync conflicts)")
        }
        let response = try options.call(request)
        let write = try options.require(response.write, "write result")
        try options.printer.emit(write) { "resolved \(write.key): dot \(write.dot) hlc \(write.hlc)" }
    }
}
