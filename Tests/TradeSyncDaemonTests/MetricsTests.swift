import Foundation
import Logging
import NIOPosix
import Testing
import TradeSyncControl
import TradeSyncDaemon
import TradeSyncModel
import TradeSyncTransport

@Suite struct MetricsEndpointTests {
    @Test("Metrics: routing: GET /metrics and /health (query ignored); other paths 404, other methods 405")
    func routing() {
        #expect(MetricsEndpoint.route(method: "GET", uri: "/metrics") == .metrics)
        #expect(MetricsEndpoint.route(method: "GET", uri: "/metrics?name[]=x") == .metrics)
        #expect(MetricsEndpoint.route(method: "GET", uri: "/health") == .health)
        #expect(MetricsEndpoint.route(method: "POST", uri: "/metrics") == .methodNotAllowed)
        #expect(MetricsEndpoint.route(method: "HEAD", uri: "/health") == .methodNotAllowed)
        #expect(MetricsEndpoint.route(method: "GET", uri: "/") == .notFound)
        #expect(MetricsEndpoint.route(method: "GET", uri: "/metrics/") == .notFound)
        #expect(MetricsEndpoint.route(method: "DELETE", uri: "/nope") == .notFound)
    }

    @Test("Metrics: /health is 200 with counts while serving, 503 stopping, 503 failed with the reason as a JSON string")
    func health() {
        let serving = MetricsEndpoint.healthReply(.serving, entries: 9_553, peersConnected: 1, peersConfigured: 2)
        #expect(serving.status == 200)
        #expect(serving.contentType == "application/json")
        #expect(serving.body == "{\"status\":\"serving\",\"entries\":9553,\"peers_connected\":1,\"peers_configured\":2}\n")
        let stopping = MetricsEndpoint.healthReply(.stopping, entries: 1, peersConnected: 0, peersConfigured: 0)
        #expect(stopping.status == 503 && stopping.body == "{\"status\":\"stopping\"}\n")
        let failed = MetricsEndpoint.healthReply(
            .failed(reason: "fsync of \"segment-1.log\" failed:\tEIO\n"), entries: 1, peersConnected: 0, peersConfigured: 0)
        #expect(failed.status == 503)
        #expect(failed.body == "{\"status\":\"failed\",\"reason\":\"fsync of \\\"segment-1.log\\\" failed:\\tEIO\\n\"}\n")
        let decoded = try? JSONSerialization.jsonObject(with: Data(failed.body.utf8)) as? [String: String]
        #expect(decoded?["reason"] == "fsync of \"segment-1.log\" failed:\tEIO\n")
    }

    @Test("Metrics: import requests carry rejected_rows and import_total; a request without them (an older CLI) decodes to nil")
    func rejectedRowsKey() throws {
        let request = ControlRequest(command: .importRecords, file: "cement.csv", rejectedRows: 6_630)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(json.contains("\"rejected_rows\":6630"), "\(json)")
        #expect(try JSONDecoder().decode(ControlRequest.self, from: Data(json.utf8)) == request)
        let old = try JSONDecoder().decode(ControlRequest.self, from: Data("{\"command\":\"status\"}".utf8))
        #expect(old.rejectedRows == nil && old.command == .status)
        let first = ControlRequest(command: .importRecords, file: "r1m.csv", rejectedRows: 0, importTotal: 987_732)
        let firstJSON = String(decoding: try JSONEncoder().encode(first), as: UTF8.self)
        #expect(firstJSON.contains("\"import_total\":987732"), "\(firstJSON)")
        #expect(try JSONDecoder().decode(ControlRequest.self, from: Data(firstJSON.utf8)) == first)
        #expect(old.importTotal == nil)
    }

