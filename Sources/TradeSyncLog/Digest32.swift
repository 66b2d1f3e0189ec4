import Crypto

/// A 32-byte hash held inline, as four 64-bit words (no heap allocation): an entry hash or
/// a chain head while a batch is sealed or checked. `[UInt8]` digests cost an allocation
/// and a release each, two per entry on the receive and import paths.
///
/// Shape: the bytes in order, word `i` holding bytes `8i ..< 8i + 8` in memory order, so
/// ``withUnsafeBytes(_:)`` yields exactly the 32 digest bytes.
public struct Digest32: Hashable, Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// Bytes in a digest.
    public static let byteCount = 32

    /// Copies a SHA-256 digest.
    public init(_ digest: SHA256Digest) {
        digest.withUnsafeBytes { Self.copy($0, into: &words) }
    }

    /// Copies 32 bytes. - Precondition: `bytes.count == 32`.
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount, "a digest is 32 bytes")
        bytes.withUnsafeBytes { Self.copy($0, into: &words) }
    }

    /// SHA-256 of `bytes` (FIPS 180-4), computed by swift-crypto.
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> Digest32 {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        return Digest32(hasher.finalize())
    }

    /// The 32 bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Calls `body` with the 32 bytes.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: words, body)
    }

    public static func == (lhs: Digest32, rhs: Digest32) -> Bool { lhs.words == rhs.words }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    private static func copy(_ raw: UnsafeRawBufferPointer, into words: inout (UInt64, UInt64, UInt64, UInt64)) {
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: raw) }
    }
}
