import FoundationEssentials
import Logging
import NIOCore
import NIOPosix
import TradeSyncControl

#if canImport(Glibc)
import Glibc
#endif

/// Serves the control socket: a Unix stream socket (mode 0660), one request and one
/// response per connection, framed as ``ControlFrame``.
final class ControlServer: Sendable {
    let path: String
    /// The socket file's inode, so shutdown removes only our own socket file.
    private let inode: UInt64
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let node: Node
    private let logger: Logger

    /// Binds `path`, replacing a stale socket file left by a previous run, but never one
    /// that another process still serves.
    /// - Throws: ``StartupError`` when the path is in use; NIO's bind error (for example a
    ///   path too long or a missing directory).
    ///
    /// The socket is created with mode 0660 (umask 0117 around the bind, so it never exists
    /// with wider permissions, even for an instant) and, when `controlGroup` is set, handed
    /// to that group: its members and the node's user are the only ones who may connect.
    /// It is the node's only local access path: every command of the CLI goes through it.
    /// - Throws: also ``StartupError`` when `controlGroup` names no group or the socket
    ///   cannot be given to it (the node's user must be root or a member).
    init(path: String, controlGroup: String?, node: Node, group: any EventLoopGroup, logger: Logger) async throws {
        if ControlClient.isListening(path: path) {
            throw StartupError("control socket \(path) is in use by another running tradesyncd")
        }
        var groupID: gid_t?
        if let controlGroup {
            guard let entry = getgrnam(controlGroup) else {
                throw StartupError("control_group '\(controlGroup)': no such group (create it, or remove control_group)")
            }
            groupID = entry.pointee.gr_gid
        }
        let previousMask = umask(0o117)
        defer { umask(previousMask) }
        server = try await ServerBootstrap(group: group)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        umask(previousMask)
        chmod(path, 0o660)
        if let groupID, chown(path, uid_t.max, groupID) != 0 {
            let reason = String(cString: strerror(errno))
            server.channel.close(promise: nil)
            unlink(path)
            throw StartupError(
                "cannot give control socket \(path) to group '\(controlGroup ?? "")': \(reason) (the node's user must be root or a member of it)")
        }
        if let groupID, let controlGroup, let problem = Self.unsearchable(directoryOf: path, by: groupID) {
            logger.warning(
                "control socket \(path): its directory \(problem), so members of control_group '\(controlGroup)' cannot reach it; give them search permission (chgrp \(controlGroup) DIR && chmod g+x DIR), or set control to a path in a directory they can reach")
        }
        var info = stat()
        inode = stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
        self.path = path
        self.node = node
        self.logger = logger
    }

    /// Serves until ``close()``.
    func serve() async {
        do {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.serveOne(connection) }
                    }
                }
            }
        } catch is CancellationError {
            logger.debug("control socket \(path) closed at shutdown")
        } catch {
            logger.error("control socket \(path) stopped: \(error)")
        }
    }

    /// Describes the socket's directory when members of group `groupID` (who are not its
    /// owner) cannot search it; nil when they can.
    static func unsearchable(directoryOf path: String, by groupID: gid_t) -> String? {
        var directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if directory.isEmpty { directory = "." }
        var info = stat()
        guard stat(directory, &info) == 0 else { return nil }
        let mode = info.st_mode & 0o777
        if mode & 0o001 != 0 || (info.st_gid == groupID && mode & 0o010 != 0) { return nil }
        return "\(directory) (mode 0\(String(mode, radix: 8)), gid \(info.st_gid)) is not searchable by that group"
    }

    func close() {
        server.channel.close(promise: nil)
        var info = stat()
        if stat(path, &info) == 0 && UInt64(info.st_ino) == inode { unlink(path) }
    }

    private func serveOne(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var buffer: [UInt8] = []
                var chunks = inbound.makeAsyncIterator()
                while let chunk = try await chunks.next() {
                    buffer.append(contentsOf: chunk.readableBytesView)
                    guard let frame = try ControlFrame.split(buffer) else { continue }
                    let response: ControlResponse
                    var blob: [UInt8] = []
                    do {
                        let request = try JSONDecoder().decode(ControlRequest.self, from: Data(frame.json))
                        let answer = await node.respond(to: request, blob: frame.blob)
                        response = answer.response
                        blob = answer.blob
                    } catch {
                        response = .failure("invalid", "malformed control request: \(error)")
                    }
                    let json = try JSONEncoder().encode(response)
                    try await outbound.write(ByteBuffer(bytes: ControlFrame.encode(json: Array(json), blob: blob)))
                    // Closing now could discard the part of a large answer still queued in the
                    // channel: half-close our side once it is flushed, and let the client,
                    // which closes after reading the whole frame, end the connection.
                    outbound.finish()
                    while try await chunks.next() != nil {}
                    return
                }
            }
        } catch {
            logger.warning("control connection failed: \(error)")
        }
    }
}
