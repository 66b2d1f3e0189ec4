import Crypto
import TradeSyncLog
import TradeSyncModel

/// An order-independent, incremental digest of a multiset of elements: the sum, modulo
/// 2^256, of each element's SHA-256 (read as a little-endian 256-bit integer). Adding or
/// removing one element costs one hash and a 4-limb addition, so the replica keeps its
/// digests current on every apply and `status` reports them in O(1).
///
/// Source: AdHash, M. Bellare and D. Micciancio, "A New Paradigm for Collision-free
/// Hashing: Incrementality at Reduced Cost", EUROCRYPT 1997. At 256 bits it detects
/// divergence between replicas; it is not an authenticator against a peer that chooses
/// elements to collide (Wagner's generalised birthday attack): entries are authenticated by
/// their origins' signatures over the chain (PROTOCOL.md, "Signed entries"), not by this.
public struct SetDigest: Sendable, Equatable {
    /// The sum as four 64-bit limbs, least significant first.
    public private(set) var limbs: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// The digest of the empty set.
    public init() {}

    /// Restores a sum from its 32-byte little-endian form (``sumBytes``).
    /// - Precondition: `bytes.count == 32`.
    public init(sumBytes bytes: [UInt8]) {
        precondition(bytes.count == 32, "a set digest sum is 32 bytes")
        limbs = (Self.limb(bytes, 0), Self.limb(bytes, 8), Self.limb(bytes, 16), Self.limb(bytes, 24))
    }

    public static func == (lhs: SetDigest, rhs: SetDigest) -> Bool { lhs.limbs == rhs.limbs }

    /// Adds the element whose canonical encoding is `bytes`.
    public mutating func insert(_ bytes: [UInt8]) { add(Self.hashLimbs(bytes), negate: false) }

    /// Adds the element whose canonical encoding is `a ‖ b`: the same sum as ``insert(_:)``
    /// of the joined bytes, joined on the stack.
    public mutating func insert(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) {
        add(Digest32.sha256(a, b).littleEndianWords, negate: false)
    }

    /// Adds the element whose canonical encoding is `a ‖ b ‖ c ‖ d` (as ``insert(_:_:)``).
    public mutating func insert(
        _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer,
        _ d: UnsafeRawBufferPointer
    ) {
        add(Digest32.sha256(a, b, c, d).littleEndianWords, negate: false)
    }

    /// Removes the element whose canonical encoding is `bytes` (inserted earlier).
    public mutating func remove(_ bytes: [UInt8]) { add(Self.hashLimbs(bytes), negate: true) }

    /// The sum as 32 bytes, little-endian (what a snapshot stores).
    public var sumBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for limb in [limbs.0, limbs.1, limbs.2, limbs.3] {
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: limb >> UInt64(shift))) }
        }
        return out
    }

    /// The published digest: SHA-256(`domain` ‖ sum, 32 B little-endian ‖ `count` u64 BE),
    /// 32 bytes. `domain` separates digests of different sets; `count` is the number of
    /// elements held.
    public func finalize(domain: String, count: Int) -> [UInt8] {
        var writer = ByteWriter(capacity: domain.utf8.count + 40)
        writer.writeBytes(Array(domain.utf8))
        writer.writeBytes(sumBytes)
        writer.writeU64(UInt64(count))
        return SHA256.hash(data: writer.bytes).withUnsafeBytes { Array($0) }
    }

    private mutating func add(_ x: (UInt64, UInt64, UInt64, UInt64), negate: Bool) {
        // Subtraction is addition of the two's complement: ~x + 1.
        var y = negate ? (~x.0, ~x.1, ~x.2, ~x.3) : x
        var carry: UInt64 = negate ? 1 : 0
        if negate {
            (y.0, carry) = Self.addCarry(y.0, 0, carry)
            (y.1, carry) = Self.addCarry(y.1, 0, carry)
            (y.2, carry) = Self.addCarry(y.2, 0, carry)
            (y.3, _) = Self.addCarry(y.3, 0, carry)
            carry = 0
        }
        (limbs.0, carry) = Self.addCarry(limbs.0, y.0, carry)
        (limbs.1, carry) = Self.addCarry(limbs.1, y.1, carry)
        (limbs.2, carry) = Self.addCarry(limbs.2, y.2, carry)
        (limbs.3, _) = Self.addCarry(limbs.3, y.3, carry)
    }

    private static func addCarry(_ a: UInt64, _ b: UInt64, _ carry: UInt64) -> (UInt64, UInt64) {
        let (s1, o1) = a.addingReportingOverflow(b)
        let (s2, o2) = s1.addingReportingOverflow(carry)
        return (s2, (o1 ? 1 : 0) + (o2 ? 1 : 0))
    }

    private static func hashLimbs(_ bytes: [UInt8]) -> (UInt64, UInt64, UInt64, UInt64) {
        bytes.withUnsafeBytes { Digest32.sha256($0) }.littleEndianWords
    }

    private static func limb(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in (at..<at + 8).reversed() { value = value << 8 | UInt64(bytes[index]) }
        return value
    }
}
