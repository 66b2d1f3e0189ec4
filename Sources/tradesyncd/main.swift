import ArgumentParser
import Logging
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

    func run() async throws {
        var settings = NodeConfig()
        if let config {
            do { settings = try NodeConfig.load(path: config) } catch { throw ValidationError(error.description) }
        }
        if let dataDir { settings.dataDir = dataDir }
        if let listen {
            guard let address = PeerAddress(listen) else { throw ValidationError("--listen '\(listen)' is not HOST:PORT") }
            settings.listen = address
        }
        if !peer.isEmpty {
            settings.peers = try peer.map { text in
                guard let address = PeerAddress(text) else { throw ValidationError("--peer '\(text)' is not HOST:PORT") }
                return address
            }
        }
        if let control { settings.control = control }
        if let logLevel { settings.logLevel = logLevel }
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
            throw ExitCode(1)
        }
    }
}
