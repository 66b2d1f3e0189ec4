// CPU per entry of each stage of the replication path, in one process, without the network
// or the actors: what `perf` on two daemons shows as a blur of threads, one stage at a time.
//
//   swift build -c release --product tradesync-pipeline-bench
//   .build/release/tradesync-pipeline-bench [--batch 4096] [--base 0] [--live N] FILE
//
// FILE's records (the first of each key; later ones with the same key are dropped) are
// imported at a node A (a `ReplicaNode` over a `FileLog` in a temporary directory, signing as
// a node does). The first `--base` of them go to A in chunks of 50,000 and a node B catches up
// on them, untimed. Then, without `--live`, A imports the rest in chunks of 50,000 (the import
// stage) and B catches up batch by batch, as a session does: A fetches the next `--batch`
// entries after B's vector (fetch), builds the protocol-v3 columnar BATCH (encode), B decodes
// it (decode) and stages it: chain and signature check, log write, apply (stage); an fsync
// per batch at B (sync). With `--live N`, A imports the rest in appends of N records and B
// catches up after each one (the +100 path). Each stage's wall time is summed and printed per
// entry (per append with `--live`); in bulk mode B's state is then encoded and decoded as a
// checkpoint snapshot (µs per key). Both nodes reserve key-table room as the daemon does. The
// digests of A and B are compared at the end (exit 1 when they differ).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TradeSyncClock
import TradeSyncImport
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncWire

/// The two nodes' data directories, removed at the end and on failure.
let scratch = "/tmp/tradesync-pipeline-bench-\(getpid())"

func fail(_ message: String) -> Never {
    _ = system("rm -rf \(scratch)")
    let bytes = Array("tradesync-pipeline-bench: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

/// CLOCK_MONOTONIC in nanoseconds.
func nowNs() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int(spec.tv_sec) * 1_000_000_000 + Int(spec.tv_nsec)
}

/// Runs `body`, adds its wall time to `total`.
func timed<T>(_ total: inout Int, _ body: () throws -> T) rethrows -> T {
    let start = nowNs()
    defer { total += nowNs() - start }
    return try body()
}

var batchSize = 4096
var baseEntries = 0
var liveSize = 0
var path: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--batch":
        guard let value = arguments.popFirst().flatMap({ Int($0) }) else { fail("--batch needs a number") }
        batchSize = value
    case "--live":
        guard let value = arguments.popFirst().flatMap({ Int($0) }) else { fail("--live needs a number") }
        liveSize = value
    case "--base":
        guard let value = arguments.popFirst().flatMap({ Int($0) }) else { fail("--base needs a number") }
        baseEntries = value
    default: path = argument
    }
}
guard let path else { fail("usage: tradesync-pipeline-bench [--batch N] [--base N] [--live N] FILE") }

let report: ImportReport
do { report = try TradeFileImporter.read(path: path) } catch { fail("\(path): \(error)") }
var seen = Set<TradeKey>()
let records = report.rows.map(\.record).filter { seen.insert($0.key).inserted }

func node(_ name: String, seed: UInt8) -> ReplicaNode<FileLog> {
    do {
        let log = try FileLog.open(directory: "\(scratch)/\(name)")
        let signer = try ChainSigner(rawPrivateKey: [UInt8](repeating: seed, count: 32))
        var node = try ReplicaNode(localID: signer.origin, store: log)
        node.signer = signer
        return node
    } catch { fail("node \(name) in \(scratch): \(error)") }
}
_ = mkdir(scratch, 0o700)
var a = node("a", seed: 0xA1)
var b = node("b", seed: 0xB2)

/// Wall nanoseconds spent in each stage.
struct Stages {
    var fetch = 0, encode = 0, decode = 0, stage = 0, sync = 0
    var entries = 0, batches = 0, payloadBytes = 0
    var total: Int { fetch + encode + decode + stage + sync }
    static func += (lhs: inout Stages, rhs: Stages) {
        lhs.fetch += rhs.fetch; lhs.encode += rhs.encode; lhs.decode += rhs.decode; lhs.stage += rhs.stage
        lhs.sync += rhs.sync; lhs.entries += rhs.entries; lhs.batches += rhs.batches; lhs.payloadBytes += rhs.payloadBytes
    }
}

/// Imports `slice` at A in appends of at most `chunk` records; returns the wall nanoseconds.
@MainActor func importAtA(_ slice: ArraySlice<TradeRecord>, chunk: Int) -> Int {
    var elapsed = 0
    // As the daemon does with an import's import_total: room for every key at once.
    timed(&elapsed) { a.reserve(keys: slice.count) }
    var offset = slice.startIndex
    while offset < slice.endIndex {
        let part = Array(slice[offset..<min(offset + chunk, slice.endIndex)])
        do { _ = try timed(&elapsed) { try a.importRecords(part, nowMs: 1_764_460_800_000) } } catch {
            fail("import at A: \(error)")
        }
        offset += part.count
    }
    return elapsed
}

