import CBoringSHA256

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

    /// Copies 32 bytes. - Precondition: `bytes.count == 32`.
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount, "a digest is 32 bytes")
        bytes.withUnsafeBytes { Self.copy($0, into: &words) }
    }

    private init() {}

    /// SHA-256 of `bytes` (FIPS 180-4), by BoringSSL's one-shot `SHA256` as swift-crypto
    /// links it in (`Sources/CBoringSHA256/sha256.h` says why not through `SHA256`): no
    /// allocation, and the same bytes as `SHA256.hash(data:)` (`Digest32Tests`).
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> Digest32 {
        var digest = Digest32()
        Swift.withUnsafeMutableBytes(of: &digest.words) { out in
            _ = CCryptoBoringSSL_SHA256(
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                out.baseAddress?.assumingMemoryBound(to: UInt8.self))
        }
        return digest
    }

    /// SHA-256 of `a ‖ b`, joined in a buffer on the stack.
    public static func sha256(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Digest32 {
        joined(a.count + b.count) { buffer in
            var at = 0
            append(a, to: buffer, at: &at)
            append(b, to: buffer, at: &at)
        }
    }

    /// SHA-256 of `a ‖ b ‖ c`, joined in a buffer on the stack.
    public static func sha256(
        _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer
    ) -> Digest32 {
        joined(a.count + b.count + c.count) { buffer in
            var at = 0
            append(a, to: buffer, at: &at)
            append(b, to: buffer, at: &at)
            append(c, to: buffer, at: &at)
        }
    }

    /// SHA-256 of `a ‖ b ‖ c ‖ d`, joined in a buffer on the stack.
    public static func sha256(
        _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer,
        _ d: UnsafeRawBufferPointer
    ) -> Digest32 {
        joined(a.count + b.count + c.count + d.count) { buffer in
            var at = 0
            append(a, to: buffer, at: &at)
            append(b, to: buffer, at: &at)
            append(c, to: buffer, at: &at)
            append(d, to: buffer, at: &at)
        }
    }

    /// SHA-256 of the `count` bytes `fill` writes into a temporary buffer (on the stack
    /// when small, as every caller's is: at most a few hundred bytes).
    private static func joined(_ count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Digest32 {
        withUnsafeTemporaryAllocation(byteCount: max(count, 1), alignment: 8) { buffer in
            fill(buffer)
            return sha256(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    private static func append(_ part: UnsafeRawBufferPointer, to buffer: UnsafeMutableRawBufferPointer, at offset: inout Int) {
        guard let source = part.baseAddress, let base = buffer.baseAddress, !part.isEmpty else { return }
        (base + offset).copyMemory(from: source, byteCount: part.count)
        offset += part.count
    }

    /// The digest as four 64-bit integers, each read little-endian: what an AdHash sum adds.
    public var littleEndianWords: (UInt64, UInt64, UInt64, UInt64) {
        (words.0.littleEndian, words.1.littleEndian, words.2.littleEndian, words.3.littleEndian)
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
