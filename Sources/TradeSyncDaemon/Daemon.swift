import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TradeSyncClock
import UnixSignals
import TradeSyncSession
import TradeSyncTransport

#if canImport(Glibc)
import Glibc
#endif

/// Why the daemon could not start. One line, naming the file or address.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a node: opens the data directory, the log and the identity, listens for peers,
/// dials the configured ones, serves the control socket, and stops cleanly on SIGTERM
/// or SIGINT (sessions closed, log closed, exit 0).
public enum Daemon {
    /// Runs until SIGTERM/SIGINT. - Throws: ``StartupError`` or a log error at start.
    ///
    /// Under systemd (`Type=notify`, `$NOTIFY_SOCKET`): `STATUS=` lines while it opens the
    /// log, `READY=1` once the log is open and the listener and the control socket are
    /// bound, `WATCHDOG=1` from an event loop every half `WatchdogSec=`, and `STOPPING=1`
    /// at shutdown (``SystemdNotifier``). With `config.metrics` set, `/metrics` and
    /// `/health` are served there (``MetricsServer``) from then until the node has shut down.
    ///
    /// SIGHUP calls `reload` and applies what it returns (``Node/reconfigure(_:)``): the
    /// peer list and pins, `[[origin]]`, `checkpoint_entries`, and `log_level` through
    /// `levels`; sessions of peers that stay configured are kept. A config that fails to
    /// load is logged and the running one kept.
    public static func run(
        config: NodeConfig, logger: Logger, levels: LogLevelSwitch? = nil,
        reload: (@Sendable () throws -> NodeConfig)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws {
        let systemd = SystemdNotifier(environment: environment)
        do { try config.validateSecurity(source: "config") } catch { throw StartupError(error.description) }
        systemd.notify("STATUS=opening the log in \(config.dataDir)")
        try makeDirectory(config.dataDir)
        try lockDataDir(config.dataDir)
        let identity: NodeIdentity
        do { identity = try NodeIdentity.loadOrCreate(directory: config.dataDir) } catch {
            throw StartupError("node key: \(error)")
        }
        let node = try Node(identity: identity, config: config, logger: logger)
        let group = MultiThreadedEventLoopGroup.singleton
        let sessionConfiguration = SyncSession.Configuration(
            localID: identity.nodeID, logInstanceID: node.logInstanceID)
        let security = try transportSecurity(config: config, identity: identity, logger: logger)
        let network = PeerNetwork(
            group: group, host: node, configuration: sessionConfiguration, security: security, logger: logger)
        let server: PeerNetwork.Listener
        do { server = try await network.bind(config.listen) } catch {
            throw StartupError("cannot listen on \(config.listen): \(describe(error))")
        }
        let control: ControlServer
        do { control = try await ControlServer(
                path: config.controlPath, controlGroup: config.controlGroup, node: node, group: group, logger: logger) } catch {
            server.channel.close(promise: nil)
            if let error = error as? StartupError { throw error }
            throw StartupError("cannot create control socket \(config.controlPath): \(describe(error))")
        }
        let metrics: MetricsServer?
        do { metrics = try await MetricsServer.start(serving: node, group: group, logger: logger) } catch {
            server.channel.close(promise: nil)
            control.close()
            throw error
        }
        defer { metrics?.close() }  // after the node shut down: /health says "stopping" until then
        let bound = server.channel.localAddress.map { "\($0.ipAddress ?? config.listen.host):\($0.port ?? 0)" }
        logger.info(
            "tradesyncd node \(identity.nodeID.short) listening on \(bound ?? config.listen.description), control socket \(control.path), peers \(config.dialTargets.map(\.address.description)), \(config.insecure ? "INSECURE plain TCP" : "TLS 1.3, \(config.pinnedPeers.count) pinned peer(s)")\(metrics.map { ", metrics on \($0.url)" } ?? "")")
        let entries = await node.entryCount
        systemd.notify(
            "READY=1\nSTATUS=serving: \(entries) entries, listening on \(bound ?? config.listen.description), \(config.dialTargets.count) peer(s) to dial")
        let watchdog = systemd.startWatchdog(on: group)
        defer {
            watchdog?.cancel()
            systemd.notify("STOPPING=1\nSTATUS=stopping")
        }
        let service = NodeService(
            node: node, network: network, server: server, control: control,
            reloader: Reloader(reload: reload, levels: levels, systemd: systemd, logger: logger))
        // ServiceLifecycle's debug lines print whole service descriptions; keep it at info.
        var lifecycleLogger = logger
        lifecycleLogger.logLevel = .info
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: lifecycleLogger))
        try await serviceGroup.run()
        logger.info("tradesyncd stopped")
    }

    /// TLS 1.3 with a certificate made now for the node's key, or plain TCP when the
    /// config says `insecure` (logged as a warning).
    /// - Throws: ``StartupError`` when the certificate or the TLS contexts cannot be made.
    static func transportSecurity(config: NodeConfig, identity: NodeIdentity, logger: Logger) throws -> TransportSecurity {
        if config.insecure {
            logger.warning("insecure = true: peer connections are plain TCP and peers are not authenticated")
            return .insecure
        }
        do {
            let tls = try TLSIdentity(signingKey: identity.privateKey)
            precondition(tls.nodeID == identity.nodeID, "certificate node ID differs from node.key's")
            return .tls(try tls.contexts(), pinning: config.pinning)
        } catch {
            throw StartupError("TLS: \(error)")
        }
    }

    /// Loads the node key from `dataDir`, or makes it (and the directory) at first use:
    /// what `tradesyncd --print-id` prints before a node is configured.
    /// - Throws: ``StartupError`` naming the directory or the key file.
    public static func identity(dataDir: String) throws -> NodeIdentity {
        try makeDirectory(dataDir)
        do { return try NodeIdentity.loadOrCreate(directory: dataDir) } catch {
            throw StartupError("node key: \(error)")
        }
    }

    /// One line for a startup error: the OS reason for NIO's I/O errors, the error's own
    /// description otherwise.
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }

    static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST {
                throw StartupError("cannot create data directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Holds an exclusive lock on `DIR/LOCK` for the life of the process, so two daemons
    /// never share one data directory.
    static func lockDataDir(_ directory: String) throws {
        let path = directory + "/LOCK"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StartupError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StartupError("data directory \(directory) is in use by another tradesyncd (\(path) is locked)")
        }
        // The descriptor stays open (and locked) until the process exits.
    }
}

