// BATCH wire bytes per entry: plain, deflate (no dictionary), deflate with the trade-1 preset
// dictionary, and the columnar payload of protocol v3 (uncompressed, and as sent), for batches of 1, 10, 100 and 1000 entries (issue 5 §8, "Compression that pays").
//
//   swift build -c release --product tradesync-compression-bench
//   .build/release/tradesync-compression-bench [--sizes 1,10,100,1000] [--dump DIR [--dump-only]] FILE...
//   Benchmarks/compression_bench.sh                      (the files the report uses)
//
// Each FILE is imported as `tradesync import` reads it (any ImportFormat) and its records become
// entries the way a node authors an import (Replica.prepare): one origin (32 bytes from a fixed
// seed), seqs 1, 2, 3… in file order, HLCs from one wall-clock reading (logical 0, 1, 2…), empty
// causal contexts (fresh keys). The entries are cut, in order, into batches of N; a file with fewer
// than N entries gives one batch of all of them. Bytes are whole frames: the 4-byte length, type,
// BATCH header and payload, exactly as BatchMessage builds them (so "deflate" is sent plain when
// deflate does not pay, as a sender does). `--dump DIR` also writes DIR/NAME.payload, every entry
// as `varint length | entry` (the input of Protocol/dictionaries/build_trade_dictionary.py).
//
// A second table tells where the dictionary starts to pay: for 1-entry batches, by payload size,
// how often deflate with the dictionary (forced, ignoring thresholds) came out shorter than plain.
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

struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func fail(_ message: String) -> Never {
    let bytes = Array("tradesync-compression-bench: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

/// Writes `bytes` to a new file at `path`, or exits.
func writeFile(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { fail("cannot write \(path)") }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, bytes.count - offset) }
        guard written > 0 else { fail("write to \(path) failed") }
        offset += written
    }
}

/// One origin's entries for `records`, as a node authors an import.
func entries(for records: [TradeRecord], seed: UInt64) -> [Entry] {
    var random = SplitMix64(state: seed)
    var originBytes: [UInt8] = []
    while originBytes.count < NodeID.byteCount {
        withUnsafeBytes(of: random.next()) { originBytes.append(contentsOf: $0) }
    }
    guard let origin = NodeID(bytes: Array(originBytes.prefix(NodeID.byteCount))) else { fail("node ID") }
    var replica = Replica(localID: origin)
    let writes = records.map { (key: $0.key, operation: Operation.put($0.values)) }
    return replica.prepare(writes, nowMs: 1_764_460_800_000)  // 2025-11-30T00:00:00Z
}

func frameBytes(_ batch: BatchMessage) -> Int { Message.batch(batch).encoded().count }

func payload(_ entries: some Collection<Entry>) -> [UInt8] {
    var writer = ByteWriter()
    for entry in entries { writer.writeLengthPrefixed(entry.encoded()) }
    return writer.bytes
}

struct Row {
    var batches = 0
    var entries = 0
    var plain = 0, deflate = 0, dictionary = 0, columnar = 0, columnarPlain = 0
    var deflatedBatches = 0, dictionaryBatches = 0
    var dictionaryNanoseconds: Int64 = 0
}

func measure(_ all: [Entry], batchSize: Int) -> Row {
    var row = Row()
    let size = min(batchSize, all.count)
    let clock = ContinuousClock()
    var start = 0
    while start + size <= all.count {
        let slice = Array(all[start..<start + size])
        let id = BatchID(rawValue: UInt64(row.batches + 1))
        let plainPayload = payload(slice)
        row.plain += frameBytes(
            BatchMessage(
                id: id, entryCount: size, isDeflated: false, uncompressedLength: plainPayload.count,
                payload: plainPayload))
        let deflated = BatchMessage(id: id, entries: slice)
        row.deflate += frameBytes(deflated)
        row.deflatedBatches += deflated.isDeflated ? 1 : 0
        var withDictionary: BatchMessage?
        let elapsed = clock.measure { withDictionary = BatchMessage(id: id, entries: slice, dictionary: .trade1) }
        guard let withDictionary else { fail("no batch") }
        row.dictionaryNanoseconds += elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000
        row.dictionary += frameBytes(withDictionary)
        row.dictionaryBatches += withDictionary.isDeflated ? 1 : 0
        guard (try? withDictionary.decodeEntries(dictionaries: [.trade1])) == slice else { fail("round trip failed") }
        // Protocol v3: the columnar payload (flag bit 2), deflated per column, no dictionary.
        let columnar = BatchMessage(id: id, entries: slice, columnar: true)
        row.columnar += frameBytes(columnar)
        row.columnarPlain += columnar.uncompressedLength
        guard let back = try? columnar.decodeEntries(), back.map({ $0.encoded() }) == slice.map({ $0.encoded() }) else {
            fail("columnar round trip failed")
        }
        row.batches += 1
        row.entries += size
        start += size
    }
    return row
}