    @Test("Metrics: a real node's /metrics: log, counts, appended entries, import rows, fsyncs, a HELP per metric; stopping after shutdown")
    func nodeMetrics() async throws {
        let directory = "/tmp/tradesync-metrics-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = NodeConfig()
        config.dataDir = directory
        var logger = Logger(label: "metrics-test")
        logger.logLevel = .critical
        let node = try Node(identity: NodeIdentity.loadOrCreate(directory: directory), config: config, logger: logger)

        let put = await node.handle(
            ControlRequest(
                command: .put, key: "AUS:W00:X:252310:1988", fields: [FieldAssignment(field: "value_usd", value: "12.5")]),
            blob: [])
        #expect(put.error == nil)
        let records = try ["DEU:FRA:M:8542:2019", "DEU:FRA:M:8542:2020", "AUS:W00:X:252310:1988"].map {
            TradeRecord(key: try TradeKey(parsing: $0), values: TradeValues(quantityUnit: "kg"))
        }
        let imported = await node.handle(
            ControlRequest(command: .importRecords, file: "three.csv", rejectedRows: 2),
            blob: ControlFrame.encodeRecords(records))
        #expect(imported.importResult?.written == 3)

        let reply = await MetricsEndpoint.reply(method: "GET", uri: "/metrics", node: node)
        #expect(reply.status == 200)
        #expect(reply.contentType == "text/plain; version=0.0.4; charset=utf-8")
        let samples = PrometheusText.samples(reply.body)
        #expect(samples["tradesync_log_entries"] == 4)
        #expect(samples["tradesync_records"] == 3)
        #expect(samples["tradesync_keys"] == 3)
        #expect(samples["tradesync_conflicts"] == 0)
        #expect(samples["tradesync_tombstones"] == 0)
        #expect(samples["tradesync_entries_appended_total{source=\"local\"}"] == 1)
        #expect(samples["tradesync_entries_appended_total{source=\"import\"}"] == 3)
        #expect(samples["tradesync_entries_appended_total{source=\"received\"}"] == 0)
        #expect(samples["tradesync_import_rows_total{result=\"accepted\"}"] == 3)
        #expect(samples["tradesync_import_rows_total{result=\"rejected\"}"] == 2)
        #expect((samples["tradesync_fsync_duration_seconds_count"] ?? 0) >= 2)
        #expect(samples["tradesync_fsync_duration_seconds_bucket{le=\"0.0001\"}"] != nil)
        #expect(samples["tradesync_fsync_duration_seconds_bucket{le=\"1.0\"}"] != nil)
        #expect(samples.keys.contains { $0.hasPrefix("tradesync_peer_") } == false)
        let undocumented = PrometheusText.typedWithoutHelp(reply.body)
        #expect(undocumented.isEmpty, "no HELP: \(undocumented)")

        let health = await MetricsEndpoint.reply(method: "GET", uri: "/health", node: node)
        #expect(health.status == 200)
        #expect(health.body.contains("\"status\":\"serving\",\"entries\":4,\"peers_connected\":0,\"peers_configured\":0"))
        await node.shutdown()
        let stopped = await MetricsEndpoint.reply(method: "GET", uri: "/health", node: node)
        #expect(stopped.status == 503 && stopped.body.contains("\"status\":\"stopping\""))
    }

    @Test("Metrics: the HTTP server on 127.0.0.1:0 answers over a real socket: 200, 404, 405 with Allow, 503")
    func httpServer() async throws {
        var logger = Logger(label: "metrics-test")
        logger.logLevel = .critical
        let server = try await MetricsServer.start(
            PeerAddress(host: "127.0.0.1", port: 0), group: MultiThreadedEventLoopGroup.singleton, logger: logger
        ) { method, uri in
            switch MetricsEndpoint.route(method: method, uri: uri) {
            case .metrics:
                return MetricsReply(status: 200, contentType: MetricsEndpoint.metricsContentType, body: "x_total 7\n")
            case .health:
                return MetricsEndpoint.healthReply(.failed(reason: "disk full"), entries: 0, peersConnected: 0, peersConfigured: 0)
            case .notFound: return MetricsEndpoint.notFound
            case .methodNotAllowed: return MetricsEndpoint.methodNotAllowed(method)
            }
        }
        defer { server.close() }
        #expect(server.bound.port != 0)
        #expect(server.url == "http://127.0.0.1:\(server.bound.port)/metrics")
        let port = server.bound.port
        let metrics = try await HTTPProbe.request(port: port, path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metrics.body == "x_total 7\n")
        let health = try await HTTPProbe.request(port: port, path: "/health")
        #expect(health.status == 503 && health.body == "{\"status\":\"failed\",\"reason\":\"disk full\"}\n")
        #expect(try await HTTPProbe.request(port: port, path: "/nope").status == 404)
        let post = try await HTTPProbe.request(port: port, method: "POST", path: "/metrics")
        #expect(post.status == 405 && post.headers["allow"] == "GET")
    }
}

/// Reads Prometheus text format.
enum PrometheusText {
    /// Each sample line's series (`name{labels}`) and value.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// Names with a `# TYPE` line but no `# HELP` line.
    static func typedWithoutHelp(_ text: String) -> [String] {
        let lines = text.split(separator: "\n")
        let helped = Set(lines.filter { $0.hasPrefix("# HELP ") }.compactMap { $0.split(separator: " ").dropFirst(2).first })
        return lines.filter { $0.hasPrefix("# TYPE ") }.compactMap { $0.split(separator: " ").dropFirst(2).first }
            .filter { !helped.contains($0) }.map(String.init)
    }
}
