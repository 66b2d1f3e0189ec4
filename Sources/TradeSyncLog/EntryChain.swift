import Crypto
import TradeSyncClock

/// An origin's Ed25519 signature over its chain head at one of its entries, with the
/// public key that made it (the origin's node ID is SHA-256 of that key).
///
/// Shape: `publicKey` 32 bytes (RFC 8032 encoding), `signature` 64 bytes. On the wire it
/// travels in a BATCH next to the entry it seals; in the log it is part of the entry's
/// ``EntrySeal``. Source: `Protocol/PROTOCOL.md`, "Signed entries".
public struct ChainSignature: Hashable, Sendable {
    /// Bytes of an Ed25519 public key.
    public static let publicKeyBytes = 32
    /// Bytes of an Ed25519 signature.
    public static let signatureBytes = 64
    /// Bytes of the whole signature as it travels: key and signature.
    public static let encodedBytes = publicKeyBytes + signatureBytes

    /// The signer's Ed25519 public key, 32 bytes.
    public let publicKey: [UInt8]
    /// The Ed25519 signature, 64 bytes, over ``EntryChain/signedMessage(origin:seq:head:)``.
    public let signature: [UInt8]

    /// Wraps a key and a signature. - Precondition: 32 and 64 bytes.
    public init(publicKey: [UInt8], signature: [UInt8]) {
        precondition(publicKey.count == Self.publicKeyBytes && signature.count == Self.signatureBytes, "signature shape")
        self.publicKey = publicKey
        self.signature = signature
    }

    /// The node ID this key belongs to: SHA-256 of the public key.
    public var signer: NodeID { NodeID(bytes: Array(SHA256.hash(data: publicKey))) ?? .zero }
}

/// What the log stores with an entry its origin sealed: the chain head at that entry and
/// the origin's signature over it (128 bytes in the record, see `LogFormat.swift`).
public struct EntrySeal: Hashable, Sendable {
    /// The origin's chain head at the entry, 32 bytes (``EntryChain/next(_:entryHash:)``).
    public let head: [UInt8]
    /// The origin's signature over `head`.
    public let signature: ChainSignature

    /// - Precondition: `head` is 32 bytes.
    public init(head: [UInt8], signature: ChainSignature) {
        precondition(head.count == EntryChain.headBytes, "chain head shape")
        self.head = head
        self.signature = signature
    }
}

/// An entry with the seal it carries, if any: what the log reads back and sessions send.
public struct SealedEntry: Hashable, Sendable {
    /// The entry as its origin authored it.
    public let entry: Entry
    /// Set on the entries at which the origin signed its chain head.
    public let seal: EntrySeal?
    /// The entry hash (SHA-256 of its canonical encoding) when the caller has it at hand
    /// (the chain computed it), so that the log stores it without hashing the entry again;
    /// nil otherwise. Not part of equality: it is a function of `entry`.
    public let entryHash: Digest32?

    /// Pairs an entry with its seal (nil for an entry inside a span).
    /// - Parameter entryHash: the entry's hash, if already computed (``Entry/digest``).
    public init(_ entry: Entry, seal: EntrySeal? = nil, entryHash: Digest32? = nil) {
        self.entry = entry
        self.seal = seal
        self.entryHash = entryHash
    }

    public static func == (lhs: SealedEntry, rhs: SealedEntry) -> Bool { lhs.entry == rhs.entry && lhs.seal == rhs.seal }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entry)
        hasher.combine(seal)
    }
}

/// An entry with its origin's signature, if the origin signed its chain head at it: the
/// form in which entries travel between nodes (the head is recomputed by the receiver).
public struct SignedEntry: Hashable, Sendable {
    /// The entry as its origin authored it.
    public let entry: Entry
    /// The origin's signature over its chain head at this entry, when it signed there.
    public let signature: ChainSignature?

    /// Pairs an entry with its origin's signature (nil for an entry inside a span).
    public init(_ entry: Entry, signature: ChainSignature? = nil) {
        self.entry = entry
        self.signature = signature
    }

    /// The travelling form of a logged entry: its seal's signature, without the head.
    public init(_ sealed: SealedEntry) {
        self.init(sealed.entry, signature: sealed.seal?.signature)
    }
}

/// The hash chain of an origin's entries and the signatures over it.
///
/// Every entry of an origin is linked to the one before it: `head(n) = SHA-256("TSCHAIN1"
/// ‖ head(n−1) ‖ SHA-256(entry n))`, with `head(0)` = 32 zero bytes. The hash of the
/// previous entry is thus part of what each head covers, so it need not travel: a receiver
/// that holds seq n−1 recomputes it. The origin signs a head now and then (the last entry
/// of each of its appends, and at least every ``sealEntriesMax`` entries or
/// ``sealBytesMax`` bytes); one signature vouches for every entry up to it, as Hypercore
/// signs the roots of its Merkle tree instead of each block (Hypercore protocol,
/// "signatures"; Crosby & Wallach, "Efficient Data Structures for Tamper-Evident Logging",
/// USENIX Security 2009). Source: `Protocol/PROTOCOL.md`, "Signed entries".
public enum EntryChain {
    /// Bytes of a chain head.
    public static let headBytes = 32
    /// The head before an origin's first entry.
    public static let genesis = [UInt8](repeating: 0, count: headBytes)
    /// Most entries an origin writes between two signed heads. A sender cuts batches only
    /// after signed entries, so one span must fit a batch: well under
    /// `Limits.batchEntriesMax` (4096).
    public static let sealEntriesMax = 1024
    /// Most bytes of entry encodings between two signed heads, before the entry that
    /// crosses it: 128 KiB + one entry (16 KiB) stays far below `Limits.batchBytesMax`.
    public static let sealBytesMax = 128 * 1024

