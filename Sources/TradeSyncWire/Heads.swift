import TradeSyncClock
import TradeSyncModel

/// HELLO `features` bit 1: the sender sends HEADS right after its VECTOR, and waits for
/// the peer's HEADS (when the peer sets this bit too) before streaming batches, so that a
/// fork is found before entries that follow the forked dot are applied anywhere.
public enum HeadsFeature {
    /// The bit, `1 << 1`.
    public static let bit: UInt32 = 1 << 1
}

/// HELLO `features` bit 2 (`window-16`): the sender accepts up to
/// ``Limits/windowBatchesMaxWide`` unacknowledged BATCHes instead of
/// ``Limits/windowBatchesMax``. Used, in both directions, only when both HELLOs set it.
public enum WideWindowFeature {
    /// The bit, `1 << 2`.
    public static let bit: UInt32 = 1 << 2

    /// The window two peers use, in batches: ``Limits/windowBatchesMaxWide`` when both
    /// announced ``bit``, else ``Limits/windowBatchesMax``.
    public static func windowBatches(ours: UInt32, theirs: UInt32) -> Int {
        ours & theirs & bit != 0 ? Limits.windowBatchesMaxWide : Limits.windowBatchesMax
    }
}

/// One origin's head as HEADS (0x08) carries it: the highest seq the sender holds
/// durably for `origin`, and the first 8 bytes (big-endian) of the SHA-256 entry hash of
/// the entry at that dot. Two nodes that hold one dot with different content (a fork:
/// a cloned data directory writing on two machines) see different hashes.
/// Source: `Protocol/PROTOCOL.md`, "HEADS".
public struct Head: Equatable, Hashable, Sendable {
    /// The origin.
    public let origin: NodeID
    /// The highest seq held, ≥ 1.
    public let seq: UInt64
    /// The first 8 bytes of the entry's SHA-256 hash, as a big-endian integer.
    public let hashPrefix: UInt64

    /// Creates a head. - Precondition: `seq >= 1`.
    public init(origin: NodeID, seq: UInt64, hashPrefix: UInt64) {
        precondition(seq >= 1, "a head names a held entry")
        self.origin = origin
        self.seq = seq
        self.hashPrefix = hashPrefix
    }

    /// The head of the entry with this `dot` and SHA-256 `hash` (32 bytes).
    public init(dot: Dot, hash: [UInt8]) {
        var prefix: UInt64 = 0
        for byte in hash.prefix(8) { prefix = prefix << 8 | UInt64(byte) }
        self.init(origin: dot.origin, seq: dot.seq, hashPrefix: prefix)
    }

    /// The dot it names.
    public var dot: Dot { Dot(origin: origin, seq: seq) }

    /// `HEADS` body: `count varint | count × (origin nodeID | seq varint | hashPrefix u64)`,
    /// ascending origin order, each origin once, seq ≥ 1, at most ``Limits/vectorOriginsMax``.
    static func encode(_ heads: [Head], into writer: inout ByteWriter) {
        writer.writeVarint(UInt64(heads.count))
        for head in heads.sorted(by: { $0.origin < $1.origin }) {
            head.origin.encode(into: &writer)
            writer.writeVarint(head.seq)
            writer.writeU64(head.hashPrefix)
        }
    }

    /// Reads a HEADS body. - Throws: ``DecodeError`` on truncation, a count above
    /// ``Limits/vectorOriginsMax`` (`limitExceeded`), origins out of order or repeated, seq 0.
    static func decode(from reader: inout ByteReader) throws(DecodeError) -> [Head] {
        let start = reader.offset
        let count = try reader.readVarint()
        guard count <= UInt64(Limits.vectorOriginsMax) else {
            throw .limitExceeded(offset: start, limit: Limits.vectorOrigins, value: count)
        }
        var heads: [Head] = []
        heads.reserveCapacity(Int(count))
        for _ in 0..<count {
            let at = reader.offset
            let origin = try NodeID.decode(from: &reader)
            let seq = try reader.readVarint()
            let prefix = try reader.readU64()
            if let previous = heads.last, !(previous.origin < origin) {
                throw .badValue(offset: at, field: "origin", reason: "not in ascending order")
            }
            guard seq >= 1 else { throw .badValue(offset: at, field: "seq", reason: "0; a head names a held entry") }
            heads.append(Head(origin: origin, seq: seq, hashPrefix: prefix))
        }
        return heads
    }
}
