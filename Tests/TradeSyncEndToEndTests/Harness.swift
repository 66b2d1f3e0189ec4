import Foundation
import Testing
import TradeSyncControl

#if canImport(Glibc)
import Glibc
#endif

/// Locates the package's binaries and the shared trade data, and runs them.
enum Harness {
    /// The directory holding `tradesyncd` and `tradesync`: the test runner's own directory.
    static let binDir: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    /// `shared/data/trade` beside the checkout, or `$TRADESYNC_DATA_DIR`.
    static let dataDir: URL = {
        if let env = ProcessInfo.processInfo.environment["TRADESYNC_DATA_DIR"] { return URL(fileURLWithPath: env) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/trade")
    }()

    static func dataFile(_ name: String) -> String { dataDir.appendingPathComponent(name).path }

    /// A fresh temporary directory, removed by the caller.
    static func tempDir(_ label: String) -> URL {
        let url = URL(fileURLWithPath: "/tmp/tradesync-e2e-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a binary to completion and captures its output (through files, so a chatty
    /// stderr can never fill a pipe and stall the child).
    /// `binary` is one of ours (looked up beside the test bundle) or an absolute path.
    static func run(_ binary: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL =
            binary.hasPrefix("/") ? URL(fileURLWithPath: binary) : binDir.appendingPathComponent(binary)
        process.arguments = arguments
        let base = "/tmp/tradesync-e2e-out-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }

    /// The number of ESTABLISHED TCP endpoints on this host whose local or remote port is
    /// one of `ports` (one loopback connection between two of them counts 2), from /proc/net/tcp.
    static func establishedEndpoints(ports: Set<Int>) -> Int {
        // procfs reports size 0, so read to the end rather than trust a size-based read.
        guard let handle = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return -1 }
        defer { try? handle.close() }
        let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var count = 0
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[3] == "01" else { continue }
            let endpoints = [fields[1], fields[2]].compactMap { $0.split(separator: ":").last.flatMap { Int($0, radix: 16) } }
            if endpoints.contains(where: ports.contains) { count += 1 }
        }
        return count
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass. Returns whether it held.
    static func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }
}

/// One `tradesyncd` process with its own data directory and ports.
///
/// By default a node runs plain TCP (`--insecure`, allowed on 127.0.0.1) and dials
/// `peers` by port. In TLS mode (``tls``) it runs TLS 1.3 and its config file pins
/// ``pins``: give each node's ``nodeID()`` to the others before starting them.
final class NodeProcess {
    let name: String
    let dataDir: URL
    let port: Int
    var peers: [Int]
    /// When set, the daemon is started with `--config FILE` instead of flags.
    var configFile: String?
    /// TLS 1.3 with pinned peers instead of `--insecure`.
    var tls = false
    /// TLS mode: the peers pinned in the config, by full node ID; a port makes the node
    /// dial `127.0.0.1:PORT`, nil pins a peer that only dials in.
    var pins: [(id: String, port: Int?)] = []
    /// TLS mode: `origins` of a pin's `[[peer]]` table, by the pin's ID.
    var pinOrigins: [String: [String]] = [:]
    /// Extra environment variables for the daemon (over the test's own).
    var environment: [String: String] = [:]
    /// Sets `JOURNAL_STREAM` to the log file's device and inode, as systemd does for a
    /// journal stream, so the daemon writes for journald.
    var journald = false
    /// When set, `--metrics ADDRESS` (for example `127.0.0.1:0`); ``metricsPort()`` reads
    /// the bound port from the startup line.
    var metrics: String?
    private var process: Process?
    private var logHandle: FileHandle?

    var control: String { dataDir.appendingPathComponent("control.sock").path }
    var logPath: String { dataDir.path + ".log" }

    init(name: String, root: URL, port: Int, peers: [Int] = []) {
        self.name = name
        self.dataDir = root.appendingPathComponent(name)
        self.port = port
        self.peers = peers
    }

    /// Starts the daemon and waits until its control socket answers `status`.
    func start() throws {
        let process = Process()
        process.executableURL = Harness.binDir.appendingPathComponent("tradesyncd")
        if tls {
            process.arguments = ["--config", try writeTLSConfig()]
        } else if let configFile {
            process.arguments = ["--config", configFile, "--insecure"]
        } else {
            process.arguments = [
                "--data-dir", dataDir.path, "--listen", "127.0.0.1:\(port)", "--log-level", "debug", "--insecure",
            ] + peers.flatMap { ["--peer", "127.0.0.1:\($0)"] }
        }
        if let metrics { process.arguments? += ["--metrics", metrics] }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        handle.seekToEndOfFile()
        if journald {
            let stream = try Harness.run("/usr/bin/stat", ["-c", "%d:%i", logPath]).stdout
            environment["JOURNAL_STREAM"] = stream.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        process.standardError = handle
        process.standardOutput = handle
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try process.run()
        self.process = process
        self.logHandle = handle
        let up = Harness.waitUntil(seconds: 20) { (try? status()) != nil }
        if !up { throw HarnessError("\(name) did not start; log:\n\(log())") }
    }

    /// The node's full ID, from `tradesyncd --print-id` (which makes the key at first use).
    func nodeID() throws -> String {
        let result = try Harness.run("tradesyncd", ["--print-id", "--data-dir", dataDir.path])
        guard result.status == 0, let line = result.stdout.split(separator: "\n").first else {
            throw HarnessError("\(name): tradesyncd --print-id failed: \(result.stderr)")
        }
        return String(line)
    }

    /// Writes `DATA_DIR.toml` for TLS mode: listen, debug logs, one `[[peer]]` per pin.
    func writeTLSConfig() throws -> String {
        var text = """
            data_dir = "\(dataDir.path)"
            listen = "127.0.0.1:\(port)"
            log_level = "debug"

            """
        for pin in pins {
            text += "\n[[peer]]\nid = \"\(pin.id)\"\n"
            if let port = pin.port { text += "address = \"127.0.0.1:\(port)\"\n" }
            if let origins = pinOrigins[pin.id] {
                text += "origins = [" + origins.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
            }
        }
        let path = dataDir.path + ".toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// SIGTERM, then waits for exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard let process else { return -1 }
        process.terminate()
        process.waitUntilExit()
        try? logHandle?.close()
        self.process = nil
        return process.terminationStatus
    }

    /// Sends `signal` to the running daemon.
    func send(_ signal: Int32) {
        guard let process else { return }
        kill(process.processIdentifier, signal)
    }

    /// Waits up to `seconds` for the daemon to exit; its exit status, or nil if it still runs.
    func waitForExit(seconds: Double) -> Int32? {
        guard let process else { return nil }
        guard Harness.waitUntil(seconds: seconds, { !process.isRunning }) else { return nil }
        try? logHandle?.close()
        self.process = nil
        return process.terminationStatus
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The metrics endpoint's port, from the last startup line (`metrics on http://HOST:PORT/metrics`).
    func metricsPort() -> Int? {
        guard let line = log().split(separator: "\n").last(where: { $0.contains("metrics on http://") }),
            let url = line.split(separator: " ").last(where: { $0.hasPrefix("http://") }),
            let port = url.split(separator: "/").dropFirst().first?.split(separator: ":").last
        else { return nil }
        return Int(port)
    }

    /// Runs `tradesync ARGS --control THIS`.
    func cli(_ arguments: [String]) throws -> Harness.Result {
        try Harness.run("tradesync", arguments + ["--control", control])
    }

    /// Runs a `--json` command and decodes its output.
    func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) throws -> T {
        let result = try cli(arguments + ["--json"])
        guard result.status == 0 else { throw HarnessError("\(name): tradesync \(arguments) failed: \(result.stderr)") }
        return try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    }

    func status() throws -> StatusReport { try json(StatusReport.self, ["status"]) }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
