#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a whole regular file into memory with POSIX calls: one uninitialised buffer of
/// the file's size, filled by `read(2)` (no zero fill, no second copy as `Data` → `[UInt8]` would make).
enum FileBytes {
    /// - Throws: ``ImportError/unreadable(file:reason:)`` naming the system error, a
    ///   non-regular file, or a size above ``ImportLimits/fileBytesMax``.
    static func load(path: String) throws(ImportError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(file: path, reason: systemError()) }
        defer { _ = close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(file: path, reason: systemError()) }
        guard status.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else {
            throw .unreadable(file: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        guard size <= ImportLimits.fileBytesMax else {
            throw .unreadable(file: path, reason: "\(size) bytes exceeds the limit of \(ImportLimits.fileBytesMax)")
        }
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, filled in
            guard let base = buffer.baseAddress else { return }
            while filled < size {
                let got = read(descriptor, base + filled, size - filled)
                if got > 0 {
                    filled += got
                } else if got == 0 {
                    break  // the file shrank while we read it
                } else if errno != EINTR {
                    failure = systemError()
                    break
                }
            }
        }
        if let failure { throw .unreadable(file: path, reason: failure) }
        return bytes
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
