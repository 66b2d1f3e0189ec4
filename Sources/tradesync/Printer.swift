#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// Writes a command's result: text for people, or with `--json` the wire type as JSON.
///
/// JSON is pretty-printed with sorted keys and unescaped slashes, so output is stable and
/// diffable. Results go to stdout; diagnostics (rejected rows, the failure line) go to
/// stderr, written with `write(2)` so no shared C `FILE*` is touched.
struct Printer: Sendable {
    /// True for `--json`.
    let json: Bool

    /// Prints `value` as JSON, or the text `text()` returns.
    /// - Throws: ``CLIFailure`` if the value cannot be encoded (never for our types).
    func emit<Value: Encodable>(_ value: Value, text: () -> String) throws(CLIFailure) {
        if json {
            print(try Self.encodeJSON(value))
        } else {
            print(text())
        }
    }

    /// The JSON text of `value`: pretty-printed, sorted keys, slashes unescaped.
    /// - Throws: ``CLIFailure`` (exit 3) when encoding fails.
    static func encodeJSON<Value: Encodable>(_ value: Value) throws(CLIFailure) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw CLIFailure(.unreachable, "cannot encode the answer as JSON: \(error)")
        }
    }

    /// The JSON text of `value` on one line (JSON Lines): sorted keys, slashes unescaped.
    /// - Throws: ``CLIFailure`` (exit 3) when encoding fails.
    static func encodeJSONLine<Value: Encodable>(_ value: Value) throws(CLIFailure) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw CLIFailure(.unreachable, "cannot encode the answer as JSON: \(error)")
        }
    }

    /// Writes `lines` to stderr, each followed by a newline, in one buffered pass.
    static func diagnose(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        var text = lines.joined(separator: "\n")
        text.append("\n")
        writeAll(fileDescriptor: 2, Array(text.utf8))
    }

    /// Prints the one failure line `tradesync: <reason>` on stderr.
    static func fail(_ failure: CLIFailure) {
        diagnose(["tradesync: \(failure.message)"])
    }

    private static func writeAll(fileDescriptor: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fileDescriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }  // stderr closed: nothing useful left to do
            offset += written
        }
    }
}