/// The node's long-running work as one ServiceLifecycle service.
struct NodeService: Service {
    let node: Node
    let network: PeerNetwork
    let server: PeerNetwork.Listener
    let control: ControlServer
    let reloader: Reloader

    /// Runs until SIGTERM/SIGINT (returns) or a node failure (throws, so the process
    /// exits 1 and systemd restarts it into recovery).
    func run() async throws {
        var failure: String?
        let dials = DialSupervisor(network: network, node: node)
        dials.start(await node.config.dialTargetSet)
        // Trap SIGHUP before anything else can deliver it: its default action ends the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withDiscardingTaskGroup { group in
            group.addTask { await network.serve(server) }
            group.addTask { await control.serve() }
            group.addTask {
                for await _ in hangups { await reloader.reload(node: node, network: network, dials: dials) }
            }
            // Wait for SIGTERM/SIGINT (or a node failure), then close listeners and end
            // every session.
            failure = await withTaskGroup(of: String?.self) { waits in
                waits.addTask {
                    try? await gracefulShutdown()
                    return nil
                }
                waits.addTask { await node.nextFailure() }
                let first = await waits.next() ?? nil
                waits.cancelAll()
                return first
            }
            await node.beginShutdown()  // ERROR shutdown to every peer, then they end
            server.channel.close(promise: nil)
            control.close()
            group.cancelAll()
        }
        await dials.stopAll()
        await node.shutdown()
        if let failure { throw StartupError(failure) }
    }
}

/// Re-reads the config on SIGHUP and applies it to the running node.
struct Reloader: Sendable {
    let reload: (@Sendable () throws -> NodeConfig)?
    let levels: LogLevelSwitch?
    let systemd: SystemdNotifier
    let logger: Logger

    /// Loads the config again and applies the reloadable keys; logs one line saying what
    /// changed. A config that does not load (bad TOML, a bad key, an insecure address)
    /// changes nothing and is logged as an error naming the file and key.
    func reload(node: Node, network: PeerNetwork, dials: DialSupervisor) async {
        guard let reload else {
            logger.notice("SIGHUP: no config file to re-read (started without --config); nothing changed")
            return
        }
        systemd.notify("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())\nSTATUS=reloading the config")
        defer { systemd.notify("READY=1\nSTATUS=serving (config reloaded)") }
        let fresh: NodeConfig
        do { fresh = try reload() } catch {
            logger.error("config reload failed, keeping the running config: \(error)")
            return
        }
        if let level = Logger.Level(rawValue: fresh.logLevel) { levels?.current = level }
        let outcome = await node.reconfigure(fresh)
        if !fresh.insecure { network.updatePinning(fresh.pinning) }
        await dials.stop(outcome.removed)
        dials.start(fresh.dialTargetSet)
        logger.notice("config reloaded: \(outcome.summary)")
    }
}
