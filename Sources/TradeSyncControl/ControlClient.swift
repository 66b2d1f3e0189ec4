#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// Why the CLI could not talk to the node.
public enum ControlClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The socket path is absent or nothing listens there.
    case unreachable(path: String, reason: String)
    /// The socket exists but the caller may not open it.
    case permissionDenied(path: String)
    /// The connection broke or the answer was malformed.
    case protocolError(path: String, reason: String)

    /// ` (mode 0660, owner tradesync, group tradesync)` for an existing file; for a file
    /// whose directory the caller cannot search, that directory and its ownership; else empty.
    static func ownership(_ path: String) -> String {
        var info = stat()
        if stat(path, &info) == 0 { return " (\(describe(info)))" }
        guard errno == EACCES else { return "" }
        var directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if directory.isEmpty { directory = "." }
        guard stat(directory, &info) == 0 else { return ": its directory \(directory) is not reachable" }
        return ": its directory \(directory) (\(describe(info))) is not searchable by you"
    }

    private static func describe(_ info: stat) -> String {
        let mode = String(info.st_mode & 0o777, radix: 8)
        let owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(info.st_uid)"
        let group = getgrgid(info.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "gid \(info.st_gid)"
        return "mode 0\(mode), owner \(owner), group \(group)"
    }

    public var description: String {
        switch self {
        case .unreachable(let path, let reason):
            "cannot reach tradesyncd at \(path): \(reason) (is it running? set --control or TRADESYNC_CONTROL)"
        case .permissionDenied(let path):
            "permission denied on control socket \(path)\(Self.ownership(path)): run tradesync as the node's user or as a member of the socket's group (config control_group); the group needs search (x) permission on the socket's directory too"
        case .protocolError(let path, let reason): "control socket \(path): \(reason)"
        }
    }
}

/// A blocking client for the node's control socket: one request, one response per call.
///
/// The CLI runs one command and exits, so plain blocking socket calls are the simplest
/// correct tool here; the daemon side is NIO.
public struct ControlClient: Sendable {
    /// The Unix socket path.
    public let path: String

    public init(path: String) { self.path = path }

    /// Sends a request (with an optional binary blob) and waits for the response.
    /// - Throws: ``ControlClientError``.
    public func send(_ request: ControlRequest, blob: [UInt8] = []) throws(ControlClientError) -> ControlResponse {
        try exchange(request, blob: blob).response
    }

    /// Sends a request (with an optional binary blob) and waits for the response and the
    /// blob that came with it (`export` pages carry their records there; empty otherwise).
    /// - Throws: ``ControlClientError``.
    public func exchange(_ request: ControlRequest, blob: [UInt8] = []) throws(ControlClientError)
        -> (response: ControlResponse, blob: [UInt8])
    {
        let fd = try connect()
        defer { close(fd) }
        let json: [UInt8]
        do { json = Array(try JSONEncoder().encode(request)) } catch {
            throw .protocolError(path: path, reason: "cannot encode request: \(error)")
        }
        try writeAll(fd, ControlFrame.encode(json: json, blob: blob))
        let frame = try readFrame(fd)
        do {
            return (try JSONDecoder().decode(ControlResponse.self, from: Data(frame.json)), frame.blob)
        } catch {
            throw .protocolError(path: path, reason: "malformed response: \(error)")
        }
    }

    /// True when something accepts connections on the socket at `path` (a running node),
    /// false when the path is absent or a stale socket file that nothing listens on.
    public static func isListening(path: String) -> Bool {
        guard let fd = try? ControlClient(path: path).connect() else { return false }
        close(fd)
        return true
    }

    private func connect() throws(ControlClientError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .unreachable(path: path, reason: String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            close(fd)
            throw .unreachable(path: path, reason: "socket path longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let code = errno
            close(fd)
            if code == EACCES || code == EPERM { throw .permissionDenied(path: path) }
            throw .unreachable(path: path, reason: String(cString: strerror(code)))
        }
        return fd
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(ControlClientError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .protocolError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    private func readFrame(_ fd: Int32) throws(ControlClientError) -> (json: [UInt8], blob: [UInt8]) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            do {
                if let frame = try ControlFrame.split(buffer) { return (frame.json, frame.blob) }
            } catch {
                throw .protocolError(path: path, reason: error.description)
            }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw .protocolError(path: path, reason: "the node closed the connection before answering")
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
