// # Fork evidence (format version 1), integers big-endian
//
//     magic "TSFORK\0\1" 8 | version u16 = 1 | reserved u16 = 0
//     origin 32 bytes | seq u64 (≥ 1)
//     held length u32 (H ≤ 16 KiB) | H bytes: the entry this node held (Entry.encode)
//     received length u32 (R ≤ 16 KiB) | R bytes: the entry a peer sent for the same dot
//     CRC-32C u32 (Castagnoli) of everything before it
//
// Both entries carry the dot (origin, seq) in their own encoding; decoding checks that
// they match the header's and that their canonical encodings differ (else it is not a
// fork). One file holds one evidence: `DIR/forks/fork-<origin hex>-<seq>.bin`
// (ForkEvidenceStore.swift).

import TradeSyncClock
import TradeSyncModel

/// Proof that two writers use one origin's identity: two different entries with the same
/// dot (docs/ARCHITECTURE.md, Terms: "Fork"). It means a data directory was cloned (or
/// restored and written again) and now writes on two machines. It is kept, the origin is
/// quarantined, and it is never resolved silently.
///
/// Shape: ``held`` is the entry this node had (written and applied, from its log);
/// ``received`` is the different entry a peer sent later for the same ``dot``.
/// "Different" means different canonical encodings (``Entry/encoded()``), so the two
/// entry hashes differ. The binary form (``encoded()``) is described at the top of
/// `ForkEvidence.swift`.
public struct ForkEvidence: Hashable, Sendable, CustomStringConvertible {
    /// The file magic, `TSFORK\0\1`.
    public static let magic: [UInt8] = [0x54, 0x53, 0x46, 0x4F, 0x52, 0x4B, 0x00, 0x01]
    /// The format version written and read.
    public static let formatVersion: UInt16 = 1
    /// Bytes of the fixed parts: magic, version, reserved, origin, seq, two lengths, CRC.
    static let fixedBytes = 8 + 2 + 2 + NodeID.byteCount + 8 + 4 + 4 + 4
    /// Largest encoding, in bytes: the fixed parts plus two entries of at most
    /// ``EntryLimits/entryBytesMax`` bytes each (about 32 KiB).
    public static let encodedBytesMax = fixedBytes + 2 * EntryLimits.entryBytesMax

    /// The dot both entries carry.
    public let dot: Dot
    /// The entry this node held for ``dot``.
    public let held: Entry
    /// The different entry a peer sent for ``dot``.
    public let received: Entry

    /// The evidence that `held` and `received` make, or nil when they do not make a fork:
    /// their dots differ, or their canonical encodings are equal (a harmless re-send).
    ///
    /// Complexity: one encoding of each entry (O(entry bytes)).
    public init?(held: Entry, received: Entry) {
        guard held.dot == received.dot, held.encoded() != received.encoded() else { return nil }
        self.dot = held.dot
        self.held = held
        self.received = received
    }

    /// One line: the dot and both entry hashes (first 12 hex digits each).
    public var description: String {
        let heldHash = Hex.encode(held.hash.prefix(6))
        let receivedHash = Hex.encode(received.hash.prefix(6))
        return "fork at \(dot): held entry \(heldHash), received entry \(receivedHash)"
    }

    /// The binary form described at the top of `ForkEvidence.swift`; at most
    /// ``encodedBytesMax`` bytes.
    public func encoded() -> [UInt8] {
        let heldBytes = held.encoded()
        let receivedBytes = received.encoded()
        var writer = ByteWriter(capacity: Self.fixedBytes + heldBytes.count + receivedBytes.count)
        writer.writeBytes(Self.magic)
        writer.writeU16(Self.formatVersion)
        writer.writeU16(0)
        dot.origin.encode(into: &writer)
        writer.writeU64(dot.seq)
        writer.writeU32(UInt32(heldBytes.count))
        writer.writeBytes(heldBytes)
        writer.writeU32(UInt32(receivedBytes.count))
        writer.writeBytes(receivedBytes)
        writer.writeU32(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Reads evidence written by ``encoded()``, checking everything before trusting it:
    /// size, magic, CRC-32C, version, reserved field, entry lengths, both entries' dots
    /// against the header's, and that the two entries differ. Never traps on bad input.
    ///
    /// Offsets in the errors are from the start of `bytes`.
    /// - Throws: ``DecodeError``: `truncated` (too short), `lengthTooLarge` (more than
    ///   ``encodedBytesMax`` bytes, or an entry over ``EntryLimits/entryBytesMax``),
    ///   `badValue` (magic, CRC, version, reserved, seq 0, a dot that does not match,
    ///   equal entries), `trailingBytes`, or any error of ``Entry/decode(from:)``.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> ForkEvidence {
        guard bytes.count >= fixedBytes else { throw .truncated(offset: bytes.count, needed: fixedBytes - bytes.count) }
        guard bytes.count <= encodedBytesMax else {
            throw .lengthTooLarge(offset: 0, length: UInt64(bytes.count), lengthMax: encodedBytesMax)
        }
        guard Array(bytes[0..<magic.count]) == magic else {
            throw .badValue(offset: 0, field: "magic", reason: "not fork evidence (expected TSFORK\\0\\1)")
        }
        let crcOffset = bytes.count - 4
        let stored = LogFormat.readU32(bytes, at: crcOffset)
        let computed = CRC32C.checksum(bytes, range: 0..<crcOffset)
        guard stored == computed else {
            throw .badValue(
                offset: crcOffset, field: "CRC-32C",
                reason: "stored \(LogFormat.hex32(stored)), computed \(LogFormat.hex32(computed))")
        }
        var reader = ByteReader(bytes, range: magic.count..<crcOffset)
        let version = try reader.readU16()
        guard version == formatVersion else {
            throw .badValue(offset: magic.count, field: "version", reason: "\(version), expected \(formatVersion)")
        }
        guard try reader.readU16() == 0 else {
            throw .badValue(offset: magic.count + 2, field: "reserved", reason: "not 0")
        }
        let origin = try NodeID.decode(from: &reader)
        let seqOffset = reader.offset
        let seq = try reader.readU64()
        guard seq > 0 else { throw .badValue(offset: seqOffset, field: "seq", reason: "zero") }
        let dot = Dot(origin: origin, seq: seq)
        let held = try readEntry(bytes, &reader, field: "held entry", dot: dot)
        let receivedOffset = reader.offset
        let received = try readEntry(bytes, &reader, field: "received entry", dot: dot)
        try reader.expectEnd()
        guard let evidence = ForkEvidence(held: held, received: received) else {
            throw .badValue(
                offset: receivedOffset, field: "received entry", reason: "equal to the held entry: not a fork")
        }
        return evidence
    }

    /// Reads `length u32 | entry` and checks the entry's dot against the header's.
    private static func readEntry(_ bytes: [UInt8], _ reader: inout ByteReader, field: String, dot: Dot)
        throws(DecodeError) -> Entry
    {
        let lengthOffset = reader.offset
        let length = Int(try reader.readU32())
        guard length <= EntryLimits.entryBytesMax else {
            throw .lengthTooLarge(offset: lengthOffset, length: UInt64(length), lengthMax: EntryLimits.entryBytesMax)
        }
        let start = reader.offset
        _ = try reader.readBytes(length)  // bounds-checks and advances past the entry
        var entryReader = ByteReader(bytes, range: start..<(start + length))
        let entry = try Entry.decode(from: &entryReader)
        try entryReader.expectEnd()
        guard entry.dot == dot else {
            throw .badValue(offset: start, field: field, reason: "carries dot \(entry.dot), the evidence is for \(dot)")
        }
        return entry
    }
}
