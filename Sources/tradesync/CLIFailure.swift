import TradeSyncControl
import TradeSyncImport
import TradeSyncModel

/// A command that failed: its ``ExitCode`` and the one-line reason that the root command
/// prints as `tradesync: <reason>`.
///
/// Commands throw only this type from `run()`, so every failure path has a code.
struct CLIFailure: Error, Sendable, CustomStringConvertible {
    /// The process exit code.
    let code: ExitCode
    /// The reason, one line (newlines are folded to spaces).
    let message: String

    /// Creates a failure; `message` is folded to one line.
    init(_ code: ExitCode, _ message: String) {
        self.code = code
        self.message = String(message.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }

    /// The node could not be reached or answered nonsense: exit 3.
    init(_ error: ControlClientError) {
        self.init(.unreachable, error.description)
    }

    /// A key, field, period or dot given on the command line is invalid: exit 2.
    init(_ error: FieldError) {
        self.init(.invalidInput, error.description)
    }

    /// A trade file cannot be imported at all: exit 2.
    init(_ error: ImportError) {
        self.init(.invalidInput, error.description)
    }

    /// The node answered `ok: false`. `invalid` is exit 2; `not_found`, `refused`,
    /// `internal` and unknown codes are exit 1.
    /// - Parameter notFound: the message to use instead of the node's for `not_found`.
    static func node(_ response: ControlResponse, notFound: String? = nil) -> CLIFailure {
        let reason = response.error ?? "the node refused the request"
        switch response.errorCode {
        case "invalid": return CLIFailure(.invalidInput, reason)
        case "not_found": return CLIFailure(.refused, notFound ?? reason)
        default: return CLIFailure(.refused, reason)
        }
    }

    /// The node said `ok` but left out the part this command needs: exit 3.
    static func missing(_ part: String, path: String) -> CLIFailure {
        CLIFailure(ControlClientError.protocolError(path: path, reason: "the node's answer has no \(part)"))
    }

    var description: String { message }
}
