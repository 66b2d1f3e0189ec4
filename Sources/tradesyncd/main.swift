import ArgumentParser
import Logging

#if canImport(Glibc)
import Glibc
#endif
import TradeSyncClock
import TradeSyncDaemon
import TradeSyncTransport

/// `tradesyncd`: one TradeSync node. Flags override the TOML file given with `--config`.
@main
struct TradeSyncDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradesyncd",
        abstract: "Run a TradeSync node: an append-only log of trade records, replicated to peer offices over TCP.",
        version: "tradesyncd \(Release.version)")

    @Option(name: .long, help: "Data directory (log, node key, control socket). Default: \(NodeConfig.defaultDataDir)")
    var dataDir: String?

    @Option(name: .long, help: "HOST:PORT to accept peer connections on. Default: \(NodeConfig.defaultListen)")
    var listen: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A peer to dial (repeatable): FULL-NODE-ID@HOST:PORT pins it (TLS); a bare HOST:PORT needs --insecure. Replaces the config file's peers.",
            valueName: "id@host:port"))
    var peer: [String] = []

    @Flag(name: .long, help: "Plain TCP without authentication (loopback addresses only, unless --insecure-force).")
    var insecure = false

    @Flag(name: .long, help: "Allow --insecure on non-loopback listen and peer addresses.")
    var insecureForce = false

    @Flag(name: .long, help: "Print this node's ID (full form, short form, hex), making the node key if needed, and exit.")
    var printID = false

    @Flag(name: .long, help: "With --print-id: print {\"id\", \"short\", \"hex\"} as JSON.")
    var json = false

    @Option(name: .long, help: "Control socket path. Default: DATA_DIR/control.sock")
    var control: String?

    @Option(
        name: .long,
        help: "TOML config file with the keys data_dir, listen, [[peer]], peers, insecure, insecure_force, control, control_group, log_level, segment_bytes, checkpoint_entries, metrics, [[origin]] (see Deploy/tradesyncd.toml).")
    var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Serve /metrics (Prometheus) and /health over HTTP on this loopback address (127.0.0.0/8 or ::1; port 0 picks one). Default: off.",
            valueName: "host:port"))
    var metrics: String?

    /// Exit status when the configuration (file or flags) is invalid.
    static let exitConfigInvalid: Int32 = 2
    /// Exit status when the node cannot start (data directory, log, address in use).
    static let exitStartFailed: Int32 = 1

    func run() async throws {
        if printID {
            try printIdentity()
            return
        }
        let settings: NodeConfig
        do { settings = try resolvedConfig() } catch {
            FileHandle.standardErrorWrite("tradesyncd: \(error.description)\n")
            throw ExitCode(Self.exitConfigInvalid)
        }
        let levels = LogLevelSwitch(Logger.Level(rawValue: settings.logLevel) ?? .info)
        let journald = DaemonLogHandler.journaldAttached()
        LoggingSystem.bootstrap { _ in DaemonLogHandler(levels: levels, journald: journald) }
        let logger = Logger(label: "tradesyncd")
        // SIGHUP re-reads the same sources: the config file, then the same flags over it.
        let sources = sources
        let reload: (@Sendable () throws -> NodeConfig)? = config == nil ? nil : { @Sendable in try sources.resolve() }
        do {
            try await Daemon.run(config: settings, logger: logger, levels: levels, reload: reload)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(Self.exitStartFailed)
        }
    }

    /// The config file and the flags that override it.
    var sources: ConfigSources {
        ConfigSources(
            file: config, dataDir: dataDir, listen: listen, peers: peer, insecure: insecure,
            insecureForce: insecureForce, control: control, logLevel: logLevel, metrics: metrics)
    }

    /// The config file (if any) overridden by the flags given.
    /// - Throws: ``NodeConfig/ConfigError`` naming the file or flag and the reason.
    func resolvedConfig() throws(NodeConfig.ConfigError) -> NodeConfig { try sources.resolve() }

    /// `--print-id`: loads or makes the node key in the data directory (flag, else the
    /// config file's, else the default) and prints its ID, so admins can exchange IDs
    /// before they pin each other.
    func printIdentity() throws {
        var directory = dataDir
        if directory == nil, let config {
            do { directory = try NodeConfig.load(path: config).dataDir } catch {
                FileHandle.standardErrorWrite("tradesyncd: \(error.description)\n")
                throw ExitCode(Self.exitConfigInvalid)
            }
        }
        let identity: NodeIdentity
        do { identity = try Daemon.identity(dataDir: directory ?? NodeConfig.defaultDataDir) } catch {
            FileHandle.standardErrorWrite("tradesyncd: \(error)\n")
            throw ExitCode(Self.exitStartFailed)
        }
        let id = identity.nodeID
        let (full, short) = (NodeIDText.full(id), NodeIDText.short(id))
        if json {
            print("{\"hex\":\"\(id.hex)\",\"id\":\"\(full)\",\"short\":\"\(short)\"}")
        } else {
            print("\(full)\nshort  \(short)\nhex    \(id.hex)")
        }
    }
}

/// Where a node's config comes from: a TOML file, then the command-line flags over it.
/// Read at start and again on SIGHUP.
struct ConfigSources: Sendable {
    let file: String?
    let dataDir: String?
    let listen: String?
    let peers: [String]
    let insecure: Bool
    let insecureForce: Bool
    let control: String?
    let logLevel: String?
    let metrics: String?

    /// - Throws: ``NodeConfig/ConfigError`` naming the file or flag and the reason.
    func resolve() throws(NodeConfig.ConfigError) -> NodeConfig {
        var settings = NodeConfig()
        if let file { settings = try NodeConfig.load(path: file) }
        if let dataDir { settings.dataDir = dataDir }
        if let listen { settings.listen = try NodeConfig.address(listen, "", "--listen") }
        try settings.applyPeerFlags(peers)
        if insecure { settings.insecure = true }
        if insecureForce { settings.insecureForce = true }
        if let control { settings.control = control }
        if let logLevel { settings.logLevel = try NodeConfig.level(logLevel, "--log-level") }
        if let metrics { settings.metrics = try NodeConfig.metricsAddress(metrics, "", "--metrics") }
        try settings.validateSecurity(source: file ?? "command line")
        return settings
    }
}

extension FileHandle {
    /// Writes text to stderr unbuffered.
    static func standardErrorWrite(_ text: String) {
        var bytes = Array(text.utf8)
        _ = write(2, &bytes, bytes.count)
    }
}

/// Namespace for ``FileHandle/standardErrorWrite(_:)``; the daemon needs no Foundation.
enum FileHandle {}
