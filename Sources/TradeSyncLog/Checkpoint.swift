// # Checkpoint file (`DIR/checkpoint`, format version 1), integers big-endian
//
//     magic "TSCKPT\0\1" 8 | version u16 = 1 | reserved u16 = 0 | log instance ID u64
//     records covered u64 (N) | hash of record N - 1 (32 bytes; zeros when N = 0)
//     segments u32 (S) | S × (number u64 | first record u64 | end offset u64)
//     N × record offset u32 (inside its segment)
//     origins u32 (O) | O × (node ID 32 bytes | seqs u32 (K) | K × record number u32)
//     state length u64 | state bytes (opaque here: the replica's snapshot)
//     CRC-32C u32 of everything before it
//
// A checkpoint names the log position it covers (the first N records) and carries the
// log index up to there plus the materialised state at that point, so a restart loads it
// and scans only the records after it. It is written to `checkpoint.tmp`, fsynced,
// renamed over `checkpoint` and the directory fsynced, after an fsync of the log that
// makes the N records durable: a checkpoint never covers what a crash could take back.
//
// On open it is used when it belongs: CRC and magic good, same instance ID. A missing,
// damaged or foreign checkpoint is ignored (the reason is reported and logged) and the
// log is scanned in full; an older one is used and the records after it are scanned: a
// deleted, stale or damaged checkpoint costs time, never data. A checkpoint that belongs
// but whose position the log no longer holds intact (its segments missing, shorter than
// its position, or a last covered record that fails its CRC or has another hash) proves
// that acknowledged entries were lost on disk: open throws `corrupt`/`badHeader`.

import SystemPackage
import TradeSyncClock
import TradeSyncModel

/// The state a valid checkpoint carried, as ``FileLog/open(directory:options:)`` found it.
public struct LogCheckpoint: Sendable {
    /// The records it covers: the state is that of the log's first `entryCount` entries.
    public let entryCount: Int
    /// The opaque state bytes (the replica's snapshot).
    public let state: [UInt8]
}

/// A frozen copy of what a checkpoint needs from the log at one position: taken on the
/// log's owner (cheap: the index is copied on write), written from any thread with
/// ``write(state:)``.
public struct LogCheckpointImage: Sendable {
    let directory: String
    let instanceID: UInt64
    let index: LogIndex
    let lastHash: [UInt8]
    let syncDescriptor: Int32
    let syncPath: String

    /// The records the checkpoint will cover.
    public var entryCount: Int { index.count }

    /// Makes the covered records durable (fsync of the last segment), then writes the
    /// checkpoint with `state` atomically (temporary file, fsync, rename, directory fsync).
    ///
    /// Must finish before the log is closed (it fsyncs the log's open segment).
    /// - Returns: the checkpoint's size in bytes.
    /// - Throws: ``LogError/io(file:operation:errno:)``.
    @discardableResult
    public func write(state: [UInt8]) throws(LogError) -> Int {
        let result = fsyncRetryingInterrupts(syncDescriptor)
        if result != 0 { throw .io(file: syncPath, operation: "fsync", errno: result) }
        let bytes = CheckpointFormat.encode(self, state: state)
        let directory = try LogDirectory.open(directory)
        defer { directory.close() }
        try LogFile.createAtomically(
            directory.path(of: CheckpointFormat.fileName),
            temporaryPath: directory.path(of: CheckpointFormat.temporaryFileName), contents: bytes,
            directory: directory)
        return bytes.count
    }
}

/// The checkpoint file format (see the comment at the top of `Checkpoint.swift`).
enum CheckpointFormat {
    static let magic: [UInt8] = [0x54, 0x53, 0x43, 0x4B, 0x50, 0x54, 0x00, 0x01]
    static let version: UInt16 = 1
    static let fileName = "checkpoint"
    static let temporaryFileName = "checkpoint.tmp"

    /// What a checkpoint file decodes to, before it is checked against the log.
    struct Decoded {
        var instanceID: UInt64
        var lastHash: [UInt8]
        var index: LogIndex
        var state: [UInt8]
    }

