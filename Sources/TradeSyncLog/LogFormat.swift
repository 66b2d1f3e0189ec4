// # On-disk format of the entry log (format version 3)
//
// ## Files
//
// A log lives in one directory:
//
//     DIR/segment-00000001.log   segments: a header, then records, appended only
//     DIR/segment-00000002.log   … numbered without gaps; only the last one is written
//     DIR/checkpoint             optional: the index and a snapshot of the materialised
//                                state up to a log position (see `Checkpoint.swift`)
//     DIR/*.tmp                  transient: a new segment's header (or a checkpoint) is
//                                written and fsynced here, renamed into place and the
//                                directory fsynced, so no file exists half-written; a
//                                leftover .tmp is removed at the next open
//
// The directory itself is locked (flock, exclusive) while a writable log is open.
// A new segment starts when the next batch would take the last one past the segment
// size limit (64 MiB by default); a batch never straddles two segments, so one batch
// larger than the limit makes one larger segment. Before the new segment is created the
// old one is fsynced: a sealed segment is complete, and only the last one may end in a
// torn write.
//
// Format version 1 (one file, `DIR/entries.log`, no entry hashes) and format version 2
// (no seals: entries before signed chains) are not read by this build: opening such a
// directory fails with `badHeader` naming the file and the version.
//
// ## Segment header: 40 bytes at offset 0, integers big-endian
//
//     offset  size  field
//     0       8     magic "TSLOG\0\0\1" = 54 53 4C 4F 47 00 00 01
//     8       2     format version u16 = 3
//     10      2     reserved u16 = 0
//     12      8     log instance ID u64: random, non-zero, made when the log is created;
//                   every segment of one log carries the same one
//     20      8     segment number u64 (1, 2, …; equals the number in the file name)
//     28      8     first record u64: how many records the earlier segments hold
//     36      4     CRC-32C u32 of bytes 0..<36
//
// ## Records: from offset 40, back to back, no padding, integers big-endian
//
//     offset  size  field
//     0       4     bit 31: batch continues (set on every record of a batch but its
//                   last); bit 30: sealed (a 128-byte seal follows the payload);
//                   bits 0–29: payload length L, 1 ≤ L ≤ EntryLimits.entryBytesMax
//     4       4     CRC-32C u32 of bytes 0..<4 and 8..<(40 + L + S): the length, the
//                   hash, the payload and the seal, i.e. the whole record but the
//                   checksum itself (S = 128 when sealed, else 0)
//     8       32    entry hash: SHA-256 of the payload (the entry's content address)
//     40      L     payload: the entry's canonical encoding (Entry.encoded())
//     40+L    S     seal, only when bit 30 is set: the origin's chain head at this entry
//                   (32), the origin's Ed25519 public key (32) and its signature over
//                   the head (64); see EntryChain.swift and PROTOCOL.md "Signed entries"
//
// Every origin run of a batch ends with a sealed record (the origin signs the last entry
// of each of its appends, and senders cut batches only after sealed entries), so the
// last record of every origin in the log is sealed and holds its chain head.
//
// Why CRC-32C (Castagnoli) and not zlib's CRC-32: for records of this size (a few
// hundred bytes up to 16 KiB) its polynomial detects all errors of up to 5 flipped bits
// (Hamming distance 6), where CRC-32/IEEE guarantees 4 (Koopman, "32-Bit Cyclic
// Redundancy Codes for Internet Applications", DSN 2002); it is the checksum of ext4
// metadata, iSCSI, LevelDB/RocksDB and etcd's WAL, and CPUs compute it in hardware
// (SSE 4.2 `crc32`). Ours is a portable slice-by-8 table implementation (CRC32C.swift).
// The CRC guards against torn and damaged bytes; the entry hash names the content and is
// what entries will chain and sign (issue 6). Both are checked on every scan.
//
// Batches: one append (an import, a peer's batch, a CLI edit) is one batch of records
// written with one write(2); the "continues" bit marks every record but its last. A
// SIGKILL or power loss inside that write can leave the batch's first records whole on
// disk; recovery treats a batch without its last record as part of the torn tail, so a
// batch lands whole or not at all, also across crashes.
//
// Sequence rule: for each origin the records hold seq 1, 2, 3, … in log order, with no
// gap and no repeat. Records of different origins interleave freely.
//
// ## Durability and group commit
//
// An append writes all records of its batch with one write(2) (O_APPEND) and is
// acknowledged (to a CLI caller, or to a peer as an ACK) only after an fsync(2) that
// started after that write returned. Appends that arrive while an fsync runs share the
// next one (group commit). A failed write cuts the segment back to the previous end and
// the batch is refused whole. A failed fsync leaves the state of the page cache unknown
// (see PostgreSQL's "fsyncgate", 2018): the log refuses every later append and the node
// stops, so that recovery re-reads what really is on disk.
//
// ## Recovery (on open)
//
// Segments are checked in order: contiguous numbers, the same instance ID, and first
// record = the sum of the earlier segments' records. Then records are scanned from the
// checkpoint's position (or from the first segment's header when there is no valid
// checkpoint). A record is valid when its length is in range, it lies wholly inside the
// file, its CRC matches, its hash is the SHA-256 of its payload and its payload decodes.
// At the first record that is not valid, at offset X of segment S:
//
// - if S is the last segment and no valid record starts at any byte offset after X, the
//   bytes from X (or from the first record of an incomplete batch before X) to EOF are a
//   torn tail (a write whose fsync had not returned, so never
//   acknowledged): they are copied to `S.torn-X`, the file is cut to X and fsynced, and
//   `LogRecovery` reports the cut;
// - otherwise (damage before the tail, or anywhere in a sealed segment) open throws
//   `LogError.corrupt` naming the segment file and X, and leaves every file untouched.
//
// The "no valid record after X" test is a byte-by-byte resynchronising search; it runs only
// on this failure path. It stops a damaged length field from passing for a torn tail and so
// truncating good records. A valid record that breaks the sequence rule is corruption
// wherever it lies. A missing segment, a header that does not belong (other instance,
// wrong number or first record), a wrong magic, an unknown version, non-zero reserved
// bits or a header CRC mismatch give `LogError.badHeader` naming the file.
//
// Records under a checkpoint are not decoded at open (that is what makes restart fast):
// only their CRCs are checked, so damage anywhere still stops the node at start. Every
// read re-checks the CRC of what it reads, and `tradesync verify` checks everything.
//
// Limitation: a crash can persist the pages of an unsynced batch out of order, leaving a
// hole followed by valid records. That reads as corruption, not as a torn tail; the node
// stops and names the offset. (etcd's WAL has the same rule.)