    private static let chainTag = Array("TSCHAIN1".utf8)
    private static let signTag = Array("TSSIG\u{0}\u{0}1".utf8)

    /// The head after an entry whose SHA-256 (of its canonical encoding) is `entryHash`.
    public static func next(_ previous: [UInt8], entryHash: [UInt8]) -> [UInt8] {
        previous.withUnsafeBytes { head in
            entryHash.withUnsafeBytes { hash in next(head, entryHash: hash).bytes }
        }
    }

    /// ``next(_:entryHash:)`` with the head and hash held inline: what a batch's loop keeps.
    public static func next(_ previous: Digest32, entryHash: Digest32) -> Digest32 {
        previous.withUnsafeBytes { head in
            entryHash.withUnsafeBytes { hash in next(head, entryHash: hash) }
        }
    }

    /// `SHA-256("TSCHAIN1" ‖ previous ‖ entryHash)`, each 32 bytes after the tag.
    private static func next(_ previous: UnsafeRawBufferPointer, entryHash: UnsafeRawBufferPointer) -> Digest32 {
        precondition(previous.count == headBytes && entryHash.count == headBytes, "chain head and entry hash are 32 bytes")
        return chainTag.withUnsafeBytes { Digest32.sha256($0, previous, entryHash) }
    }

    /// The head after `entry`.
    public static func next(_ previous: [UInt8], entry: Entry) -> [UInt8] {
        next(previous, entryHash: entry.hash)
    }

    /// The 80 bytes an origin signs: `"TSSIG\0\01" ‖ origin (32) ‖ seq (u64 big-endian) ‖ head (32)`.
    public static func signedMessage(origin: NodeID, seq: UInt64, head: [UInt8]) -> [UInt8] {
        var message = signTag
        message.reserveCapacity(80)
        message += origin.bytes
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: seq >> UInt64(shift))) }
        message += head
        return message
    }

    /// Signs the head at `dot` with the origin's key.
    /// - Throws: when the key cannot sign (BoringSSL failure; not expected).
    public static func sign(head: [UInt8], at dot: Dot, key: Curve25519.Signing.PrivateKey) throws -> EntrySeal {
        let signature = try key.signature(for: signedMessage(origin: dot.origin, seq: dot.seq, head: head))
        return EntrySeal(
            head: head,
            signature: ChainSignature(publicKey: Array(key.publicKey.rawRepresentation), signature: Array(signature)))
    }

    /// Why a signature does not vouch for a head; nil when it does: the key must hash to
    /// the origin, and the signature must verify over ``signedMessage(origin:seq:head:)``.
    public static func problem(with signature: ChainSignature, at dot: Dot, head: [UInt8]) -> String? {
        guard signature.signer == dot.origin else {
            return "signed by key of node \(signature.signer.short), not by its origin"
        }
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: signature.publicKey) else {
            return "public key is not a valid Ed25519 key"
        }
        let message = signedMessage(origin: dot.origin, seq: dot.seq, head: head)
        guard key.isValidSignature(signature.signature, for: message) else {
            return "origin's signature over its chain head at seq \(dot.seq) does not verify"
        }
        return nil
    }
}

/// An origin's signing key: seals the node's own entries (``EntryChain``).
public struct ChainSigner: Sendable {
    private let key: Curve25519.Signing.PrivateKey
    /// The node ID of the key: SHA-256 of its public key.
    public let origin: NodeID

    /// Wraps the node's Ed25519 private key.
    public init(privateKey: Curve25519.Signing.PrivateKey) {
        key = privateKey
        origin = NodeID(bytes: Array(SHA256.hash(data: privateKey.publicKey.rawRepresentation))) ?? .zero
    }

    /// A signer from a 32-byte Ed25519 private key (the RFC 8032 seed), e.g. for seeded tests.
    /// - Throws: when `rawPrivateKey` is not 32 bytes.
    public init(rawPrivateKey: [UInt8]) throws {
        self.init(privateKey: try Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey))
    }

    /// The 32-byte public key.
    public var publicKey: [UInt8] { Array(key.publicKey.rawRepresentation) }

    /// Signs the chain head at `dot`. - Throws: when BoringSSL cannot sign (not expected).
    public func seal(head: [UInt8], at dot: Dot) throws -> EntrySeal {
        try EntryChain.sign(head: head, at: dot, key: key)
    }
}
