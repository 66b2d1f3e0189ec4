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

/// The log file inside a log directory.
func logFile(_ directory: String) -> String { directory + "/entries.log" }

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try #require(FileManager.default.contents(atPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// File header size and the size of an entry's record, as the format documents them.
let headerBytes = 24
func recordBytes(_ entry: Entry) -> Int { 8 + entry.encoded().count }

/// The byte offset of each record, computed from the documented layout.
func recordOffsets(_ entries: [Entry]) -> [Int] {
    var offsets: [Int] = []
    var offset = headerBytes
    for entry in entries {
        offsets.append(offset)
        offset += recordBytes(entry)
    }
    return offsets
}

/// A record built independently of the log code: `length u32 BE | crc32c u32 BE | payload`.
func encodeRecord(_ entry: Entry) -> [UInt8] {
    let payload = entry.encoded()
    return bigEndianBytes(UInt32(payload.count)) + bigEndianBytes(CRC32C.checksum(payload)) + payload
}

func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}

/// Every entry of the log, via replay.
func replayAll(_ log: FileLog) throws -> [Entry] {
    var entries: [Entry] = []
    try log.replay { entries.append($0) }
    return entries
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

/// True when running as root, which ignores file permissions.
var runningAsRoot: Bool { geteuid() == 0 }
