// tradesync-bench: the log's benchmarks (issue 4). Not a test: it prints figures.
//
//   tradesync-bench fsync   --dir D [--count 200]            raw fsync latency of the disk under D
//   tradesync-bench append  --dir D --writers W --seconds S   durable appends through the node's
//                                                             group commit, W concurrent writers
//   tradesync-bench restart --dir D --entries N               node start time with and without the
//                                                             checkpoint, on a log of N entries
//
// Benchmarks/log_bench.sh runs them all on a release build and prints the table.

import ArgumentParser
import Logging
import TradeSyncClock
import TradeSyncDaemon
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncTransport

#if canImport(Glibc)
    import Glibc
#endif

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradesync-bench", abstract: "Benchmarks of the TradeSync log.",
        subcommands: [FsyncBench.self, AppendBench.self, RestartBench.self])
}

/// Seconds on the monotonic clock.
func now() -> Double { Double(MonotonicClock.now().nanoseconds) / 1e9 }

func quiet() -> Logger {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    return logger
}

/// The `index`-th synthetic key: distinct for every index below 900,000 × 100.
func benchKey(_ index: Int) throws -> TradeKey {
    let commodity = 100_000 + index % 900_000
    let year = 1950 + index / 900_000
    return try TradeKey(text: "USA:CHN:M:\(commodity):\(year)")
}

func benchValues(_ index: Int) -> TradeValues {
    TradeValues(
        valueUSD: ExactDecimal(Int64(1_000 + index % 97_531)), netWeightKg: ExactDecimal(Int64(index % 5_000)),
        quantity: ExactDecimal(Int64(index % 777)), quantityUnit: "kg")
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func fresh(_ directory: String) throws {
    let status = system("rm -rf '\(directory)' && mkdir -p '\(directory)'")
    guard status == 0 else { throw ValidationError("cannot reset \(directory)") }
}

struct FsyncBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsync", abstract: "Raw fsync latency: append 200 bytes, fsync; repeated.")
    @Option var dir: String
    @Option var count = 200

    func run() throws {
        try fresh(dir)
        let path = dir + "/fsync-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot create \(path)") }
        defer { close(fd) }
        let record = [UInt8](repeating: 0x5A, count: 200)
        var samples: [Double] = []
        for _ in 0..<count {
            let start = now()
            _ = record.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard fsync(fd) == 0 else { throw ValidationError("fsync failed: errno \(errno)") }
            samples.append(now() - start)
        }
        samples.sort()
        print(
            "fsync: \(count) × (write 200 B + fsync): median \(ms(percentile(samples, 0.5))) ms, p90 \(ms(percentile(samples, 0.9))) ms, p99 \(ms(percentile(samples, 0.99))) ms"
        )
    }
}

func ms(_ seconds: Double) -> String {
    let hundredths = Int((seconds * 100_000).rounded())
    let fraction = String(hundredths % 100)
    return "\(hundredths / 100)." + String(repeating: "0", count: 2 - fraction.count) + fraction
}

func makeNode(_ dir: String) throws -> Node {
    var config = NodeConfig()
    config.dataDir = dir
    let identity = try NodeIdentity.loadOrCreate(directory: dir)
    return try Node(identity: identity, config: config, logger: quiet())
}

struct AppendBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Durable appends (one entry each) from concurrent writers through the node's group commit.")
    @Option var dir: String
    @Option var writers = 1
    @Option var seconds = 3.0

    func run() async throws {
        try fresh(dir)
        let node = try makeNode(dir)
        let deadline = now() + seconds
        let started = now()
        let counts = try await withThrowingTaskGroup(of: (Int, [Double]).self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var written = 0
                    var latencies: [Double] = []
                    while now() < deadline {  // bound: the deadline
                        let index = writer * 10_000_000 + written
                        let start = now()
                        _ = try await node.writeLocal([(key: try benchKey(index), operation: .put(benchValues(index)))])
                        latencies.append(now() - start)
                        written += 1
                    }
                    return (written, latencies)
                }
            }
            var total = 0
            var all: [Double] = []
            for try await (written, latencies) in group {
                total += written
                all += latencies
            }
            return (total, all.sorted())
        }
        let elapsed = now() - started
        let (syncs, released) = await node.groupCommitCounters()
        await node.shutdown()
        let rate = Int(Double(counts.0) / elapsed)
        print(
            "append: \(writers) writer(s), \(counts.0) durable entries in \(ms(elapsed)) ms = \(rate) entries/s; \(syncs) fsyncs (\(released) writes released, \(ratio(released, syncs)) per fsync); latency median \(ms(percentile(counts.1, 0.5))) ms, p99 \(ms(percentile(counts.1, 0.99))) ms"
        )
    }
}

func ratio(_ a: Int, _ b: Int) -> String {
    guard b > 0 else { return "-" }
    let tenths = (a * 10 + b / 2) / b
    return "\(tenths / 10).\(tenths % 10)"
}

struct RestartBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Node start time on a log of N entries: with the checkpoint, then with it deleted (full replay).")
    @Option var dir: String
    @Option var entries = 1_000_000
    @Option var batch = 50_000

    func run() async throws {
        try fresh(dir)
        var node = try makeNode(dir)
        let buildStart = now()
        var written = 0
        while written < entries {  // bound: entries
            let count = min(batch, entries - written)
            let records = try (written..<(written + count)).map { TradeRecord(key: try benchKey($0), values: benchValues($0)) }
            _ = try await node.importRecords(records)
            written += count
        }
        let built = now() - buildStart
        let digest = await node.digestHex()
        let stopStart = now()
        await node.shutdown()
        let stopped = now() - stopStart
        var sizes = 0
        node = try timed("with checkpoint") { try makeNode(dir) }
        let withDigest = await node.digestHex()
        sizes = logBytes(dir)
        await node.shutdown()
        _ = unlink(dir + "/checkpoint")
        node = try timed("without checkpoint (full replay)") { try makeNode(dir) }
        let replayDigest = await node.digestHex()
        await node.shutdown()
        print(
            "restart: \(entries) entries, log \(sizes / 1_000_000) MB; built in \(ms(built)) ms, clean stop (final checkpoint) \(ms(stopped)) ms; digests equal: \(digest == withDigest && digest == replayDigest)"
        )
        guard digest == withDigest && digest == replayDigest else { throw ExitCode(1) }
    }

    func timed(_ label: String, _ body: () throws -> Node) rethrows -> Node {
        let start = now()
        let node = try body()
        print("restart: \(label): node serving after \(ms(now() - start)) ms (open, checksums, state rebuilt)")
        return node
    }
}

/// Bytes of the segment files in `dir`.
func logBytes(_ dir: String) -> Int {
    var total = 0
    var number = 1
    while true {  // bound: the segments present
        var info = stat()
        let digits = String(number)
        let name = "segment-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".log"
        guard stat(dir + "/" + name, &info) == 0 else { return total }
        total += Int(info.st_size)
        number += 1
    }
}
