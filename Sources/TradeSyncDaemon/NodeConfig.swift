import TOMLKit
import TradeSyncClock
import TradeSyncModel
import TradeSyncTransport

#if canImport(Glibc)
import Glibc
#endif

/// A node's configuration. Every key can come from the TOML file given with `--config`
/// and from the command line; the command line wins.
///
/// TOML keys (all optional):
/// ```toml
/// data_dir = "./tradesync-data"      # the log, the node key, the control socket
/// listen   = "127.0.0.1:7400"        # HOST:PORT for peer connections
/// peers    = ["127.0.0.1:7401"]      # HOST:PORT of unpinned peers to dial (insecure only)
/// control  = "./tradesync-data/control.sock"   # default: DATA_DIR/control.sock
/// control_group = "tradesync"        # group of the control socket (mode 0660); default: the node's
/// log_level = "info"                 # trace, debug, info, notice, warning, error, critical
/// segment_bytes = 67108864           # a new log segment starts past this size (≥ 4096)
/// checkpoint_entries = 100000        # entries past the last checkpoint that trigger one
/// metrics  = "127.0.0.1:7480"        # loopback HOST:PORT serving /metrics and /health; default: off
///
/// # Transport security (NodeConfig+Security.swift): TLS 1.3, peers pinned by node ID.
/// insecure = false          # plain TCP, no authentication: only with this set
/// insecure_force = false    # allow insecure on non-loopback listen/peer addresses
/// [[peer]]
/// id = "FULL-NODE-ID"       # required unless insecure; `tradesyncd --print-id` shows it
/// address = "10.1.2.3:7400" # optional; omit for a peer that only dials in
/// origins = ["FULL-NODE-ID"]  # optional: origins this peer may send (default: any)
///
/// [[origin]]                         # optional, repeatable: limit what an origin may author
/// id = "FULL-NODE-ID"                # its node ID (`tradesync id`)
/// reporters = ["DEU", "FRA"]         # the reporter countries its records may have
/// ```
///
/// Without `insecure`, every peer is dialled and accepted over mutual TLS 1.3 and must
/// prove the pinned node ID (``validateSecurity(source:)`` refuses unpinned `peers`).
public struct NodeConfig: Sendable, Equatable {
    public static let defaultDataDir = "./tradesync-data"
    public static let defaultListen = "127.0.0.1:7400"

    public var dataDir: String = NodeConfig.defaultDataDir
    public var listen: PeerAddress = PeerAddress(host: "127.0.0.1", port: 7400)
    public var peers: [PeerAddress] = []
    /// nil means `DATA_DIR/control.sock`.
    public var control: String?
    /// The group the control socket (mode 0660) is given to; nil keeps the node's group.
    public var controlGroup: String?
    public var logLevel: String = "info"
    /// A new log segment starts when the next batch would take the last one past this
    /// many bytes (64 MiB).
    public var segmentBytes: Int = 64 << 20
    /// Durable entries past the last checkpoint that trigger the next one (at least this
    /// many, and at least a quarter of what the last one covers).
    public var checkpointEntries: Int = 100_000
    /// Per origin, the reporter countries it may author (TOML `[[origin]]` tables); an
    /// origin not listed may author any.
    public var originReporters: [NodeID: Set<AreaCode>] = [:]
    /// Where the HTTP endpoint serving `/metrics` (Prometheus text) and `/health` listens
    /// (`metrics`, `--metrics`); nil (the default): not served. Loopback only, since the
    /// endpoint has no authentication; port 0 picks a free port (the startup line names it).
    public var metrics: PeerAddress?

    // MARK: Transport security (issue 6 §2; parsing in NodeConfig+Security.swift)

    /// Plain TCP without authentication (`insecure`); TLS 1.3 when false.
    public var insecure = false
    /// Allows `insecure` on non-loopback listen and peer addresses (`insecure_force`).
    public var insecureForce = false
    /// The `[[peer]]` tables: peers pinned by node ID.
    public var pinnedPeers: [PinnedPeer] = []

    // MARK: -

    public init() {}

    /// The control socket path in effect.
    public var controlPath: String { control ?? dataDir + "/control.sock" }

