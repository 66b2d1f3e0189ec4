import ArgumentParser
import TradeSyncClock
import TradeSyncControl

/// `tradesync id`: this node's ID in the forms people compare and type.
struct IdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id",
        abstract: "Print this node's ID: the full form with its check symbol, the short form, and hex.",
        discussion: """
            The node ID is the SHA-256 of the node's Ed25519 public key. The full form is its \
            52 Crockford base32 digits and a check symbol (a mistyped or swapped digit is \
            caught); the short form is the first 10 bytes as 16 digits in groups of four, with \
            their check symbol. --json prints {"id", "short", "hex"}.
            """)

    @OptionGroup var options: GlobalOptions

    struct Output: Codable {
        let id: String
        let short: String
        let hex: String
    }

    func run() throws(CLIFailure) {
        let response = try options.call(ControlRequest(command: .status))
        let status = try options.require(response.status, "status")
        guard let node = NodeID(hex: status.nodeID) else {
            throw CLIFailure(.refused, "the node reported a node ID that is not 64 hex digits: \(status.nodeID)")
        }
        let output = Output(id: NodeIDText.full(node), short: NodeIDText.short(node), hex: node.hex)
        try options.printer.emit(output) { "\(output.id)\nshort  \(output.short)\nhex    \(output.hex)" }
    }
}
