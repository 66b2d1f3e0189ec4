import TradeSyncModel

/// A node's stable identity: 32 bytes, the SHA-256 of its public key.
///
/// Kept as four big-endian 64-bit words so comparison and hashing are cheap; the order
/// is the lexicographic order of the 32 bytes, and it breaks ties between concurrent
/// versions with equal HLC timestamps (higher ID wins).
///
/// Text forms: ``hex`` (64 lowercase hex digits, the full ID) and ``short`` (the first
/// 12 hex digits, for tables and dots; unique in practice for a few offices).
public struct NodeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number of bytes in an ID.
    public static let byteCount = 32

    let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// The all-zero ID (never a real node).
    public static let zero = NodeID(words: (0, 0, 0, 0))

    init(words: (UInt64, UInt64, UInt64, UInt64)) {
        (w0, w1, w2, w3) = words
    }

    /// Creates an ID from exactly 32 bytes. Returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in bytes.enumerated() {
            words[index / 8] = words[index / 8] << 8 | UInt64(byte)
        }
        self.init(words: (words[0], words[1], words[2], words[3]))
    }

    /// Parses 64 hex digits. Returns nil when the text is not exactly that.
    public init?(hex: some StringProtocol) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.byteCount else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.init(bytes: bytes)
    }

    /// The 32 bytes, big-endian.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.byteCount)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }

    /// 64 lowercase hex digits.
    public var hex: String { Hex.encode(bytes) }

    /// The first 12 hex digits.
    public var short: String { String(hex.prefix(12)) }

    public var description: String { short }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    /// Appends the 32 raw bytes.
    public func encode(into writer: inout ByteWriter) {
        writer.writeU64(w0)
        writer.writeU64(w1)
        writer.writeU64(w2)
        writer.writeU64(w3)
    }

    /// Reads 32 raw bytes. - Throws: ``DecodeError/truncated(offset:needed:)``.
    public static func decode(from reader: inout ByteReader) throws(DecodeError) -> NodeID {
        NodeID(words: (try reader.readU64(), try reader.readU64(), try reader.readU64(), try reader.readU64()))
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x61...0x66: byte - 0x61 + 10
    case 0x41...0x46: byte - 0x41 + 10
    default: nil
    }
}

/// The globally unique name of an entry: its origin node and that origin's sequence
/// number. An origin numbers its entries 1, 2, 3, … without gaps.
///
/// Text form: `SHORTID:SEQ`, e.g. `3f2a9c01b7de:17`.
public struct Dot: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let origin: NodeID
    /// The origin's sequence number, from 1.
    public let seq: UInt64

    public init(origin: NodeID, seq: UInt64) {
        self.origin = origin
        self.seq = seq
    }

    public var description: String { "\(origin.short):\(seq)" }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        lhs.origin != rhs.origin ? lhs.origin < rhs.origin : lhs.seq < rhs.seq
    }
}
