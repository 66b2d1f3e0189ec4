// # On-disk format of the entry log (format version 1)
//
// ## Files
//
// A log lives in one directory.
//
//     DIR/entries.log       the log: a header, then records, appended only
//     DIR/entries.log.tmp   transient: a new log's header is written and fsynced here, then
//                           renamed to entries.log and the directory fsynced, so entries.log
//                           never exists with a partial header; a leftover .tmp is overwritten
//
// The directory itself is locked (flock, exclusive) while a writable log is open.
// Segments (several files, each starting with this header) come later; then only the
// last file may have a torn tail.
//
// ## Header: 24 bytes at offset 0, integers big-endian
//
//     offset  size  field
//     0       8     magic "TSLOG\0\0\1" = 54 53 4C 4F 47 00 00 01
//     8       2     format version u16 = 1
//     10      2     reserved u16 = 0
//     12      8     instance ID u64: random, non-zero, made when the log is created
//     20      4     CRC-32C u32 of bytes 0..<20
//
// ## Records: from offset 24, back to back, no padding, integers big-endian
//
//     offset  size  field
//     0       4     payload length L u32, 1 ≤ L ≤ EntryLimits.entryBytesMax (16384)
//     4       4     CRC-32C u32 of the payload
//     8       L     payload: the entry's canonical encoding (Entry.encoded())
//
// Sequence rule: for each origin the records hold seq 1, 2, 3, … in file order, with no
// gap and no repeat. Records of different origins interleave freely.
//
// ## Durability
//
// One append writes all records of its batch with one write(2) (O_APPEND), then one
// fsync(2), and returns only after the fsync. Everything up to the end of the last batch
// whose fsync returned is durable. A failed write or fsync truncates the file back to the
// previous end (best effort; the next append re-checks the end and truncates again).
//
// ## Recovery (on open)
//
// Records are scanned from offset 24. A record is valid when its length is in range, it
// lies wholly inside the file, its CRC matches, and its payload decodes as an entry. At the
// first record that is not valid, at offset X:
//
// - if no valid record starts at any byte offset after X, the bytes X..<EOF are a torn tail
//   (a write cut short by a crash before its fsync returned, so never acknowledged): the file
//   is truncated to X and fsynced, and `LogRecovery` reports the cut;
// - otherwise the damage lies before the tail: open throws `LogError.corrupt` naming the
//   file and X, and leaves the file untouched.
//
// The "no valid record after X" test is a byte-by-byte resynchronising search; it runs only
// on this failure path. It stops a damaged length field from passing for a torn tail and so
// truncating good records. A valid record that breaks the sequence rule is corruption
// wherever it lies. A 0-byte file is a fresh log (its header is written). Any other file
// shorter than the header, a wrong magic, an unknown version, non-zero reserved bits or a
// header CRC mismatch gives `LogError.badHeader`.
//
// Limitation: a crash can persist the pages of an unsynced batch out of order, leaving a
// hole followed by valid records. That reads as corruption, not as a torn tail; the node
// stops and names the offset. (etcd's WAL has the same rule; a repair tool comes later.)

import TradeSyncModel

/// Constants and pure encoders/decoders of the log file format (see the comment at the
/// top of `LogFormat.swift`). No I/O.
enum LogFormat {
    /// The 8 magic bytes that open every log file: `TSLOG\0\0\1`.
    static let magic: [UInt8] = [0x54, 0x53, 0x4C, 0x4F, 0x47, 0x00, 0x00, 0x01]
    /// The format version this code writes and reads.
    static let version: UInt16 = 1
    /// Size of the file header, in bytes: magic 8 + version 2 + reserved 2 + instance 8 + CRC 4.
    static let headerBytes = 24
    /// Size of a record's header, in bytes: length 4 + CRC 4.
    static let recordHeaderBytes = 8
    /// Largest record payload, in bytes.
    static let payloadBytesMax = EntryLimits.entryBytesMax
    /// Largest record, in bytes.
    static let recordBytesMax = recordHeaderBytes + payloadBytesMax
    /// The name of the (so far only) log file in the log directory.
    static let fileName = "entries.log"
    /// The name a new log file has while its header is written.
    static let temporaryFileName = "entries.log.tmp"

