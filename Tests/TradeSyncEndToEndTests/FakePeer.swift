import Foundation
import TradeSyncClock
import TradeSyncModel
import TradeSyncWire

#if canImport(Glibc)
import Glibc
#endif

/// A hand-driven TCP peer for protocol tests: it speaks raw frames (any version, any
/// garbage) to a real `tradesyncd` over loopback, with blocking POSIX sockets and receive
/// timeouts so a test can never hang.
final class FakePeer {
    let fd: Int32
    private var decoder = FrameDecoder()

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Connects to 127.0.0.1:`port`. - Throws: when the connection is refused.
    static func connect(port: Int, receiveTimeout seconds: Int = 15) throws -> FakePeer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw HarnessError("connect to port \(port) failed: errno \(errno)")
        }
        let peer = FakePeer(fd: fd)
        peer.setReceiveTimeout(seconds)
        return peer
    }

    /// Wraps an accepted socket.
    static func accepted(_ fd: Int32, receiveTimeout seconds: Int = 15) -> FakePeer {
        let peer = FakePeer(fd: fd)
        peer.setReceiveTimeout(seconds)
        return peer
    }

    private func setReceiveTimeout(_ seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `bytes`; false when the node already closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }

    func send(_ message: Message) { send(message.encoded()) }

    /// The next message from the node, or nil at end of stream or after the timeout.
    func receive() throws -> Message? {
        while true {
            if let frame = try decoder.next() { return try Message.decode(frame) }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            decoder.feed(Array(buffer[0..<count]))
        }
    }

    /// Every message until the node closes the connection (or the timeout).
    func receiveAll() throws -> [Message] {
        var messages: [Message] = []
        while let message = try receive() { messages.append(message) }
        return messages
    }

    /// A HELLO from a made-up node offering `versions`.
    static func hello(_ versions: ClosedRange<UInt16>, node: NodeID, instance: UInt64 = 0x5EED) -> Message {
        .hello(Hello(versions: versions, nodeID: node, logInstanceID: instance))
    }

    /// A random node ID.
    static func randomNode() -> NodeID {
        NodeID(bytes: (0..<NodeID.byteCount).map { _ in UInt8.random(in: 0...255) }) ?? .zero
    }
}

/// A listening socket on 127.0.0.1 that hands each accepted connection to `serve` on a
/// thread of its own and counts them.
final class FakeListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var acceptedCount = 0
    private var stopped = false

    init(serve: @escaping @Sendable (FakePeer) -> Void) throws {
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard listen(listenFD, 16) == 0 else { throw HarnessError("listen failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
        }
        fd = listenFD
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(listenFD, nil, nil)
                if client < 0 { return }
                let done = lock.withLock { () -> Bool in
                    if stopped { return true }
                    acceptedCount += 1
                    return false
                }
                if done {
                    close(client)
                    return
                }
                Thread.detachNewThread { serve(FakePeer.accepted(client, receiveTimeout: 5)) }
            }
        }
    }

    /// Connections accepted so far.
    var accepted: Int { lock.withLock { acceptedCount } }

    /// Stops accepting (the listening socket is shut down and closed).
    func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
