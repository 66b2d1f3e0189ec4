import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The systemd notification protocol (sd_notify(3)): datagrams such as `READY=1`,
/// `STATUS=…`, `WATCHDOG=1` and `STOPPING=1` to the socket named by `$NOTIFY_SOCKET`.
///
/// Without `$NOTIFY_SOCKET` (not run by systemd with `Type=notify`) every call does
/// nothing. A path starting with `@` is in the abstract namespace: the `@` becomes a NUL
/// byte and the address length is exact, with no trailing NUL. Sending never blocks and a
/// failed send is ignored, as sd_notify does: systemd may not be listening.
public struct SystemdNotifier: Sendable {
    /// The socket path from `$NOTIFY_SOCKET`, nil when unset or empty.
    public let socketPath: String?
    /// Half the watchdog timeout from `$WATCHDOG_USEC` (when `$WATCHDOG_PID` is unset or
    /// is this process): how often to send `WATCHDOG=1`; nil without a watchdog.
    public let watchdogInterval: TimeAmount?

    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID` from `environment`.
    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if path != nil, forUs, let text = environment["WATCHDOG_USEC"], let usec = Int64(text), usec > 0 {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends one datagram of newline-separated assignments, e.g. `"READY=1\nSTATUS=serving"`.
    /// - Returns: false when there is no socket or the send failed.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath, socketPath.utf8.count < 108 else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let length = MemoryLayout<sa_family_t>.size + pathBytes.count + (abstract ? 0 : 1)
        let payload = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, socklen_t(length)) }
            }
        }
        return sent == payload.count
    }

    /// Sends `WATCHDOG=1` every ``watchdogInterval`` from an event loop of `group`, so a
    /// stalled event loop stops the pings and systemd restarts the node. Nil without a
    /// watchdog; cancel the task at shutdown.
    public func startWatchdog(on group: any EventLoopGroup) -> RepeatedTask? {
        guard let interval = watchdogInterval else { return nil }
        let notifier = self
        return group.next().scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
            notifier.notify("WATCHDOG=1")
        }
    }

    /// CLOCK_MONOTONIC in microseconds, for `MONOTONIC_USEC=` beside `RELOADING=1`
    /// (sd_notify(3)).
    public static func monotonicMicroseconds() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds / 1000  // CLOCK_MONOTONIC
    }
}