    static func encode(_ image: LogCheckpointImage, state: [UInt8]) -> [UInt8] {
        let index = image.index
        var writer = ByteWriter(capacity: 64 + index.count * 8 + state.count)
        writer.writeBytes(magic)
        writer.writeU16(version)
        writer.writeU16(0)
        writer.writeU64(image.instanceID)
        writer.writeU64(UInt64(index.count))
        writer.writeBytes(image.lastHash.count == 32 ? image.lastHash : [UInt8](repeating: 0, count: 32))
        writer.writeU32(UInt32(index.segments.count))
        for segment in index.segments {
            writer.writeU64(segment.number)
            writer.writeU64(UInt64(segment.firstRecord))
            writer.writeU64(UInt64(segment.end))
        }
        for offset in index.recordOffsets { writer.writeU32(offset) }
        let origins = index.recordsByOrigin.keys.sorted()
        writer.writeU32(UInt32(origins.count))
        for origin in origins {
            let numbers = index.recordsByOrigin[origin] ?? ChunkedArray()
            origin.encode(into: &writer)
            writer.writeU32(UInt32(numbers.count))
            for number in numbers { writer.writeU32(number) }
        }
        writer.writeU64(UInt64(state.count))
        writer.writeBytes(state)
        writer.writeU32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Decodes a checkpoint file's bytes, or says why they are not a checkpoint.
    static func decode(_ bytes: [UInt8]) -> Result<Decoded, HeaderProblem> {
        guard bytes.count >= 8 + 4 + 8 + 8 + 32 + 4 + 4 + 8 + 4 else {
            return .failure(HeaderProblem(reason: "file is \(bytes.count) bytes, too short for a checkpoint"))
        }
        guard Array(bytes[0..<8]) == magic else { return .failure(HeaderProblem(reason: "bad magic")) }
        let stored = LogFormat.readU32(bytes, at: bytes.count - 4)
        let computed = CRC32C.checksum(bytes, range: 0..<(bytes.count - 4))
        guard stored == computed else {
            return .failure(
                HeaderProblem(
                    reason: "CRC mismatch: stored \(LogFormat.hex32(stored)), computed \(LogFormat.hex32(computed))"))
        }
        var reader = ByteReader(bytes, range: 8..<(bytes.count - 4))
        do {
            let version = try reader.readU16()
            guard version == Self.version else {
                return .failure(HeaderProblem(reason: "checkpoint format version \(version) is not supported"))
            }
            guard try reader.readU16() == 0 else { return .failure(HeaderProblem(reason: "reserved field not 0")) }
            let instanceID = try reader.readU64()
            let count = try readCount(&reader, elementBytes: 4, field: "records covered", width: 8)
            let lastHash = try reader.readBytes(32)
            let segmentCount = try readCount(&reader, elementBytes: 24, field: "segments", width: 4)
            var segments: [LogIndex.Segment] = []
            segments.reserveCapacity(segmentCount)
            for _ in 0..<segmentCount {
                let number = try reader.readU64()
                let first = try reader.readU64()
                let end = try reader.readU64()
                guard first <= UInt64(count), end <= UInt64(UInt32.max) else {
                    return .failure(HeaderProblem(reason: "segment \(number) out of range"))
                }
                segments.append(LogIndex.Segment(number: number, firstRecord: Int(first), end: Int(end)))
            }
            var offsets = ChunkedArray<UInt32>(repeating: 0, count: count)
            for position in 0..<count { offsets[position] = try reader.readU32() }
            let originCount = try readCount(&reader, elementBytes: 36, field: "origins", width: 4)
            var byOrigin: [NodeID: ChunkedArray<UInt32>] = [:]
            byOrigin.reserveCapacity(originCount)
            for _ in 0..<originCount {
                let origin = try NodeID.decode(from: &reader)
                let seqs = try readCount(&reader, elementBytes: 4, field: "seqs", width: 4)
                var numbers = ChunkedArray<UInt32>(repeating: 0, count: seqs)
                for position in 0..<seqs { numbers[position] = try reader.readU32() }
                guard byOrigin.updateValue(numbers, forKey: origin) == nil else {
                    return .failure(HeaderProblem(reason: "origin \(origin.short) listed twice"))
                }
            }
            let stateBytes = try readCount(&reader, elementBytes: 1, field: "state", width: 8)
            let state = try reader.readBytes(stateBytes)
            try reader.expectEnd()
            let index = LogIndex(segments: segments, recordOffsets: offsets, recordsByOrigin: byOrigin)
            guard !segments.isEmpty, index.isConsistent else {
                return .failure(HeaderProblem(reason: "its index is not consistent"))
            }
            return .success(Decoded(instanceID: instanceID, lastHash: lastHash, index: index, state: state))
        } catch {
            return .failure(HeaderProblem(reason: "unreadable: \(error)"))
        }
    }

    /// Reads a u32 or u64 count and checks that `count × elementBytes` bytes can follow.
    private static func readCount(_ reader: inout ByteReader, elementBytes: Int, field: String, width: Int)
        throws(DecodeError) -> Int
    {
        let offset = reader.offset
        let raw = width == 8 ? try reader.readU64() : UInt64(try reader.readU32())
        guard raw <= UInt64(reader.remaining / elementBytes) else {
            throw .badValue(offset: offset, field: field, reason: "count \(raw) exceeds the bytes left")
        }
        return Int(raw)
    }
}
