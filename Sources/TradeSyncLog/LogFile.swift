import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Most consecutive `EINTR` retries of one `fsync` before giving up with `EINTR`.
let fsyncInterruptRetriesMax = 64

/// One open log file: a `FileDescriptor` plus its path, with every call mapped to
/// ``LogError``. Offsets and sizes are in bytes from the start of the file.
///
/// Writable files are opened with `O_APPEND`, so writes always land at the end; reads use
/// `pread` and never move a file offset.
struct LogFile {
    let descriptor: FileDescriptor
    let path: String

    /// Opens an existing file; returns nil when it does not exist.
    static func openExisting(_ path: String, readOnly: Bool) throws(LogError) -> LogFile? {
        do {
            let descriptor = try FileDescriptor.open(
                FilePath(path), readOnly ? .readOnly : .readWrite,
                options: readOnly ? [.closeOnExec] : [.append, .closeOnExec])
            return LogFile(descriptor: descriptor, path: path)
        } catch let error as Errno where error == .noSuchFileOrDirectory {
            return nil
        } catch {
            throw ioError(path, "open", error)
        }
    }

    /// Creates `path` atomically holding exactly `contents`: writes `temporaryPath`,
    /// fsyncs it, renames it over `path` and fsyncs the directory.
    static func createAtomically(
        _ path: String, temporaryPath: String, contents: [UInt8], directory: LogDirectory
    ) throws(LogError) {
        let temporary: FileDescriptor
        do {
            temporary = try FileDescriptor.open(
                FilePath(temporaryPath), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead])
        } catch {
            throw ioError(temporaryPath, "create", error)
        }
        let file = LogFile(descriptor: temporary, path: temporaryPath)
        do throws(LogError) {
            try file.append(contents)
            try file.sync()
            file.close()
        } catch {
            file.close()
            throw error
        }
        guard rename(temporaryPath, path) == 0 else { throw .io(file: path, operation: "rename", errno: errno) }
        try directory.sync()
    }

    /// The file's size (`lseek(SEEK_END)`).
    func size() throws(LogError) -> Int {
        do { return Int(try descriptor.seek(offset: 0, from: .end)) } catch { throw Self.ioError(path, "lseek", error) }
    }

    /// Reads exactly `count` bytes at `offset` with `pread`.
    /// - Throws: `io` on a failed read; `corrupt` when the file ends first (it shrank).
    func read(at offset: Int, count: Int) throws(LogError) -> [UInt8] {
        precondition(offset >= 0 && count >= 0, "negative read")
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {  // bound: each pass reads at least one byte or throws
            let got: Int
            do {
                got = try bytes.withUnsafeMutableBytes { buffer in
                    try descriptor.read(
                        fromAbsoluteOffset: Int64(offset + done),
                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                }
            } catch {
                throw Self.ioError(path, "pread", error)
            }
            guard got > 0 else {
                throw .corrupt(
                    file: path, offset: offset + done, reason: "file ends inside the log (it shrank while open)")
            }
            done += got
        }
        return bytes
    }

    /// Writes all of `bytes` at the end of the file (`write`, retried on short writes).
    func append(_ bytes: [UInt8]) throws(LogError) {
        do { _ = try descriptor.writeAll(bytes) } catch { throw Self.ioError(path, "write", error) }
    }

    /// `fsync`: returns when the file's data and size are durable.
    func sync() throws(LogError) {
        let result = fsyncRetryingInterrupts(descriptor.rawValue)
        if result != 0 { throw .io(file: path, operation: "fsync", errno: result) }
    }

    /// `ftruncate` to `size` bytes (not synced; call ``sync()``).
    func truncate(to size: Int) throws(LogError) {
        do { try descriptor.resize(to: Int64(size)) } catch { throw Self.ioError(path, "ftruncate", error) }
    }

    /// Closes the descriptor, ignoring errors (nothing unsynced is ever pending here).
    func close() {
        _ = try? descriptor.close()
    }

    static func ioError(_ path: String, _ operation: String, _ error: any Error) -> LogError {
        .io(file: path, operation: operation, errno: (error as? Errno)?.rawValue ?? EIO)
    }
}