import Crypto
import TradeSyncModel

/// Constants and pure encoders/decoders of the log file format (see the comment at the
/// top of `LogFormat.swift`). No I/O.
enum LogFormat {
    /// The 8 magic bytes that open every segment: `TSLOG\0\0\1`.
    static let magic: [UInt8] = [0x54, 0x53, 0x4C, 0x4F, 0x47, 0x00, 0x00, 0x01]
    /// The format version this code writes and reads.
    static let version: UInt16 = 3
    /// Size of a segment header, in bytes.
    static let headerBytes = 40
    /// Bit 31 of a record's length field: the record's batch continues after it.
    static let continuesFlag: UInt32 = 1 << 31
    /// Bit 30 of a record's length field: a seal follows the payload.
    static let sealedFlag: UInt32 = 1 << 30
    /// Size of a seal: head 32 + public key 32 + signature 64.
    static let sealBytes = EntryChain.headBytes + ChainSignature.encodedBytes
    /// Size of a record's header, in bytes: length 4 + CRC 4 + hash 32.
    static let recordHeaderBytes = 40
    /// Bytes of the entry hash in a record.
    static let hashBytes = 32
    /// Largest record payload, in bytes.
    static let payloadBytesMax = EntryLimits.entryBytesMax
    /// Largest record, in bytes.
    static let recordBytesMax = recordHeaderBytes + payloadBytesMax + sealBytes
    /// The file of a format-1 log, refused by this build.
    static let legacyFileName = "entries.log"

    /// The file name of segment `number`: `segment-00000001.log`.
    static func segmentName(_ number: UInt64) -> String {
        let digits = String(number)
        return "segment-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".log"
    }

