import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory under the system temp directory, removed by ``remove()``.
struct TempDirectory {
    let path: String

    init() throws {
        let name = "tradesync-log-test-\(UInt64.random(in: 0...UInt64.max))"
        path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside this directory.
    func sub(_ name: String) -> String { path + "/" + name }

    func remove() {
        // Restore permissions first, in case a test made something read-only.
        _ = chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh temp directory and removes it afterwards.
func withTempDirectory(_ body: (TempDirectory) throws -> Void) throws {
    let directory = try TempDirectory()
    defer { directory.remove() }
    try body(directory)
}

/// The NodeID whose 32 bytes are all `byte`.
func node(_ byte: UInt8) throws -> NodeID {
    try #require(NodeID(bytes: [UInt8](repeating: byte, count: NodeID.byteCount)))
}

/// A put of `CHN:DEU:X:850760:2022` by `origin` at `seq`; the values vary with `seq` and
/// `salt` so that every entry encodes differently.
func makeEntry(_ origin: NodeID, _ seq: UInt64, salt: Int64 = 0) throws -> Entry {
    let key = try TradeKey(parsing: "CHN:DEU:X:850760:2022")
    let values = TradeValues(
        valueUSD: ExactDecimal(Int64(seq) * 1_000 + salt), netWeightKg: ExactDecimal(Int64(seq) + 7),
        quantityUnit: "kg")
    return Entry(
        dot: Dot(origin: origin, seq: seq), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + seq, logical: 0),
        context: VersionVector([origin: seq - 1]), key: key, operation: .put(values))
}

/// Entries `seqs` of `origin`.
func makeEntries(_ origin: NodeID, _ seqs: ClosedRange<UInt64>, salt: Int64 = 0) throws -> [Entry] {
    try seqs.map { try makeEntry(origin, $0, salt: salt) }
}

/// `count` batches of `size` entries each, alternating between origins `a` and `b`
/// (so every batch carries both, and each origin's seqs run across batches).
func makeBatches(_ a: NodeID, _ b: NodeID, count: Int, size: Int, salt: Int64 = 0) throws -> [[Entry]] {
    var next: [NodeID: UInt64] = [a: 1, b: 1]
    var batches: [[Entry]] = []
    for _ in 0..<count {
        var batch: [Entry] = []
        for position in 0..<size {
            let origin = position % 2 == 0 ? a : b
            batch.append(try makeEntry(origin, next[origin]!, salt: salt))
            next[origin]! += 1
        }
        batches.append(batch)
    }
    return batches
}

// MARK: Files of a log directory, named as the format documents them

/// The file name of segment `number`: `segment-` + 8 decimal digits + `.log`.
func segmentName(_ number: Int) -> String {
    let digits = String(number)
    return "segment-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".log"
}

/// Segment `number` inside a log directory.
func segmentFile(_ directory: String, _ number: Int) -> String { directory + "/" + segmentName(number) }

/// The first (for a small log: the only) segment inside a log directory.
func logFile(_ directory: String) -> String { segmentFile(directory, 1) }

/// The checkpoint file inside a log directory.
func checkpointFile(_ directory: String) -> String { directory + "/checkpoint" }

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try #require(FileManager.default.contents(atPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// The names in `directory`, sorted.
func directoryNames(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

/// XORs the byte at `offset` of the file at `path` with `mask`, in place (the same inode,
/// so a log that has the file open sees the change).
func flipByte(_ path: String, at offset: Int, mask: UInt8 = 0x5A) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    let byte = try #require(try handle.read(upToCount: 1)?.first)
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: Data([byte ^ mask]))
}

/// Cuts the file at `path` to its first `size` bytes.
func truncateFile(_ path: String, to size: Int) throws {
    #expect(truncate(path, off_t(size)) == 0, "truncate \(path) to \(size)")
}

// MARK: The documented layout, computed independently of the log code

/// Segment header size and the size of an entry's record, as the format documents them.
let headerBytes = 40
func recordBytes(_ entry: Entry) -> Int { 40 + entry.encoded().count }

/// The byte offset of each record in one segment that holds `entries` from its start.
func recordOffsets(_ entries: [Entry]) -> [Int] {
    var offsets: [Int] = []
    var offset = headerBytes
    for entry in entries {
        offsets.append(offset)
        offset += recordBytes(entry)
    }
    return offsets
}

/// The size of a segment holding `entries`.
func segmentSize(_ entries: [Entry]) -> Int { headerBytes + entries.map(recordBytes).reduce(0, +) }

/// The entries of each segment after appending `batches` in order to a new log with
/// this segment size limit: a batch goes into a new segment when it would take the last
/// one past the limit and the last one holds a record; a batch never straddles two.
func plannedSegments(_ batches: [[Entry]], segmentBytesMax: Int) -> [[Entry]] {
    var segments: [[Entry]] = [[]]
    for batch in batches where !batch.isEmpty {
        let end = segmentSize(segments[segments.count - 1])
        let bytes = batch.map(recordBytes).reduce(0, +)
        if end + bytes > segmentBytesMax && end > headerBytes { segments.append([]) }
        segments[segments.count - 1] += batch
    }
    return segments
}

/// A record built independently of the log code:
/// `length u32 | CRC-32C u32 of (length, hash, payload) | SHA-256 of payload | payload`.
func encodeRecord(_ entry: Entry) -> [UInt8] { encodeRecord(entry, continues: false) }

/// A record whose length field carries the "batch continues" flag (bit 31) when asked.
func encodeRecord(_ entry: Entry, continues: Bool) -> [UInt8] {
    let payload = entry.encoded()
    let length = bigEndianBytes(UInt32(payload.count) | (continues ? 1 << 31 : 0))
    let hash = TestSHA256.hash(payload)
    return length + bigEndianBytes(CRC32C.checksum(length + hash + payload)) + hash + payload
}

/// The records of one append: every record but the last carries the "continues" flag.
func encodeBatch(_ entries: [Entry]) -> [UInt8] {
    entries.enumerated().flatMap { encodeRecord($0.element, continues: $0.offset < entries.count - 1) }
}

/// Records of `entries`, each flagged "continues" unless it is the last of its batch.
func encodeRecords(_ entries: [Entry], batches: [[Entry]]) -> [UInt8] {
    let lasts = Set(batches.compactMap { $0.last?.dot })
    return entries.flatMap { encodeRecord($0, continues: !lasts.contains($0.dot)) }
}

/// A segment header built independently of the log code.
func encodeHeader(instanceID: UInt64, number: UInt64, firstRecord: UInt64) -> [UInt8] {
    var bytes: [UInt8] = [0x54, 0x53, 0x4C, 0x4F, 0x47, 0x00, 0x00, 0x01, 0, 3, 0, 0]
    bytes += bigEndianBytes64(instanceID) + bigEndianBytes64(number) + bigEndianBytes64(firstRecord)
    return bytes + bigEndianBytes(CRC32C.checksum(bytes))
}

func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}