    /// Why a config is invalid. Names the file and key.
    public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
        public let source: String
        public let reason: String
        public var description: String { "\(source): \(reason)" }
    }

    static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Reads a TOML file. - Throws: ``ConfigError`` naming the file and the bad key.
    public static func load(path: String) throws(ConfigError) -> NodeConfig {
        guard let text = readText(path) else {
            throw ConfigError(source: path, reason: "cannot read file: \(String(cString: strerror(errno)))")
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch {
            throw ConfigError(source: path, reason: "invalid TOML: \(error)")
        }
        var config = NodeConfig()
        var peerTables: (any TOMLValueConvertible)?
        for (key, value) in table {
            switch key {
            case "data_dir": config.dataDir = try string(value, key, path)
            case "listen": config.listen = try address(string(value, key, path), key, path)
            case "control": config.control = try string(value, key, path)
            case "control_group":
                let name = try string(value, key, path)
                guard getgrnam(name) != nil else {
                    throw ConfigError(source: path, reason: "control_group '\(name)': no such group (create it, or remove control_group)")
                }
                config.controlGroup = name
            case "log_level": config.logLevel = try level(string(value, key, path), path)
            case "peers":
                guard let array = value.array else { throw ConfigError(source: path, reason: "peers must be an array of \"HOST:PORT\"") }
                config.peers = try array.map { item throws(ConfigError) in try address(string(item, key, path), key, path) }
            case "segment_bytes": config.segmentBytes = try integer(value, key, path, minimum: 4096)
            case "checkpoint_entries": config.checkpointEntries = try integer(value, key, path, minimum: 1)
            case "metrics": config.metrics = try metricsAddress(string(value, key, path), key, path)
            case "origin": config.originReporters = try originTables(value, path)
            case "insecure", "insecure_force": try config.loadSecurityKey(key, value, path)
            case "peer": peerTables = value  // after `peers`, whatever the table order
            default:
                throw ConfigError(
                    source: path,
                    reason:
                        "unknown key '\(key)' (data_dir, listen, peers, control, control_group, log_level, segment_bytes, checkpoint_entries, metrics, insecure, insecure_force, peer, origin)")
            }
        }
        if let peerTables { try config.loadSecurityKey("peer", peerTables, path) }
        return config
    }

    static func integer(_ value: any TOMLValueConvertible, _ key: String, _ source: String, minimum: Int)
        throws(ConfigError) -> Int
    {
        guard let number = value.int, number >= minimum else {
            throw ConfigError(source: source, reason: "\(key) must be an integer ≥ \(minimum)")
        }
        return number
    }

    static func string(_ value: any TOMLValueConvertible, _ key: String, _ source: String) throws(ConfigError) -> String {
        guard let text = value.string else { throw ConfigError(source: source, reason: "\(key) must be a string") }
        return text
    }

    /// Parses a `HOST:PORT` given as `key` in `source` (a file, or a flag with an empty key).
    /// - Throws: ``ConfigError`` saying what is wrong with it.
    public static func address(_ text: String, _ key: String, _ source: String) throws(ConfigError) -> PeerAddress {
        guard let parsed = PeerAddress(text) else {
            let port = text.split(separator: ":").last.flatMap { Int($0) }
            let outOfRange = port.map { !(0...65535).contains($0) } ?? false
            let subject = key.isEmpty ? "'\(text)'" : "\(key) '\(text)'"
            throw ConfigError(source: source, reason: "\(subject) is \(outOfRange ? "a port out of range 0–65535" : "not HOST:PORT")")
        }
        return parsed
    }

    /// Parses the metrics endpoint's `HOST:PORT` given as `key` in `source` (a file, or a
    /// flag with an empty key): it must be loopback (127.0.0.0/8 or ::1), since the
    /// endpoint has no authentication.
    /// - Throws: ``ConfigError`` naming the key and the address.
    public static func metricsAddress(_ text: String, _ key: String, _ source: String) throws(ConfigError) -> PeerAddress {
        let parsed = try address(text, key, source)
        guard parsed.isLoopback else {
            let subject = key.isEmpty ? "'\(text)'" : "\(key) '\(text)'"
            throw ConfigError(
                source: source,
                reason: "\(subject) is not a loopback address (127.0.0.0/8 or ::1): the metrics endpoint has no authentication")
        }
        return parsed
    }

    /// Validates a log level named in `source`. - Throws: ``ConfigError``.
    public static func level(_ text: String, _ source: String) throws(ConfigError) -> String {
        guard levels.contains(text) else {
            throw ConfigError(source: source, reason: "log level '\(text)' is not one of \(levels.joined(separator: ", "))")
        }
        return text
    }

    private static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
