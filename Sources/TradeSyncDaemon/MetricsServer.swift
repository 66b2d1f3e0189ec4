import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import TradeSyncTransport

/// One HTTP answer of the metrics endpoint, as plain values (no NIO), so the routing is
/// testable without a socket.
public struct MetricsReply: Sendable, Equatable {
    /// The HTTP status code: 200, 404, 405 or 503.
    public var status: Int
    /// The `Content-Type` header.
    public var contentType: String
    /// The body, UTF-8 (sent with its `Content-Length`).
    public var body: String
    /// The `Allow` header of a 405.
    public var allow: String?

    /// A reply with these header values and body.
    public init(status: Int, contentType: String, body: String, allow: String? = nil) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.allow = allow
    }
}

/// What `GET /metrics` and `GET /health` answer (issue 7 §3).
///
/// - `GET /metrics`: 200, the Prometheus text exposition format (version 0.0.4) of the
///   node's registry, its state gauges set from one ``Node/metricsSnapshot()`` first.
/// - `GET /health`: 200 `{"status":"serving","entries":N,"peers_connected":N,"peers_configured":N}`
///   while the node serves; 503 `{"status":"stopping"}` during shutdown; 503
///   `{"status":"failed","reason":"…"}` once the node hit a fatal error.
/// - Any other method on those paths: 405 with `Allow: GET`; any other path: 404. A query
///   string is ignored.
public enum MetricsEndpoint {
    /// Where a request goes.
    public enum Route: Equatable, Sendable {
        /// `GET /metrics`, `GET /health`, an unknown path, another method on a known path.
        case metrics, health, notFound, methodNotAllowed
    }

    /// `Content-Type` of `/metrics`.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"
    static let jsonContentType = "application/json"
    static let textContentType = "text/plain; charset=utf-8"

    /// Routes a request by its method (`GET`, …) and request target (`/metrics?x=1`).
    public static func route(method: String, uri: String) -> Route {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" || path == "/health" else { return .notFound }
        guard method == "GET" else { return .methodNotAllowed }
        return path == "/metrics" ? .metrics : .health
    }

    /// The `/health` answer for a node in state `health`, with its entry count and
    /// connected and configured peers (used only while it serves).
    public static func healthReply(
        _ health: NodeHealth, entries: Int, peersConnected: Int, peersConfigured: Int
    ) -> MetricsReply {
        switch health {
        case .serving:
            return MetricsReply(
                status: 200, contentType: jsonContentType,
                body:
                    "{\"status\":\"serving\",\"entries\":\(entries),\"peers_connected\":\(peersConnected),\"peers_configured\":\(peersConfigured)}\n"
            )
        case .stopping:
            return MetricsReply(status: 503, contentType: jsonContentType, body: "{\"status\":\"stopping\"}\n")
        case .failed(let reason):
            return MetricsReply(
                status: 503, contentType: jsonContentType,
                body: "{\"status\":\"failed\",\"reason\":\(jsonString(reason))}\n")
        }
    }

    /// Answers one request from `node`'s state: `/metrics` and a serving node's `/health`
    /// wait for the node's actor (one ``Node/metricsSnapshot()``); a stopping or failed
    /// node's `/health` does not.
    public static func reply(method: String, uri: String, node: Node) async -> MetricsReply {
        switch route(method: method, uri: uri) {
        case .metrics:
            let snapshot = await node.metricsSnapshot()
            return MetricsReply(status: 200, contentType: metricsContentType, body: node.metrics.render(snapshot))
        case .health:
            // Stopping or failed: answered without waiting for the (busy) node.
            let health = node.metrics.health
            guard health == .serving else {
                return healthReply(health, entries: 0, peersConnected: 0, peersConfigured: 0)
            }
            let snapshot = await node.metricsSnapshot()
            return healthReply(
                snapshot.health, entries: snapshot.entries, peersConnected: snapshot.peersConnected,
                peersConfigured: snapshot.peersConfigured)
        case .notFound: return notFound
        case .methodNotAllowed: return methodNotAllowed(method)
        }
    }