func bigEndianBytes64(_ value: UInt64) -> [UInt8] {
    bigEndianBytes(UInt32(value >> 32)) + bigEndianBytes(UInt32(value & 0xFFFF_FFFF))
}

func readU32(_ bytes: [UInt8], at index: Int) -> UInt32 {
    bytes[index..<(index + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
}

func readU64(_ bytes: [UInt8], at index: Int) -> UInt64 {
    bytes[index..<(index + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
}

// MARK: Opening and reading

/// Opens a writable log with the given segment size limit.
func openLog(
    _ directory: String, segmentBytesMax: Int = 64 << 20, readOnly: Bool = false, useCheckpoint: Bool = true
) throws -> FileLog {
    try FileLog.open(
        directory: directory,
        options: LogOptions(segmentBytesMax: segmentBytesMax, readOnly: readOnly, useCheckpoint: useCheckpoint))
}

/// Every entry of the log, via replay.
func replayAll(_ log: FileLog, from first: Int = 0) throws -> [Entry] {
    var entries: [Entry] = []
    try log.replay(from: first) { entries.append($0) }
    return entries
}

/// `recovery` with ``LogRecovery/checkpointProblem`` cleared, to compare the rest with `==`.
func withoutCheckpointProblem(_ recovery: LogRecovery) -> LogRecovery {
    LogRecovery(
        entriesRead: recovery.entriesRead, truncatedTailBytes: recovery.truncatedTailBytes,
        truncatedAtOffset: recovery.truncatedAtOffset, file: recovery.file, savedTail: recovery.savedTail,
        segments: recovery.segments, checkpointEntries: recovery.checkpointEntries,
        entriesScanned: recovery.entriesScanned)
}

/// Runs `body` and returns the ``LogError`` it throws, recording an issue when it
/// succeeds or throws anything else.
func expectLogError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> LogError? {
    do {
        try body()
        Issue.record("expected a LogError, got success", sourceLocation: sourceLocation)
    } catch let error as LogError {
        return error
    } catch {
        Issue.record("expected a LogError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Records an issue unless `error` is `corrupt` naming `file` and `offset`.
func expectCorrupt(
    _ error: LogError?, file: String, offset: Int, _ comment: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard case .corrupt(let actualFile, let actualOffset, _) = error else {
        Issue.record("\(comment) expected corrupt, got \(String(describing: error))", sourceLocation: sourceLocation)
        return
    }
    #expect(actualFile == file, "\(comment)", sourceLocation: sourceLocation)
    #expect(actualOffset == offset, "\(comment)", sourceLocation: sourceLocation)
}

/// Records an issue unless `error` is `badHeader` naming `file`.
func expectBadHeader(
    _ error: LogError?, file: String, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation
) {
    guard case .badHeader(let actualFile, _) = error else {
        Issue.record("\(comment) expected badHeader, got \(String(describing: error))", sourceLocation: sourceLocation)
        return
    }
    #expect(actualFile == file, "\(comment)", sourceLocation: sourceLocation)
}

/// True when running as root, which ignores file permissions.
var runningAsRoot: Bool { geteuid() == 0 }

// MARK: SHA-256 (FIPS 180-4), so the tests check the entry hash without the log's code

enum TestSHA256 {
    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
        ]
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        data += bigEndianBytes64(UInt64(message.count) * 8)
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 { w[i] = readU32(data, at: chunk + 4 * i) }
            for i in 16..<64 {
                let s0 = rotate(w[i - 15], 7) ^ rotate(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotate(w[i - 2], 17) ^ rotate(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let s1 = rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)
                let choice = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ choice &+ k[i] &+ w[i]
                let s0 = rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)
                let majority = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ majority
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, value) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ value }
        }
        return h.flatMap(bigEndianBytes)
    }

    private static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value >> count) | (value << (32 - count))
    }
}
