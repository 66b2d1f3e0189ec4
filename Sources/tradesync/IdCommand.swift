import ArgumentParser
import Crypto
import FoundationEssentials
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
            their check symbol. --json prints {"id", "short", "hex"}. With --data-dir DIR the \
            ID is read offline from DIR/node.key (no daemon needed; the key is never made \
            here: `tradesyncd --print-id` makes it).
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Read the node key from this data directory instead of asking the node.", valueName: "dir"))
    var dataDir: String?

    struct Output: Codable {
        let id: String
        let short: String
        let hex: String
    }

    func run() throws(CLIFailure) {
        if let dataDir {
            let node = try Self.nodeID(dataDir: dataDir)
            let output = Output(id: NodeIDText.full(node), short: NodeIDText.short(node), hex: node.hex)
            try options.printer.emit(output) { "\(output.id)\nshort  \(output.short)\nhex    \(output.hex)" }
            return
        }
        let response = try options.call(ControlRequest(command: .status))
        let status = try options.require(response.status, "status")
        guard let node = NodeID(hex: status.nodeID) else {
            throw CLIFailure(.refused, "the node reported a node ID that is not 64 hex digits: \(status.nodeID)")
        }
        let output = Output(id: NodeIDText.full(node), short: NodeIDText.short(node), hex: node.hex)
        try options.printer.emit(output) { "\(output.id)\nshort  \(output.short)\nhex    \(output.hex)" }
    }
}

extension IdCommand {
    /// The node ID of `DIR/node.key` (32 raw Ed25519 private-key bytes): SHA-256 of the
    /// public key, as the daemon computes it.
    /// - Throws: ``CLIFailure`` (exit 1) naming the file when it is missing or malformed.
    static func nodeID(dataDir: String) throws(CLIFailure) -> NodeID {
        let path = dataDir + "/node.key"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure(.refused, "\(path): cannot read the node key (start the node once, or run tradesyncd --print-id --data-dir \(dataDir))")
        }
        guard data.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: data) else {
            throw CLIFailure(.refused, "\(path): expected a 32-byte Ed25519 key, found \(data.count) bytes")
        }
        guard let id = NodeID(bytes: Array(SHA256.hash(data: key.publicKey.rawRepresentation))) else {
            throw CLIFailure(.refused, "\(path): SHA-256 did not give 32 bytes")
        }
        return id
    }
}
