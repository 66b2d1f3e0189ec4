import ArgumentParser
import FoundationEssentials
import TradeSyncControl

/// The options every command takes: where the node's control socket is, and `--json`.
struct GlobalOptions: ParsableArguments {
    /// The socket used when neither `--control` nor `TRADESYNC_CONTROL` is given.
    static let controlPathDefault = "./tradesync-data/control.sock"
    /// The environment variable naming the control socket.
    static let controlEnvironmentName = "TRADESYNC_CONTROL"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The node's control socket (default: $TRADESYNC_CONTROL, else \(controlPathDefault)).",
            valueName: "path"))
    var control: String?

    @Flag(name: .long, help: "Print the result as JSON (pretty-printed, sorted keys).")
    var json = false

    /// The socket path after applying the defaults.
    var controlPath: String {
        if let control, !control.isEmpty { return control }
        if let fromEnvironment = ProcessInfo.processInfo.environment[Self.controlEnvironmentName],
            !fromEnvironment.isEmpty
        {
            return fromEnvironment
        }
        return Self.controlPathDefault
    }

    /// The printer for this invocation's output form.
    var printer: Printer { Printer(json: json) }

    /// Sends one request to the node and returns its answer when it is `ok`.
    /// - Parameter notFound: the message for a `not_found` answer (default: the node's).
    /// - Throws: ``CLIFailure``: exit 3 when the node cannot be reached, else the code
    ///   for the node's `error_code` (see ``CLIFailure/node(_:notFound:)``).
    func call(_ request: ControlRequest, blob: [UInt8] = [], notFound: String? = nil) throws(CLIFailure)
        -> ControlResponse
    {
        try Self.call(controlPath, request, blob: blob, notFound: notFound)
    }

    /// ``call(_:blob:notFound:)`` to the socket at `path`, for callers off the command's
    /// thread (``ImportSender``). - Throws: as ``call(_:blob:notFound:)``.
    static func call(_ path: String, _ request: ControlRequest, blob: [UInt8], notFound: String? = nil)
        throws(CLIFailure) -> ControlResponse
    {
        let response: ControlResponse
        do {
            response = try ControlClient(path: path).send(request, blob: blob)
        } catch {
            throw CLIFailure(error)
        }
        guard response.ok else { throw CLIFailure.node(response, notFound: notFound) }
        return response
    }

    /// Unwraps the part of an `ok` answer a command needs.
    /// - Throws: ``CLIFailure`` (exit 3) when the node left it out.
    func require<Part>(_ part: Part?, _ name: String) throws(CLIFailure) -> Part {
        guard let part else { throw CLIFailure.missing(name, path: controlPath) }
        return part
    }
}
