import ArgumentParser
import TradeSyncControl

/// `tradesync delete KEY`: write a tombstone for a key.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a record (writes a tombstone that replicates like any write).")

    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("REPORTER:PARTNER:FLOW:COMMODITY:PERIOD[:CUSTOMS:TRANSPORT]", valueName: "key"))
    var key: String

    func run() throws(CLIFailure) {
        let canonical = try CommandInput.key(key)
        let response = try options.call(ControlRequest(command: .delete, key: canonical))
        let write = try options.require(response.write, "write result")
        try options.printer.emit(write) { "deleted \(write.key): tombstone dot \(write.dot) hlc \(write.hlc)" }
    }
}
