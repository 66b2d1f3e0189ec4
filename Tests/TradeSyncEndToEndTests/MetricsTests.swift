import Foundation
import Testing
import TradeSyncControl

#if canImport(Glibc)
import Glibc
#endif

/// Issue 7 §3: `/metrics` and `/health` of a real `tradesyncd`, scraped over TCP.
@Suite struct MetricsEndToEndTests {
    struct ImportJSON: Decodable {
        let written: Int
        let unchanged: Int
        let skipped: Int
    }

    /// Each sample line's series (`name{labels}`) and value.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test("E2E: metrics: A imports the cement file, B syncs from it; A's /metrics and /health show the real values")
    func scrapeAfterSync() throws {
        let root = Harness.tempDir("metrics")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        a.metrics = "127.0.0.1:0"
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort(), peers: [a.port])
        defer { a.stop(); b.stop() }
        try a.start()
        let port = try #require(a.metricsPort(), "no metrics URL in the startup line:\n\(a.log())")

        let imported = try a.json(
            ImportJSON.self, ["import", "--skip-invalid", Harness.dataFile(PeerLifecycleTests.cement)])
        #expect(imported.written == 9_553 && imported.skipped > 0)
        try b.start()
        let bID = try b.status().nodeID
        let bLabel = "peer=\"\(bID.prefix(12))\""
        // In sync: equal digests, and A has B's ACK for everything (every lag series 0).
        var scraped: [String: Double] = [:]
        var text = ""
        let synced = try Harness.waitUntil(seconds: 60) {
            guard try a.status().digest == b.status().digest else { return false }
            let response = try HTTPProbe.request(port: port, path: "/metrics")
            text = response.body
            scraped = Self.samples(text)
            let lags = scraped.filter { $0.key.hasPrefix("tradesync_peer_lag_entries{\(bLabel)") }
            return !lags.isEmpty && lags.values.allSatisfy { $0 == 0 }
        }
        #expect(synced, "lag never reached 0:\n\(text)")
        let status = try a.status()
        #expect(scraped["tradesync_log_entries"] == Double(status.entries))
        #expect(scraped["tradesync_records"] == Double(status.records))
        #expect(scraped["tradesync_keys"] == Double(status.keys))
        #expect(scraped["tradesync_conflicts"] == 0)
        #expect(scraped["tradesync_entries_appended_total{source=\"import\"}"] == Double(status.entries))
        #expect(scraped["tradesync_import_rows_total{result=\"accepted\"}"] == Double(imported.written + imported.unchanged))
        #expect(scraped["tradesync_import_rows_total{result=\"rejected\"}"] == Double(imported.skipped))
        #expect(scraped["tradesync_peer_connected{\(bLabel)}"] == 1)
        let origin = "origin=\"\(status.nodeID.prefix(12))\""
        #expect(scraped["tradesync_peer_lag_entries{\(bLabel),\(origin)}"] == 0)
        #expect((scraped["tradesync_peer_last_ack_age_seconds{\(bLabel)}"] ?? -1) >= 0)
        #expect((scraped["tradesync_fsync_duration_seconds_count"] ?? 0) > 0)
        #expect((scraped["tradesync_bytes_sent_total{\(bLabel)}"] ?? 0) > 0)
        #expect((scraped["tradesync_frames_received_total{\(bLabel)}"] ?? 0) > 0)
        #expect((scraped["tradesync_batch_compression_ratio"] ?? 0) > 1)
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(text.contains("# HELP \(name) "), "\(name) has no HELP line")
        }

        let health = try HTTPProbe.request(port: port, path: "/health")
        #expect(health.status == 200)
        #expect(health.headers["content-type"] == "application/json")
        #expect(
            health.body.contains(
                "\"status\":\"serving\",\"entries\":\(status.entries),\"peers_connected\":1,\"peers_configured\":0"),
            "\(health.body)")
        #expect(try HTTPProbe.request(port: port, path: "/nope").status == 404)
        #expect(try HTTPProbe.request(port: port, method: "POST", path: "/metrics").status == 405)
        #expect(a.stop() == 0)
    }

    @Test("E2E: metrics: a non-loopback --metrics or metrics key is refused (exit 2) naming it; a busy port fails startup (exit 1)")
    func addressErrors() throws {
        let root = Harness.tempDir("metrics-config")
        defer { try? FileManager.default.removeItem(at: root) }
        let flag = try Harness.run(
            "tradesyncd", ["--data-dir", root.appendingPathComponent("a").path, "--metrics", "10.1.2.3:7480"])
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("--metrics: '10.1.2.3:7480' is not a loopback address"), "\(flag.stderr)")
        let config = root.appendingPathComponent("node.toml").path
        try "metrics = \"0.0.0.0:7480\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let file = try Harness.run("tradesyncd", ["--config", config])
        #expect(file.status == 2)
        #expect(file.stderr.contains("\(config): metrics '0.0.0.0:7480' is not a loopback address"), "\(file.stderr)")

        // A port held by a listening socket of ours.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let held = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0
            }
        }
        try #require(held)
        let busy = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        let bound = try Harness.run(
            "tradesyncd",
            [
                "--data-dir", root.appendingPathComponent("b").path, "--listen", "127.0.0.1:\(Harness.freePort())",
                "--insecure", "--metrics", busy,
            ])
        #expect(bound.status == 1)
        #expect(bound.stderr.contains("cannot serve metrics on \(busy)"), "\(bound.stderr)")
    }
}
