#if canImport(Glibc)
import Glibc
#endif

/// Where `export` writes: stdout, or a file replaced atomically.
///
/// A file is written as `FILE.tmp-PID` beside it, fsynced, then renamed over `FILE` (and
/// the directory fsynced), so `FILE` is either the old file or the whole new export, never
/// a part. ``discard()`` removes the temporary file after a failure. Writes are buffered
/// up to ``bufferBytesMax``.
struct ExportSink {
    /// Bytes buffered before a `write(2)`.
    static let bufferBytesMax = 1 << 20

    /// The file being replaced; nil for stdout.
    let path: String?
    private let temporaryPath: String?
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var isClosed = false
    /// Bytes handed to ``write(_:)`` so far.
    private(set) var bytesWritten = 0

    /// Stdout, or a new temporary file beside `path`.
    /// - Throws: ``CLIFailure`` (exit 2) when the temporary file cannot be created.
    init(path: String?) throws(CLIFailure) {
        self.path = path
        if let path {
            let temporary = "\(path).tmp-\(getpid())"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Self.failure(temporary, "cannot create") }
            temporaryPath = temporary
            descriptor = fd
        } else {
            temporaryPath = nil
            descriptor = 1
        }
        buffer.reserveCapacity(Self.bufferBytesMax)
    }

    /// What the summary calls the output: the file, or `-` for stdout.
    var name: String { path ?? "-" }

    /// Appends `text` and a line feed. - Throws: ``CLIFailure`` (exit 2) when a write fails.
    mutating func writeLine(_ text: String) throws(CLIFailure) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        bytesWritten += text.utf8.count + 1
        if buffer.count >= Self.bufferBytesMax { try flush() }
    }

    /// Writes the buffer out. - Throws: ``CLIFailure`` (exit 2) when a write fails.
    mutating func flush() throws(CLIFailure) {
        var offset = 0
        while offset < buffer.count {  // bound: each pass writes at least one byte or throws
            let written = buffer[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw Self.failure(temporaryPath ?? "stdout", "cannot write") }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes; for a file, fsyncs it, renames it over ``path`` and fsyncs the directory.
    /// - Throws: ``CLIFailure`` (exit 2); the temporary file is then removed.
    mutating func commit() throws(CLIFailure) {
        do throws(CLIFailure) {
            try flush()
            guard let path, let temporaryPath else { return }
            guard fsync(descriptor) == 0 else { throw Self.failure(temporaryPath, "cannot fsync") }
            isClosed = true
            guard close(descriptor) == 0 else { throw Self.failure(temporaryPath, "cannot close") }
            guard rename(temporaryPath, path) == 0 else { throw Self.failure(path, "cannot rename \(temporaryPath) to") }
            var directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if directory.isEmpty { directory = path.hasPrefix("/") ? "/" : "." }
            let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directoryFD >= 0 {
                _ = fsync(directoryFD)
                close(directoryFD)
            }
        } catch {
            discard()
            throw error
        }
    }

    /// Removes the temporary file (after a failure); nothing for stdout.
    mutating func discard() {
        guard let temporaryPath else { return }
        if !isClosed { close(descriptor) }
        isClosed = true
        unlink(temporaryPath)
    }

    private static func failure(_ path: String, _ what: String) -> CLIFailure {
        CLIFailure(.invalidInput, "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