    /// The 404 answer.
    public static let notFound = MetricsReply(
        status: 404, contentType: textContentType, body: "not found: try /metrics or /health\n")

    /// The 405 answer to `method`, with `Allow: GET`.
    public static func methodNotAllowed(_ method: String) -> MetricsReply {
        MetricsReply(status: 405, contentType: textContentType, body: "method \(method) not allowed: use GET\n", allow: "GET")
    }

    /// `text` as a JSON string literal, quotes included.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A small HTTP/1.1 server (NIOHTTP1) for the metrics endpoint: one request per
/// connection, answered with `Connection: close`.
///
/// It serves from a task of its own, started by ``start(_:group:logger:respond:)``, until
/// ``close()``; the daemon closes it after the node shut down, so `/health` can answer
/// `stopping` meanwhile.
public final class MetricsServer: Sendable {
    /// The address actually bound (the port chosen when 0 was asked).
    public let bound: PeerAddress
    private let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let respond: @Sendable (_ method: String, _ uri: String) async -> MetricsReply
    private let logger: Logger

    /// `http://HOST:PORT/metrics` of the bound address.
    public var url: String { "http://\(bound)/metrics" }

    /// Serves ``MetricsEndpoint`` for `node` on its config's `metrics` address; nil when
    /// that is not set. - Throws: ``StartupError`` naming the address when it cannot be bound.
    static func start(serving node: Node, group: any EventLoopGroup, logger: Logger) async throws -> MetricsServer? {
        guard let address = await node.config.metrics else { return nil }
        return try await start(address, group: group, logger: logger) { method, uri in
            await MetricsEndpoint.reply(method: method, uri: uri, node: node)
        }
    }

    /// Binds `address` and starts serving `respond`'s answers.
    /// - Throws: ``StartupError`` naming the address when it cannot be bound.
    public static func start(
        _ address: PeerAddress, group: any EventLoopGroup, logger: Logger,
        respond: @escaping @Sendable (_ method: String, _ uri: String) async -> MetricsReply
    ) async throws -> MetricsServer {
        let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                    }
                }
        } catch {
            throw StartupError("cannot serve metrics on \(address): \(Daemon.describe(error))")
        }
        let port = server.channel.localAddress?.port ?? address.port
        let metrics = MetricsServer(
            bound: PeerAddress(host: address.host, port: port), server: server, respond: respond, logger: logger)
        Task { await metrics.serve() }
        return metrics
    }

    private init(
        bound: PeerAddress,
        server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
        respond: @escaping @Sendable (String, String) async -> MetricsReply, logger: Logger
    ) {
        self.bound = bound
        self.server = server
        self.respond = respond
        self.logger = logger
    }

    /// Stops accepting connections (those being answered finish).
    public func close() { server.channel.close(promise: nil) }

    private func serve() async {
        do {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.serveOne(connection) }
                    }
                }
            }
        } catch {
            logger.debug("metrics endpoint \(bound) closed: \(error)")
        }
    }

    private func serveOne(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var parts = inbound.makeAsyncIterator()  // the only iterator the stream allows
                reading: while let part = try await parts.next() {
                    switch part {
                    case .head(let request): head = request
                    case .body: continue  // no endpoint takes a body
                    case .end:
                        guard let request = head else { break reading }
                        let reply = await respond(request.method.rawValue, request.uri)
                        try await Self.write(reply, version: request.version, to: outbound)
                        break reading
                    }
                }
                // Closing now could drop the end of a large answer still queued: half-close
                // once it is flushed, and let the client (which reads to the end) close.
                outbound.finish()
                while try await parts.next() != nil {}
            }
        } catch {
            logger.debug("metrics connection failed: \(error)")
        }
    }

    private static func write(
        _ reply: MetricsReply, version: HTTPVersion, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        let body = ByteBuffer(string: reply.body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        if let allow = reply.allow { headers.add(name: "Allow", value: allow) }
        let status = HTTPResponseStatus(statusCode: reply.status)
        try await outbound.write(.head(HTTPResponseHead(version: version, status: status, headers: headers)))
        try await outbound.write(.body(.byteBuffer(body)))
        try await outbound.write(.end(nil))
    }
}
