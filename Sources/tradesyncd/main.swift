import ArgumentParser
import Logging

#if canImport(Glibc)
import Glibc
#endif
import TradeSyncDaemon
import TradeSyncTransport

/// `tradesyncd`: one TradeSync node. Flags override the TOML file given with `--config`.
@main
struct TradeSyncDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradesyncd",
        abstract: "Run a TradeSync node: an append-only log of trade records, replicated to peer offices over TCP.")

    @Option(name: .long, help: "Data directory (log, node key, control socket). Default: \(NodeConfig.defaultDataDir)")
    var dataDir: String?

    @Option(name: .long, help: "HOST:PORT to accept peer connections on. Default: \(NodeConfig.defaultListen)")
    var listen: String?

    @Option(name: .long, help: "HOST:PORT of a peer to dial (repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "Control socket path. Default: DATA_DIR/control.sock")
    var control: String?

    @Option(name: .long, help: "TOML config file with the keys data_dir, listen, peers, control, log_level.")
    var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    /// Exit status when the configuration (file or flags) is invalid.
    static let exitConfigInvalid: Int32 = 2
    /// Exit status when the node cannot start (data directory, log, address in use).
    static let exitStartFailed: Int32 = 1

    func run() async throws {
        let settings: NodeConfig
        do { settings = try resolvedConfig() } catch {
            FileHandle.standardErrorWrite("tradesyncd: \(error.description)\n")
            throw ExitCode(Self.exitConfigInvalid)
        }
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tradesyncd")
        do {
            try await Daemon.run(config: settings, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(Self.exitStartFailed)
        }
    }

    /// The config file (if any) overridden by the flags given.
    /// - Throws: ``NodeConfig/ConfigError`` naming the file or flag and the reason.
    func resolvedConfig() throws(NodeConfig.ConfigError) -> NodeConfig {
        var settings = NodeConfig()
        if let config { settings = try NodeConfig.load(path: config) }
        if let dataDir { settings.dataDir = dataDir }
        if let listen { settings.listen = try NodeConfig.address(listen, "", "--listen") }
        if !peer.isEmpty {
            settings.peers = try peer.map { text throws(NodeConfig.ConfigError) in try NodeConfig.address(text, "", "--peer") }
        }
        if let control { settings.control = control }
        if let logLevel { settings.logLevel = try NodeConfig.level(logLevel, "--log-level") }
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