/// B catches up on everything A holds, batch by batch, as a session does.
@MainActor func catchUp() -> Stages {
    var stages = Stages()
    let policy = ReceivePolicy()
    // As the daemon does on the peer's VECTOR: room for the keys of the whole catch-up.
    timed(&stages.stage) { b.reserve(forCatchUpFrom: a.replica.vector) }
    do {
        while true {
            let fetched = try timed(&stages.fetch) {
                try a.fetch(after: b.durableVector, entriesMax: batchSize, bytesMax: Limits.batchBytesMax)
            }
            if fetched.isEmpty { break }
            // As a session cuts a batch: at most `batchSize` entries, ending at a signed one.
            let window = fetched.prefix(min(batchSize, Limits.batchEntriesMax))
            guard let end = window.lastIndex(where: { $0.signature != nil }) else { fail("no signature in \(window.count) entries") }
            let signed = Array(window[...end])
            let batch = timed(&stages.encode) {
                BatchMessage(id: BatchID(rawValue: UInt64(stages.batches + 1)), signed: signed, columnar: true)
            }
            let frame = Message.batch(batch).encoded()
            let decoded = try timed(&stages.decode) { () throws -> [SignedEntry] in
                var decoder = FrameDecoder()
                decoder.feed(frame)
                guard let whole = try decoder.next(), case .batch(let received) = try Message.decode(whole) else {
                    fail("not a BATCH")
                }
                return try received.decodeSignedEntries(dictionaries: PresetDictionary.known)
            }
            _ = try timed(&stages.stage) { try b.stageReceived(decoded, policy: policy) }
            try timed(&stages.sync) { try b.store.sync() }
            stages.entries += signed.count
            stages.batches += 1
            stages.payloadBytes += batch.payload.count
        }
    } catch { fail("catch-up at B: \(error)") }
    return stages
}

/// Microseconds with two decimals.
func micro(_ ns: Int, per count: Int) -> String {
    let hundredths = Int((Double(ns) / 10 / Double(max(count, 1))).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
}

func show(_ label: String, _ s: Stages, per count: Int) {
    print(
        "\(label): fetch \(micro(s.fetch, per: count)), encode \(micro(s.encode, per: count)), "
            + "decode \(micro(s.decode, per: count)), stage \(micro(s.stage, per: count)), "
            + "sync \(micro(s.sync, per: count)); total \(micro(s.total, per: count))")
}

let base = min(baseEntries, records.count)
_ = importAtA(records[..<base], chunk: 50_000)
_ = catchUp()
if liveSize == 0 {
    let importNs = importAtA(records[base...], chunk: 50_000)
    let count = records.count - base
    print("import of \(count) records in appends of 50,000: \(micro(importNs, per: count)) µs/record (\(count * 1_000_000_000 / max(importNs, 1)) records/s)")
    let stages = catchUp()
    print("catch-up of \(stages.entries) entries (base \(base)) in \(stages.batches) batches of up to \(batchSize), payload \(Double(stages.payloadBytes * 100 / max(stages.entries, 1)) / 100) B/entry")
    show("µs per entry", stages, per: stages.entries)
    // The checkpoint's snapshot of B's state (what a checkpoint encodes, and a restart decodes).
    let keys = b.replica.counts.keys
    var snapshotNs = 0
    let snapshot = timed(&snapshotNs) { b.replica.encodeSnapshot() }
    var restoreNs = 0
    do {
        let restored = try timed(&restoreNs) { try Replica.decodeSnapshot(snapshot, localID: b.replica.localID) }
        guard restored.digest() == b.replica.digest() else { fail("the decoded snapshot's digest differs") }
    } catch { fail("snapshot decode: \(error)") }
    print("snapshot of \(keys) keys, \(snapshot.count / max(keys, 1)) B/key: encode \(micro(snapshotNs, per: keys)), decode \(micro(restoreNs, per: keys)) µs/key")
    // The first write after a checkpoint starts: the checkpoint holds copies of B's replica
    // and log index while B goes on, so that write copies whatever it touches
    // (copy-on-write). 100 updates of held keys, sent as a +100 is; B's stage, in ms.
    var round = 0
    func plusHundredStage() -> Int {
        round += 1
        let updates = records.prefix(100).map { TradeRecord(key: $0.key, values: TradeValues(valueUSD: ExactDecimal(Int64(round)))) }
        _ = importAtA(updates[...], chunk: 100)
        return catchUp().stage
    }
    _ = plusHundredStage()
    let plain = plusHundredStage()
    let held = (b.replica, b.store.checkpointImage())
    let afterCopy = plusHundredStage()
    let next = plusHundredStage()
    withExtendedLifetime(held) {}
    // micro(ns, per: 1000) is milliseconds.
    print("+100 at B: stage \(micro(plain, per: 1000)) ms; right after a checkpoint's copy \(micro(afterCopy, per: 1000)) ms, then \(micro(next, per: 1000)) ms")
} else {
    var all = Stages()
    var importNs = 0
    var offset = base
    while offset < records.count {
        let end = min(offset + liveSize, records.count)
        importNs += importAtA(records[offset..<end], chunk: liveSize)
        all += catchUp()
        offset = end
    }
    let appends = (records.count - base + liveSize - 1) / liveSize
    print("\(appends) appends of \(liveSize) records on a base of \(base): import \(micro(importNs, per: appends)) µs per append")
    show("µs per append", all, per: appends)
    print("payload \(all.payloadBytes / max(appends, 1)) B per append")
}
let same = a.digest() == b.digest()
_ = system("rm -rf \(scratch)")
guard same else {
    print("digests differ after the catch-up")
    exit(1)
}