/// `fsync(fd)` retried on `EINTR` (at most ``fsyncInterruptRetriesMax`` times).
/// - Returns: 0, or the errno of the failure.
func fsyncRetryingInterrupts(_ fd: Int32) -> Int32 {
    for _ in 0..<fsyncInterruptRetriesMax {
        if fsync(fd) == 0 { return 0 }
        let failure = errno
        if failure != EINTR { return failure }
    }
    return EINTR
}

/// The log's directory: created on demand, held open for `fsync` and for the exclusive
/// `flock` that keeps a second writer out.
struct LogDirectory {
    let descriptor: FileDescriptor
    let path: String

    /// Creates `path` and any missing parents (like `mkdir -p`, mode 0750), fsyncing the
    /// parent of each directory it creates.
    static func create(_ path: String) throws(LogError) {
        let target = FilePath(path)
        var prefix = target.root.map { FilePath(root: $0) } ?? FilePath("")
        for component in target.components {  // bound: the path's components
            prefix.append(component)
            if component.kind != .regular { continue }
            let made = prefix.withPlatformString { mkdir($0, 0o750) }
            if made == 0 {
                let parent = prefix.removingLastComponent()
                let parentDirectory = try LogDirectory.open(parent.isEmpty ? "." : parent.string)
                defer { parentDirectory.close() }
                try parentDirectory.sync()
            } else if errno != EEXIST {
                throw .io(file: prefix.string, operation: "mkdir", errno: errno)
            }
        }
    }

    /// Opens the directory (`O_RDONLY | O_DIRECTORY`).
    static func open(_ path: String) throws(LogError) -> LogDirectory {
        do {
            let descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec])
            return LogDirectory(descriptor: descriptor, path: path)
        } catch {
            throw LogFile.ioError(path, "open", error)
        }
    }

    /// Takes the exclusive lock without waiting.
    /// - Throws: `locked` when another descriptor holds it; `io` otherwise.
    ///
    /// A process that forks (to run a helper) shares our descriptors, and so this lock,
    /// until its child calls exec and the close-on-exec flag drops them. A lock held that
    /// way is gone within milliseconds, so a busy lock is retried for up to
    /// ``lockAttemptsMax`` × 2 ms before it counts as held by another log.
    func lock() throws(LogError) {
        for attempt in 1...Self.lockAttemptsMax {
            guard flock(descriptor.rawValue, LOCK_EX | LOCK_NB) != 0 else { return }
            let failure = errno
            guard failure == EWOULDBLOCK else { throw .io(file: path, operation: "flock", errno: failure) }
            if attempt < Self.lockAttemptsMax { usleep(2_000) }
        }
        throw .locked(directory: path)
    }

    /// Tries at taking the directory lock before giving up (2 ms apart: 200 ms in all).
    static let lockAttemptsMax = 100

    /// `fsync` on the directory, making created, renamed or removed names durable.
    func sync() throws(LogError) {
        let result = fsyncRetryingInterrupts(descriptor.rawValue)
        if result != 0 { throw .io(file: path, operation: "fsync", errno: result) }
    }

    /// The names in the directory (`readdir`), without `.` and `..`, in no particular order.
    /// - Throws: ``LogError/io(file:operation:errno:)`` when `opendir` fails.
    func names() throws(LogError) -> [String] {
        guard let stream = opendir(path) else { throw .io(file: path, operation: "opendir", errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {  // bound: the directory's entries
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The path of `name` inside this directory.
    func path(of name: String) -> String {
        FilePath(path).appending(name).string
    }

    /// Closes the descriptor (which also drops the lock), ignoring errors.
    func close() {
        _ = try? descriptor.close()
    }
}