    /// The 24-byte header of a new log.
    static func header(instanceID: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: headerBytes)
        writer.writeBytes(magic)
        writer.writeU16(version)
        writer.writeU16(0)
        writer.writeU64(instanceID)
        writer.writeU32(CRC32C.checksum(writer.bytes))
        precondition(writer.bytes.count == headerBytes, "header length")
        return writer.bytes
    }

    /// Validates a header and returns its instance ID, or the reason it is invalid.
    static func instanceID(fromHeader bytes: [UInt8]) -> Result<UInt64, HeaderProblem> {
        guard bytes.count == headerBytes else {
            return .failure(HeaderProblem(reason: "header is \(bytes.count) bytes, expected \(headerBytes)"))
        }
        guard Array(bytes[0..<8]) == magic else {
            return .failure(HeaderProblem(reason: "bad magic \(hex(bytes[0..<8])), expected \(hex(magic[...]))"))
        }
        var reader = ByteReader(bytes, range: 8..<headerBytes)
        do {
            let version = try reader.readU16()
            let reserved = try reader.readU16()
            let instanceID = try reader.readU64()
            let stored = try reader.readU32()
            // Version before CRC: another version may lay its header out differently.
            guard version == Self.version else {
                return .failure(
                    HeaderProblem(
                        reason: "format version \(version) is not supported (this build reads \(Self.version))"))
            }
            let computed = CRC32C.checksum(bytes, range: 0..<20)
            guard stored == computed else {
                return .failure(
                    HeaderProblem(reason: "header CRC mismatch: stored \(hex32(stored)), computed \(hex32(computed))"))
            }
            guard reserved == 0 else {
                return .failure(HeaderProblem(reason: "reserved field is \(reserved), expected 0"))
            }
            guard instanceID != 0 else { return .failure(HeaderProblem(reason: "instance ID is zero")) }
            return .success(instanceID)
        } catch {
            return .failure(HeaderProblem(reason: "header unreadable: \(error)"))
        }
    }

    /// Appends one record (`length | crc | payload`) to `buffer`.
    /// - Precondition: `1 ≤ payload.count ≤ payloadBytesMax`.
    static func appendRecord(payload: [UInt8], to buffer: inout [UInt8]) {
        precondition(!payload.isEmpty && payload.count <= payloadBytesMax, "record payload length out of range")
        appendU32(UInt32(payload.count), to: &buffer)
        appendU32(CRC32C.checksum(payload), to: &buffer)
        buffer.append(contentsOf: payload)
    }

    /// Parses the record that starts at `buffer[index]`, where `buffer[index..<end]` holds
    /// every byte of the file from that record on that is available (all of them up to
    /// EOF, or at least ``recordBytesMax``).
    ///
    /// - Returns: `.valid` with the entry and the record's size in bytes, or `.invalid`
    ///   with the reason (runs past the end, bad length, CRC mismatch, undecodable payload).
    static func parseRecord(_ buffer: [UInt8], at index: Int, end: Int) -> RecordParse {
        precondition(index >= 0 && index <= end && end <= buffer.count, "record window outside the buffer")
        let available = end - index
        guard available >= recordHeaderBytes else {
            return .invalid("record header runs past the end of the file (\(available) of \(recordHeaderBytes) bytes)")
        }
        let length = Int(readU32(buffer, at: index))
        guard length >= 1 && length <= payloadBytesMax else {
            return .invalid("record length \(length) is outside 1...\(payloadBytesMax)")
        }
        guard available - recordHeaderBytes >= length else {
            let left = available - recordHeaderBytes
            return .invalid("record of \(length) payload bytes runs past the end of the file (\(left) left)")
        }
        let payload = (index + recordHeaderBytes)..<(index + recordHeaderBytes + length)
        let stored = readU32(buffer, at: index + 4)
        let computed = CRC32C.checksum(buffer, range: payload)
        guard stored == computed else {
            return .invalid("payload CRC mismatch: stored \(hex32(stored)), computed \(hex32(computed))")
        }
        var reader = ByteReader(buffer, range: payload)
        do {
            let entry = try Entry.decode(from: &reader)
            try reader.expectEnd()
            return .valid(entry, recordBytes: recordHeaderBytes + length)
        } catch {
            // Decode a copy so the error's offsets are relative to the payload.
            do { _ = try Entry.decode(Array(buffer[payload])) } catch {
                return .invalid("entry does not decode: \(error)")
            }
            return .invalid("entry does not decode: \(error)")
        }
    }

    static func readU32(_ buffer: [UInt8], at index: Int) -> UInt32 {
        UInt32(buffer[index]) << 24 | UInt32(buffer[index + 1]) << 16 | UInt32(buffer[index + 2]) << 8
            | UInt32(buffer[index + 3])
    }

    static func appendU32(_ value: UInt32, to buffer: inout [UInt8]) {
        buffer.append(UInt8(truncatingIfNeeded: value >> 24))
        buffer.append(UInt8(truncatingIfNeeded: value >> 16))
        buffer.append(UInt8(truncatingIfNeeded: value >> 8))
        buffer.append(UInt8(truncatingIfNeeded: value))
    }

    static func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
    }
}

/// The outcome of parsing one record.
enum RecordParse {
    case valid(Entry, recordBytes: Int)
    case invalid(String)
}

/// Why a file header was rejected.
struct HeaderProblem: Error {
    let reason: String
}
