import Testing
import TradeSyncDaemon
import TradeSyncTransport

#if canImport(Glibc)
import Glibc
#endif

private func writeTemp(_ text: String) -> String {
    let path = "/tmp/tradesync-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).toml"
    let file = fopen(path, "w")
    fputs(text, file)
    fclose(file)
    return path
}

@Suite struct NodeConfigTests {
    @Test("Config: every key is read from TOML")
    func fullFile() throws {
        let path = writeTemp(
            """
            data_dir = "/var/lib/tradesync"
            listen = "0.0.0.0:7500"
            peers = ["10.0.0.2:7400", "[::1]:7401"]
            control = "/run/tradesync/control.sock"
            log_level = "debug"
            """)
        defer { unlink(path) }
        let config = try NodeConfig.load(path: path)
        #expect(config.dataDir == "/var/lib/tradesync")
        #expect(config.listen == PeerAddress(host: "0.0.0.0", port: 7500))
        #expect(config.peers == [PeerAddress(host: "10.0.0.2", port: 7400), PeerAddress(host: "::1", port: 7401)])
        #expect(config.controlPath == "/run/tradesync/control.sock")
        #expect(config.logLevel == "debug")
    }

    @Test("Config: defaults: ./tradesync-data, 127.0.0.1:7400, control socket inside the data dir")
    func defaults() throws {
        let path = writeTemp("data_dir = \"/tmp/x\"\n")
        defer { unlink(path) }
        let config = try NodeConfig.load(path: path)
        #expect(config.listen.description == "127.0.0.1:7400")
        #expect(config.peers.isEmpty)
        #expect(config.controlPath == "/tmp/x/control.sock")
        #expect(NodeConfig().dataDir == "./tradesync-data")
    }

    @Test(
        "Config: a bad file names the file and the key",
        arguments: [
            ("listen = \"nowhere\"", "listen 'nowhere' is not HOST:PORT"),
            ("peers = \"127.0.0.1:1\"", "peers must be an array"),
            ("colour = \"blue\"", "unknown key 'colour'"),
            ("log_level = \"loud\"", "log level 'loud' is not one of"),
            ("listen = ", "invalid TOML"),
            ("metrics = \"10.0.0.1:7480\"", "metrics '10.0.0.1:7480' is not a loopback address (127.0.0.0/8 or ::1)"),
            ("metrics = \"[2001:db8::1]:7480\"", "metrics '[2001:db8::1]:7480' is not a loopback address"),
            ("metrics = \"127.0.0.1\"", "metrics '127.0.0.1' is not HOST:PORT"),
        ])
    func errors(text: String, expected: String) {
        let path = writeTemp(text)
        defer { unlink(path) }
        #expect {
            try NodeConfig.load(path: path)
        } throws: { error in
            let message = "\(error)"
            return message.hasPrefix(path + ": ") && message.contains(expected)
        }
    }

    @Test("Config: metrics is off by default; a loopback HOST:PORT (port 0 too) turns it on; the flag form names the flag")
    func metricsAddress() throws {
        #expect(NodeConfig().metrics == nil)
        let path = writeTemp("metrics = \"127.0.0.1:7480\"\n")
        defer { unlink(path) }
        #expect(try NodeConfig.load(path: path).metrics == PeerAddress(host: "127.0.0.1", port: 7480))
        #expect(try NodeConfig.metricsAddress("[::1]:0", "", "--metrics") == PeerAddress(host: "::1", port: 0))
        #expect(try NodeConfig.metricsAddress("localhost:9", "", "--metrics") == PeerAddress(host: "127.0.0.1", port: 9))
        #expect(try NodeConfig.metricsAddress("127.8.9.10:1", "", "--metrics").isLoopback)
        #expect { try NodeConfig.metricsAddress("0.0.0.0:7480", "", "--metrics") } throws: {
            "\($0)" == "--metrics: '0.0.0.0:7480' is not a loopback address (127.0.0.0/8 or ::1): the metrics endpoint has no authentication"
        }
    }

    @Test("Config: a missing file is an error naming it")
    func missing() {
        #expect { try NodeConfig.load(path: "/nonexistent/tradesyncd.toml") } throws: {
            "\($0)".hasPrefix("/nonexistent/tradesyncd.toml: cannot read file")
        }
    }
}

@Suite struct TransportUnitTests {
    @Test(
        "PeerAddress: HOST:PORT forms",
        arguments: [
            ("127.0.0.1:7400", "127.0.0.1:7400"), ("localhost:1", "127.0.0.1:1"), ("[::1]:7401", "[::1]:7401"),
            ("office-b.example:7400", "office-b.example:7400"),
        ])
    func addresses(text: String, canonical: String) {
        #expect(PeerAddress(text)?.description == canonical)
    }

    @Test("PeerAddress: malformed forms are refused", arguments: ["7400", "host:", ":7400", "host:99999", "[::1]7400"])
    func badAddresses(text: String) {
        #expect(PeerAddress(text) == nil)
    }

    @Test("Backoff: delays stay within [floor, min(cap, base·2^n)] and reset")
    func backoff() {
        var backoff = Backoff(base: .milliseconds(100), cap: .seconds(2), floor: .milliseconds(10))
        var generator = SystemRandomNumberGenerator()
        for attempt in 0..<12 {
            let delay = backoff.next(using: &generator)
            let ceiling = min(Duration.seconds(2), .milliseconds(100) * (1 << attempt))
            #expect(delay >= .milliseconds(10) && delay <= ceiling, "attempt \(attempt): \(delay)")
        }
        #expect(backoff.attempt == 12)
        backoff.reset()
        #expect(backoff.attempt == 0)
        #expect(backoff.next(using: &generator) <= .milliseconds(100))
    }
}
