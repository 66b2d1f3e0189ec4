import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Small state files beside the log (peer book, fork evidence, the amnesia guard),
/// replaced atomically: the new contents go to `PATH.tmp`, which is fsynced, renamed over
/// `PATH`, and the directory fsynced. A crash leaves either the old file or the new one,
/// never a torn mix (POSIX `rename(2)` is atomic; the fsyncs order it with the data).
public enum AtomicFile {
    /// Replaces `path` with `contents` (mode 0640), through the log's own atomic create
    /// (``LogFile/createAtomically(_:temporaryPath:contents:directory:)``).
    /// - Throws: ``LogError/io(file:operation:errno:)`` naming the file and the failed call.
    public static func write(_ path: String, contents: [UInt8]) throws(LogError) {
        let parent = FilePath(path).removingLastComponent()
        let directory = try LogDirectory.open(parent.isEmpty ? "." : parent.string)
        defer { directory.close() }
        try LogFile.createAtomically(path, temporaryPath: path + ".tmp", contents: contents, directory: directory)
    }

    /// The whole contents of `path`, or nil when it does not exist.
    /// - Throws: ``LogError/io(file:operation:errno:)`` for any other failure.
    public static func read(_ path: String) throws(LogError) -> [UInt8]? {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        } catch let error as Errno where error == .noSuchFileOrDirectory {
            return nil
        } catch {
            throw .io(file: path, operation: "open", errno: (error as? Errno)?.rawValue ?? EIO)
        }
        defer { try? descriptor.close() }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count: Int
            do { count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) } } catch {
                throw .io(file: path, operation: "read", errno: (error as? Errno)?.rawValue ?? EIO)
            }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
        }
    }
}