/// `value` with one decimal, e.g. `-7.5`.
func format(_ value: Double) -> String {
    let tenths = Int((abs(value) * 10).rounded())
    return (value < 0 && tenths > 0 ? "-" : "") + "\(tenths / 10).\(tenths % 10)"
}

/// For 1-entry batches: by payload size bucket, batches, share where deflate (no dictionary,
/// forced) and deflate with trade-1 (forced) are shorter than plain, and the mean saving.
func thresholdTable(_ all: [Entry], name: String) {
    let bounds = [0, 64, 80, 96, 112, 128, 160, 192, 256, 100_000]
    var stats = [(count: Int, winsPlain: Int, winsDictionary: Int, saved: Int)](
        repeating: (0, 0, 0, 0), count: bounds.count - 1)
    for entry in all.prefix(5_000) {
        let plain = payload([entry])
        guard let bucket = bounds.indices.dropLast().last(where: { bounds[$0] <= plain.count }) else { continue }
        let packed = (try? Zlib.deflate(plain))?.count ?? .max
        let withDictionary = (try? Zlib.deflate(plain, dictionary: .trade1))?.count ?? .max
        stats[bucket].count += 1
        stats[bucket].winsPlain += packed < plain.count ? 1 : 0
        stats[bucket].winsDictionary += withDictionary < plain.count ? 1 : 0
        stats[bucket].saved += plain.count - withDictionary
    }
    for (index, stat) in stats.enumerated() where stat.count > 0 {
        let range = bounds[index + 1] >= 100_000 ? "\(bounds[index])+" : "\(bounds[index])-\(bounds[index + 1] - 1)"
        print(
            "| \(name) | \(range) | \(stat.count) | \(stat.winsPlain * 100 / stat.count)% | "
                + "\(stat.winsDictionary * 100 / stat.count)% | \(format(Double(stat.saved) / Double(stat.count))) |")
    }
}

var sizes = [1, 10, 100, 1000]
var dumpDirectory: String?
var dumpOnly = false
var files: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--sizes":
        guard let list = arguments.popFirst() else { fail("--sizes needs a value") }
        sizes = list.split(separator: ",").compactMap { Int($0) }
    case "--dump":
        guard let directory = arguments.popFirst() else { fail("--dump needs a directory") }
        dumpDirectory = directory
    case "--dump-only": dumpOnly = true
    default: files.append(argument)
    }
}
if files.isEmpty {
    fail("usage: tradesync-compression-bench [--sizes 1,10,100,1000] [--dump DIR [--dump-only]] FILE...")
}

print("dictionary: \(PresetDictionary.trade1), threshold \(PresetDictionary.trade1.deflateThresholdBytes) bytes")
print(
    "| source | entries/batch | batches | plain B/entry | deflate B/entry | dict B/entry | deflated | dict deflated "
        + "| dict µs/batch | columnar plain B/entry | columnar B/entry (v3) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
var perFile: [(name: String, entries: [Entry])] = []
for (index, path) in files.enumerated() {
    let report: ImportReport
    do { report = try TradeFileImporter.read(path: path) } catch { fail("\(path): \(error)") }
    let name = String(path.split(separator: "/").last ?? Substring(path))
    let all = entries(for: report.rows.map(\.record), seed: 0x5EED_0000 + UInt64(index))
    perFile.append((name, all))
    if let dumpDirectory { writeFile(payload(all), to: "\(dumpDirectory)/\(name).payload") }
    if dumpOnly { continue }
    for size in sizes {
        let row = measure(all, batchSize: size)
        guard row.entries > 0 else { continue }
        let perEntry = { (bytes: Int) in format(Double(bytes) / Double(row.entries)) }
        print(
            "| \(name) (\(all.count)) | \(min(size, all.count)) | \(row.batches) | \(perEntry(row.plain)) | "
                + "\(perEntry(row.deflate)) | \(perEntry(row.dictionary)) | "
                + "\(row.deflatedBatches * 100 / row.batches)% | \(row.dictionaryBatches * 100 / row.batches)% | "
                + "\(format(Double(row.dictionaryNanoseconds) / Double(row.batches) / 1000)) | "
                + "\(perEntry(row.columnarPlain)) | \(perEntry(row.columnar)) |")
    }
}
print("")
print("1-entry batches by payload size: share shorter than plain when deflated anyway (forced)")
print("| source | payload bytes | batches | deflate wins | dict wins | dict saves B (mean) |")
print("|---|---|---:|---:|---:|---:|")
for file in perFile where !dumpOnly { thresholdTable(file.entries, name: file.name) }
