import Logging
import NIOCore
import NIOPosix
import Synchronization
import TradeSyncClock
import TradeSyncSession

/// A `HOST:PORT` address as the config and the command line write it.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// Parses `HOST:PORT` or `[IPv6]:PORT`. Returns nil for anything else.
    public init?(_ text: String) {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard !hostPart.isEmpty, let port = Int(portPart), (0...65535).contains(port) else { return nil }
        if hostPart == "localhost" { hostPart = "127.0.0.1" }
        host = String(hostPart)
        self.port = port
    }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Exponential backoff for redialling a peer (AWS architecture blog, "Exponential Backoff
/// and Jitter", 2015): the ceiling is min(cap, base·2^attempt); "full jitter" draws the
/// delay from [0, ceiling] (never below `floor`), "equal jitter" from [ceiling/2, ceiling],
/// so that consecutive refusals are guaranteed to space out.
public struct Backoff: Sendable {
    public let base: Duration
    public let cap: Duration
    public let floor: Duration
    /// Draw from [ceiling/2, ceiling] instead of [0, ceiling].
    public let equalJitter: Bool
    public private(set) var attempt = 0

    public init(
        base: Duration = .milliseconds(200), cap: Duration = .seconds(15), floor: Duration = .milliseconds(50),
        equalJitter: Bool = false
    ) {
        self.base = base
        self.cap = cap
        self.floor = floor
        self.equalJitter = equalJitter
    }

    /// The backoff after a refusal that the next attempt will probably meet again (no
    /// common protocol version, our own node ID): 1 s, 2 s, 4 s, … up to 5 minutes, with
    /// equal jitter. Ten refusals take at least 4 minutes, so an incompatible peer sees a
    /// handful of connections, not a storm.
    public static func refusal() -> Backoff {
        Backoff(base: .seconds(1), cap: .seconds(300), floor: .milliseconds(500), equalJitter: true)
    }

    /// The next delay, growing with each call until ``reset()``.
    public mutating func next<R: RandomNumberGenerator>(using generator: inout R) -> Duration {
        let exponent = min(attempt, 16)
        attempt += 1
        let ceiling = min(cap, base * (1 << exponent))
        let ceilingMs = max(1, Int64(ceiling.components.seconds) * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000)
        let lowMs = equalJitter ? ceilingMs / 2 : 0
        let jittered = Duration.milliseconds(Int64.random(in: lowMs...ceilingMs, using: &generator))
        return max(floor, jittered)
    }

    /// Starts again from `base` (after a session that got through its handshake).
    public mutating func reset() { attempt = 0 }
}

/// One accepted connection: its channel (behind TLS when the node runs TLS), what TLS
/// proved about it (nil for plain TCP), and the remote address as logs show it.
public struct AcceptedLink: Sendable {
    /// The byte stream the session reads and writes (decrypted under TLS).
    public let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    /// What TLS proved about the peer; nil for plain TCP.
    public let proof: LinkProof?
    /// The remote `IP:PORT`.
    public let address: String
}

/// Accepts peer connections on the listen address and dials configured peers, running
/// one ``Connection`` per TCP stream (inside TLS 1.3 unless the node runs insecure).
public final class PeerNetwork: Sendable {
    /// The bound listener ``bind(_:)`` returns and ``serve(_:)`` runs.
    public typealias Listener = NIOAsyncChannel<AcceptedLink, Never>

    private let group: any EventLoopGroup
    private let host: any SessionHost
    private let configuration: SyncSession.Configuration
    private let security: TransportSecurity
    private let logger: Logger
    private let links = LinkCounter()
    private let refusals = RefusalLog()
    private let pins: PinningStore

    /// - Parameter security: ``TransportSecurity/tls(_:pinning:)`` for authenticated
    ///   peers, ``TransportSecurity/insecure`` for plain TCP.
    public init(
        group: any EventLoopGroup, host: any SessionHost, configuration: SyncSession.Configuration,
        security: TransportSecurity = .insecure, logger: Logger
    ) {
        self.group = group
        self.host = host
        self.configuration = configuration
        self.security = security
        self.logger = logger
        if case .tls(_, let pinning) = security {
            pins = PinningStore(pinning)
        } else {
            pins = PinningStore(PeerPinning(pins: []))
        }
    }

    /// Replaces the pins TLS checks peers against (a config reload). Connections already
    /// authenticated are not re-checked here; the node closes those of peers it no longer
    /// pins. Dials pass their own expected ID (``dial(_:expected:shouldDial:)``).
    public func updatePinning(_ pinning: PeerPinning) { pins.current = pinning }

    /// Binds the listen address. Returns the bound server; run it with ``serve(_:)``.
    /// - Throws: NIO's bind error (address in use, permission).
    public func bind(_ address: PeerAddress) async throws -> Listener {
        let security = security
        let refusals = refusals
        let pins = pins
        let logger = logger
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let remote = Self.text(channel.remoteAddress)
                    let proof = try Self.secure(
                        channel, direction: .inbound, address: remote, expected: nil, security: security,
                        pins: pins, refusals: refusals, logger: logger)
                    let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    return AcceptedLink(channel: wrapped, proof: proof, address: remote)
                }
            }
    }

    /// Serves inbound connections until the server channel is closed or the task is cancelled.
    public func serve(_ server: Listener) async {
        do {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await child in inbound {
                        group.addTask {
                            await self.runConnection(
                                child.channel, proof: child.proof, direction: .inbound, address: child.address)
                        }
                    }
                }
            }
        } catch is CancellationError {
            logger.debug("listener stopped at shutdown")
        } catch {
            logger.error("listener stopped: \(error)")
        }
    }

    /// Dials `address` until cancelled, redialling with ``Backoff`` after every failure
    /// or disconnect, and with ``Backoff/refusal()`` (seconds to minutes) after a
    /// persistent refusal such as a version mismatch. `shouldDial` lets the node skip
    /// dialling while a session with that peer already runs (it dialled us), so two nodes
    /// keep one session, not two. Over TLS, `expected` is the node ID pinned for `address`:
    /// a peer proving any other is refused (and redialled as after a refusal).
    public func dial(
        _ address: PeerAddress, expected: NodeID? = nil, shouldDial: @escaping @Sendable () async -> Bool
    ) async {
        var backoff = Backoff()
        var refusals = Backoff.refusal()
        var generator = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            var refused = false
            if await shouldDial() {
                do {
                    let security = security
                    let pins = pins
                    let refusalLog = self.refusals
                    let logger = logger
                    let text = address.description
                    let (channel, proof) = try await ClientBootstrap(group: group)
                        .connectTimeout(.seconds(5))
                        .channelOption(.socketOption(.tcp_nodelay), value: 1)
                        .connect(host: address.host, port: address.port) { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let proof = try Self.secure(
                                    channel, direction: .outbound, address: text, expected: expected,
                                    security: security, pins: pins, refusals: refusalLog, logger: logger)
                                let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                                    wrappingChannelSynchronously: channel)
                                return (wrapped, proof)
                            }
                        }
                    let start = ContinuousClock.now
                    let end = await runConnection(channel, proof: proof, direction: .outbound, address: text)
                    refused = (end.error?.isPersistentRefusal ?? false) || end.tlsRefused
                    if ContinuousClock.now - start > .seconds(5) { backoff.reset() }
                } catch {
                    await host.sessionEnded(
                        link: LinkID(rawValue: 0), address: address.description, reason: "dial failed: \(Self.dialFailure(error))", error: nil)
                }
            }
            // A peer that refused us (no common version) will refuse the next attempt too:
            // back off in minutes, not milliseconds, until something else happens.
            if refused {
                try? await Task.sleep(for: refusals.next(using: &generator))
            } else {
                refusals.reset()
                try? await Task.sleep(for: backoff.next(using: &generator))
            }
        }
    }

    /// One short reason for a failed dial: the OS's words for each address tried
    /// (`connection refused`, `no route to host`), `timed out after 5 s`, or the error.
    static func dialFailure(_ error: any Error) -> String {
        func one(_ error: any Error) -> String {
            if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
            if case ChannelError.connectTimeout = error { return "timed out after 5 s" }
            if let error = error as? NIOConnectionError {
                let reasons = error.connectionErrors.map { one($0.error) } + (error.dnsAAAAError.map { [one($0)] } ?? [])
                    + (error.dnsAError.map { [one($0)] } ?? [])
                var unique: [String] = []
                for reason in reasons where !unique.contains(reason) { unique.append(reason) }
                return unique.isEmpty ? "no address to connect to" : unique.joined(separator: "; ")
            }
            return "\(error)"
        }
        return one(error)
    }

    /// `IP:PORT` (IPv6 in brackets) for logs and status, not NIO's `[IPv4]host/ip:port`.
    static func text(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "unknown" }
        return PeerAddress(host: ip, port: port).description
    }

    @discardableResult
    private func runConnection(
        _ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, proof: LinkProof?, direction: LinkDirection,
        address: String
    ) async -> Connection.End {
        let link = links.next()
        var logger = logger
        logger[metadataKey: "peer"] = "\(address)"
        logger[metadataKey: "session"] = "\(link.rawValue)"
        logger.debug("connection open", metadata: ["direction": "\(direction.rawValue)"])
        let end = await Connection.run(
            channel: channel, link: link, direction: direction, address: address, configuration: configuration,
            host: host, proof: proof, logger: logger)
        await host.sessionEnded(link: link, address: address, reason: end.reason, error: end.error)
        return end
    }
}

/// Hands out link IDs 1, 2, 3, … (0 means "no link", e.g. a failed dial).
private final class LinkCounter: Sendable {
    private let value = Mutex<UInt64>(0)
    func next() -> LinkID {
        LinkID(rawValue: value.withLock { $0 += 1; return $0 })
    }
}
