import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's log level, shared by every ``DaemonLogHandler`` and changed at run time
/// (SIGHUP re-reads `log_level`, ``Daemon``'s reload).
public final class LogLevelSwitch: Sendable {
    private let level: Mutex<Logger.Level>

    /// Starts at `level`.
    public init(_ level: Logger.Level) { self.level = Mutex(level) }

    /// The level in effect: messages below it are dropped.
    public var current: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
}

/// swift-log output for `tradesyncd` on stderr, one line per message, in the form
/// journald and a terminal each read best.
///
/// - Under journald (``journaldAttached(environment:)``): `<P>LEVEL message {key=value …}`.
///   `<P>` is the syslog priority (RFC 5424 §6.2.1: 7 debug … 2 critical), which journald
///   strips and stores as the entry's PRIORITY, so `journalctl -p warning` filters by it.
///   No timestamp: journald stamps every line itself.
/// - Elsewhere: `2026-11-30T11:13:49.123Z LEVEL message {key=value …}` (UTC, milliseconds).
///
/// Metadata (`peer`, `session`, `node`, …) closes every line, keys sorted, so each line
/// about a peer names it and its session. The level comes from a ``LogLevelSwitch``.
public struct DaemonLogHandler: LogHandler {
    /// Shared with the daemon, which changes it on reload.
    public let levels: LogLevelSwitch
    /// True when stderr goes to journald.
    public let journald: Bool
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// A floor one logger sets for itself (ServiceLifecycle's, kept at info so its debug
    /// lines do not print whole service descriptions); the shared level still applies.
    private var floor: Logger.Level = .trace

    /// - Parameters:
    ///   - levels: the shared level.
    ///   - journald: write for journald (priority prefix, no timestamp).
    public init(levels: LogLevelSwitch, journald: Bool) {
        self.levels = levels
        self.journald = journald
    }

    /// The shared level, or this logger's floor when that is higher. Setting it sets the
    /// floor: a logger can be quieter than `log_level`, never louder.
    public var logLevel: Logger.Level {
        get { max(levels.current, floor) }
        set { floor = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.format(
            level: event.level, message: "\(event.message)", metadata: merged, journald: journald,
            timestamp: journald ? nil : Self.utcNow())
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(2, base + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // stderr is gone: nowhere left to say so
                }
            }
        }
    }

    /// One log line without its newline.
    /// - Parameters:
    ///   - timestamp: the time text to lead with; nil under journald.
    public static func format(
        level: Logger.Level, message: String, metadata: Logger.Metadata, journald: Bool, timestamp: String?
    ) -> String {
        var line = journald ? "<\(priority(level))>" : ""
        if let timestamp { line += timestamp + " " }
        line += level.rawValue + " " + message
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            line += " {" + pairs.joined(separator: " ") + "}"
        }
        return line
    }

    /// The syslog severity of a swift-log level (RFC 5424 §6.2.1).
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// True when stderr is the stream `$JOURNAL_STREAM` names (systemd.exec(5): systemd
    /// sets it to the `DEVICE:INODE` of the journal stream it connected), so output that
    /// is redirected elsewhere keeps its timestamps.
    public static func journaldAttached(environment: [String: String]) -> Bool {
        journaldAttached(journalStream: environment["JOURNAL_STREAM"])
    }

    /// ``journaldAttached(environment:)`` for this process's own environment.
    public static func journaldAttached() -> Bool {
        journaldAttached(journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) })
    }

    static func journaldAttached(journalStream value: String?) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Now in UTC, ISO 8601 with milliseconds: `2026-11-30T11:13:49.123Z`.
    static func utcNow() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(spec.tv_nsec / 1_000_000)
        let millisText = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millisText)Z"
    }
}