    /// The segment number in a segment file name, or nil for any other name.
    static func segmentNumber(fromName name: String) -> UInt64? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".log") else { return nil }
        let digits = name.dropFirst("segment-".count).dropLast(".log".count)
        guard digits.count >= 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = UInt64(digits),
            number > 0
        else { return nil }
        return segmentName(number) == name ? number : nil
    }

    /// What a segment header holds.
    struct SegmentHeader: Equatable {
        var instanceID: UInt64
        var number: UInt64
        var firstRecord: UInt64
    }

    /// The 40-byte header of a new segment.
    static func header(_ header: SegmentHeader) -> [UInt8] {
        var writer = ByteWriter(capacity: headerBytes)
        writer.writeBytes(magic)
        writer.writeU16(version)
        writer.writeU16(0)
        writer.writeU64(header.instanceID)
        writer.writeU64(header.number)
        writer.writeU64(header.firstRecord)
        writer.writeU32(CRC32C.checksum(writer.bytes))
        precondition(writer.bytes.count == headerBytes, "header length")
        return writer.bytes
    }

    /// Validates a segment header, or says why it is invalid.
    static func parseHeader(_ bytes: [UInt8]) -> Result<SegmentHeader, HeaderProblem> {
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
            let header = SegmentHeader(
                instanceID: try reader.readU64(), number: try reader.readU64(), firstRecord: try reader.readU64())
            let stored = try reader.readU32()
            // Version before CRC: another version may lay its header out differently.
            guard version == Self.version else {
                return .failure(
                    HeaderProblem(
                        reason: "format version \(version) is not supported (this build reads \(Self.version))"))
            }
            let computed = CRC32C.checksum(bytes, range: 0..<(headerBytes - 4))
            guard stored == computed else {
                return .failure(
                    HeaderProblem(reason: "header CRC mismatch: stored \(hex32(stored)), computed \(hex32(computed))"))
            }
            guard reserved == 0 else {
                return .failure(HeaderProblem(reason: "reserved field is \(reserved), expected 0"))
            }
            guard header.instanceID != 0 else { return .failure(HeaderProblem(reason: "instance ID is zero")) }
            return .success(header)
        } catch {
            return .failure(HeaderProblem(reason: "header unreadable: \(error)"))
        }
    }

    /// Appends one record (`length | crc | hash | payload | seal?`) to `buffer`;
    /// `continues` sets the flag that says more records of its batch follow.
    /// - Parameter hash: SHA-256 of `payload` when the caller has it (the entry hash the
    ///   chain computed); nil: computed here.
    /// - Precondition: `1 ≤ payload.count ≤ payloadBytesMax`; `hash`, when given, is
    ///   `payload`'s SHA-256 (debug builds check it).
    static func appendRecord(
        payload: [UInt8], hash: Digest32? = nil, seal: EntrySeal? = nil, continues: Bool = false, to buffer: inout [UInt8]
    ) {
        precondition(!payload.isEmpty && payload.count <= payloadBytesMax, "record payload length out of range")
        let start = buffer.count
        let flags = (continues ? continuesFlag : 0) | (seal != nil ? sealedFlag : 0)
        appendU32(UInt32(payload.count) | flags, to: &buffer)
        appendU32(0, to: &buffer)
        if let hash {
            assert(hash.bytes == Entry.hash(ofEncoding: payload), "record hash is not the payload's SHA-256")
            hash.withUnsafeBytes { buffer.append(contentsOf: $0) }
        } else {
            payload.withUnsafeBytes { Digest32.sha256($0) }.withUnsafeBytes { buffer.append(contentsOf: $0) }
        }
        buffer.append(contentsOf: payload)
        if let seal {
            buffer += seal.head
            buffer += seal.signature.publicKey
            buffer += seal.signature.signature
        }
        let crc = recordCRC(buffer, at: start, bodyBytes: payload.count + (seal != nil ? sealBytes : 0))
        buffer[start + 4] = UInt8(truncatingIfNeeded: crc >> 24)
        buffer[start + 5] = UInt8(truncatingIfNeeded: crc >> 16)
        buffer[start + 6] = UInt8(truncatingIfNeeded: crc >> 8)
        buffer[start + 7] = UInt8(truncatingIfNeeded: crc)
    }

    /// The CRC-32C of the record at `buffer[index]`: its length field, hash and body
    /// (payload and seal, `bodyBytes` in all).
    static func recordCRC(_ buffer: [UInt8], at index: Int, bodyBytes: Int) -> UInt32 {
        let lengthCRC = CRC32C.checksum(buffer, range: index..<(index + 4))
        return CRC32C.checksum(
            buffer, range: (index + 8)..<(index + recordHeaderBytes + bodyBytes), continuing: lengthCRC)
    }

    /// How much of a record ``parseRecord(_:at:end:depth:)`` checks.
    enum CheckDepth {
        /// Length, CRC, hash and decode: the full check (recovery scans, verify).
        case full
        /// Length and CRC, then decode; the hash is covered by the CRC (reads of records
        /// that an earlier scan or a checkpoint vouched for).
        case checksum
    }

    /// Parses the record that starts at `buffer[index]`, where `buffer[index..<end]` holds
    /// every byte of the file from that record on that is available (all of them up to
    /// EOF, or at least ``recordBytesMax``).
    ///
    /// - Returns: `.valid` with the entry, its stored hash and the record's size in bytes,
    ///   or `.invalid` with the reason (runs past the end, bad length, CRC mismatch, hash
    ///   mismatch, undecodable payload).
    static func parseRecord(_ buffer: [UInt8], at index: Int, end: Int, depth: CheckDepth = .full) -> RecordParse {
        precondition(index >= 0 && index <= end && end <= buffer.count, "record window outside the buffer")
        let available = end - index
        guard available >= recordHeaderBytes else {
            return .invalid("record header runs past the end of the file (\(available) of \(recordHeaderBytes) bytes)")
        }
        let length = payloadLength(buffer, at: index)
        guard length >= 1 && length <= payloadBytesMax else {
            return .invalid("record length \(length) is outside 1...\(payloadBytesMax)")
        }
        guard available - recordHeaderBytes >= length else {
            let left = available - recordHeaderBytes
            return .invalid("record of \(length) payload bytes runs past the end of the file (\(left) left)")
        }
        let body = bodyLength(buffer, at: index)
        guard available - recordHeaderBytes >= body else {
            return .invalid("record seal runs past the end of the file (\(available - recordHeaderBytes - length) left)")
        }
        let stored = readU32(buffer, at: index + 4)
        let computed = recordCRC(buffer, at: index, bodyBytes: body)
        guard stored == computed else {
            return .invalid("record CRC mismatch: stored \(hex32(stored)), computed \(hex32(computed))")
        }
        let hashRange = (index + 8)..<(index + recordHeaderBytes)
        let payload = (index + recordHeaderBytes)..<(index + recordHeaderBytes + length)
        if depth == .full {
            let hash = buffer.withUnsafeBytes { Digest32.sha256(UnsafeRawBufferPointer(rebasing: $0[payload])) }
            guard hash.withUnsafeBytes({ $0.elementsEqual(buffer[hashRange]) }) else {
                return .invalid("entry hash mismatch: the stored SHA-256 is not that of the payload")
            }
        }
        var seal: EntrySeal?
        if body > length {
            let at = payload.upperBound
            seal = EntrySeal(
                head: Array(buffer[at..<(at + 32)]),
                signature: ChainSignature(
                    publicKey: Array(buffer[(at + 32)..<(at + 64)]), signature: Array(buffer[(at + 64)..<(at + 128)])))
        }
        var reader = ByteReader(buffer, range: payload)
        do {
            let entry = try Entry.decode(from: &reader)
            try reader.expectEnd()
            return .valid(entry, seal: seal, recordBytes: recordHeaderBytes + body)
        } catch {
            // Decode a copy so the error's offsets are relative to the payload.
            do { _ = try Entry.decode(Array(buffer[payload])) } catch {
                return .invalid("entry does not decode: \(error)")
            }
            return .invalid("entry does not decode: \(error)")
        }
    }

    /// The payload length in the record header at `buffer[index]` (the flag masked off).
    static func payloadLength(_ buffer: [UInt8], at index: Int) -> Int {
        Int(readU32(buffer, at: index) & ~(continuesFlag | sealedFlag))
    }

    /// The bytes after the record header at `buffer[index]`: payload plus seal.
    static func bodyLength(_ buffer: [UInt8], at index: Int) -> Int {
        payloadLength(buffer, at: index) + (readU32(buffer, at: index) & sealedFlag != 0 ? sealBytes : 0)
    }

    /// True when the record at `buffer[index]` is not the last of its batch.
    static func continuesBatch(_ buffer: [UInt8], at index: Int) -> Bool {
        readU32(buffer, at: index) & continuesFlag != 0
    }

    /// The 32-byte entry hash stored in the record at `buffer[index]` (not checked).
    static func storedHash(_ buffer: [UInt8], at index: Int) -> [UInt8] {
        Array(buffer[(index + 8)..<(index + recordHeaderBytes)])
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
    case valid(Entry, seal: EntrySeal?, recordBytes: Int)
    case invalid(String)
}

/// Why a file header was rejected.
struct HeaderProblem: Error {
    let reason: String
}
