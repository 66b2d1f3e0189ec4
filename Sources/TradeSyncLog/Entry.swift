import Crypto
import TradeSyncClock
import TradeSyncModel

/// What an entry does to its key.
public enum Operation: Hashable, Sendable {
    /// Sets the record's values.
    case put(TradeValues)
    /// Deletes the record. A delete is a version like any other (a tombstone).
    case delete

    /// True for a tombstone.
    public var isDelete: Bool { if case .delete = self { true } else { false } }

    /// The values of a put; nil for a tombstone.
    public var values: TradeValues? { if case .put(let values) = self { values } else { nil } }

    /// Appends the canonical encoding: tag 1 + values for put, tag 2 for delete.
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .put(let values):
            writer.writeU8(1)
            values.encode(into: &writer)
        case .delete:
            writer.writeU8(2)
        }
    }

    /// Reads an operation. - Throws: ``DecodeError`` on an unknown tag or bad values.
    public static func decode(from reader: inout ByteReader) throws(DecodeError) -> Operation {
        let start = reader.offset
        switch try reader.readU8() {
        case 1: return .put(try TradeValues.decode(from: &reader))
        case 2: return .delete
        case let tag: throw .badValue(offset: start, field: "operation", reason: "unknown tag \(tag)")
        }
    }
}

/// Limits on one entry's encoding, shared by the log and the wire.
public enum EntryLimits {
    /// Most origins in one causal context. A context names only the writers of one key,
    /// so even a large federation of offices stays far below this.
    public static let contextOriginsMax = 256
    /// Largest canonical encoding of one entry, in bytes: dot (32 + 10) + HLC (8) +
    /// context (2 + 256 × 42) + key (~60) + values (~70), rounded up.
    public static let entryBytesMax = 16 * 1024

    /// ``contextOriginsMax`` with its name, for decoders' errors.
    public static let contextOrigins = NamedLimit("contextOriginsMax", contextOriginsMax)
    /// ``entryBytesMax`` with its name.
    public static let entryBytes = NamedLimit("entryBytesMax", entryBytesMax)
}

/// One write, as authored by its origin and replicated unchanged to every node.
///
/// Shape: a dot (origin, seq) that names it uniquely; an HLC timestamp; the causal
/// context (the version vector for this key that the author had seen, which decides what
/// it supersedes); the key; and the operation. Its ``hash`` (SHA-256 of ``encoded()``)
/// names its content.
public struct Entry: Hashable, Sendable {
    /// The entry's format version inside its encoding.
    public static let formatVersion: UInt8 = 1

    public var dot: Dot { storage.dot }
    public var hlc: HLCTimestamp { storage.hlc }
    public var context: VersionVector { storage.context }
    public var key: TradeKey { storage.key }
    public var operation: Operation { storage.operation }

    /// The canonical encoding, made once: at ``init(dot:hlc:context:key:operation:)``, or
    /// kept from the bytes ``decode(from:)`` read. The log, the wire and the chain hash all
    /// use these bytes, so an entry received and stored is never encoded again.
    private var canonical: [UInt8] { storage.canonical }
    /// True when ``canonical`` is known to decode again without decoding it here: it came
    /// from a decode that accepted it (``decode(from:)``), or from fields a decoder checked
    /// as that decode would (``init(checkedDot:hlc:context:key:operation:)``). A log decodes
    /// only the other entries (local writes, imports) before it writes them.
    public var wasDecoded: Bool { storage.wasDecoded }
    /// Where the fields after the dot and HLC start in ``canonical``: see ``Layout``.
    private var layout: Layout { storage.layout }

    /// Every field, in one immutable object shared by all copies of the entry. An entry
    /// passes through many arrays on its way (a batch decoded, sealed, written, applied,
    /// kept as recent), and as a struct of ~200 bytes holding an array and a version vector
    /// each copy cost those bytes plus a retain per reference inside; boxed, a copy is 8
    /// bytes and one retain.
    private let storage: Storage

    private final class Storage: Sendable {
        let dot: Dot
        let hlc: HLCTimestamp
        let context: VersionVector
        let key: TradeKey
        let operation: Operation
        let canonical: [UInt8]
        let wasDecoded: Bool
        let layout: Layout

        init(
            dot: Dot, hlc: HLCTimestamp, context: VersionVector, key: TradeKey, operation: Operation, canonical: [UInt8],
            wasDecoded: Bool, layout: Layout
        ) {
            self.dot = dot
            self.hlc = hlc
            self.context = context
            self.key = key
            self.operation = operation
            self.canonical = canonical
            self.wasDecoded = wasDecoded
            self.layout = layout
        }
    }

    /// Offsets into the canonical encoding, in bytes: the context starts at `contextStart`
    /// (so `1..<contextStart` is `origin | seq | hlc`), the key at `keyStart`, the operation
    /// at `operationStart` and runs to the end. Each fits in 16 bits
    /// (``EntryLimits/entryBytesMax`` is 16 KiB).
    struct Layout: Hashable, Sendable {
        var contextStart: UInt16
        var keyStart: UInt16
        var operationStart: UInt16
    }

    public init(dot: Dot, hlc: HLCTimestamp, context: VersionVector, key: TradeKey, operation: Operation) {
        self.init(encoding: dot, hlc, context, key, operation, knownToDecode: false)
    }

    /// Encodes the fields once; `knownToDecode` is what ``wasDecoded`` says.
    private init(
        encoding dot: Dot, _ hlc: HLCTimestamp, _ context: VersionVector, _ key: TradeKey, _ operation: Operation,
        knownToDecode: Bool
    ) {
        var writer = ByteWriter(capacity: 128)
        let layout = Self.encode(dot: dot, hlc: hlc, context: context, key: key, operation: operation, into: &writer)
        storage = Storage(
            dot: dot, hlc: hlc, context: context, key: key, operation: operation, canonical: writer.bytes,
            wasDecoded: knownToDecode, layout: layout)
    }

    /// Creates an entry from fields that a wire decoder has checked one by one against the
    /// rules ``decode(from:)`` applies (seq ≥ 1, context origins ascending with non-zero
    /// counters and at most ``EntryLimits/contextOriginsMax`` of them, every code and value
    /// through its validating type), and marks it ``wasDecoded`` without decoding its
    /// canonical encoding again. The caller still checks ``encodedCount`` against
    /// ``EntryLimits/entryBytesMax``.
    ///
    /// For the columnar payload decoder (TradeSyncWire): that its acceptance implies
    /// ``decode(_:)``'s is what the frame fuzzer checks on every columnar batch it decodes
    /// (`MessageChecks.checkColumnar`), and debug builds (every test) check it here.
    package init(checkedDot dot: Dot, hlc: HLCTimestamp, context: VersionVector, key: TradeKey, operation: Operation) {
        self.init(encoding: dot, hlc, context, key, operation, knownToDecode: true)
        assert(
            canonical.count > EntryLimits.entryBytesMax || (try? Self.decode(canonical)) == self,
            "entry \(dot) built from checked fields does not decode from its canonical encoding")
    }

    private init(
        dot: Dot, hlc: HLCTimestamp, context: VersionVector, key: TradeKey, operation: Operation, canonical: [UInt8],
        layout: Layout
    ) {
        storage = Storage(
            dot: dot, hlc: hlc, context: context, key: key, operation: operation, canonical: canonical, wasDecoded: true,
            layout: layout)
    }

    /// Equal fields; the canonical encodings then agree too.
    public static func == (lhs: Entry, rhs: Entry) -> Bool {
        lhs.storage === rhs.storage
            || lhs.dot == rhs.dot && lhs.hlc == rhs.hlc && lhs.context == rhs.context && lhs.key == rhs.key
            && lhs.operation == rhs.operation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(dot)
        hasher.combine(hlc)
        hasher.combine(key)
    }

    /// Appends the canonical encoding:
    /// `version u8 | origin 32B | seq varint | hlc u64 | context | key | operation`.
    public func encode(into writer: inout ByteWriter) { writer.writeBytes(canonical) }

    private static func encode(
        dot: Dot, hlc: HLCTimestamp, context: VersionVector, key: TradeKey, operation: Operation,
        into writer: inout ByteWriter
    ) -> Layout {
        let start = writer.bytes.count
        writer.writeU8(formatVersion)
        dot.origin.encode(into: &writer)
        writer.writeVarint(dot.seq)
        writer.writeU64(hlc.rawValue)
        let contextStart = writer.bytes.count - start
        context.encode(into: &writer)
        let keyStart = writer.bytes.count - start
        key.encode(into: &writer)
        let operationStart = writer.bytes.count - start
        operation.encode(into: &writer)
        // Offsets beyond 16 bits mean an entry beyond entryBytesMax, which no log or wire
        // accepts; they are clamped here and the entry is refused by its size.
        return Layout(
            contextStart: UInt16(clamping: contextStart), keyStart: UInt16(clamping: keyStart),
            operationStart: UInt16(clamping: operationStart))
    }

    /// Calls `body` with the canonical encoding's parts that digest elements are made of,
    /// without copying or encoding anything: `dotAndHLC` (`origin 32 B | seq varint |
    /// hlc u64`), `key` (the key's encoding) and `operation` (the operation's: a tag byte,
    /// then for a put the values' encoding).
    /// Nil for an encoding beyond ``EntryLimits/entryBytesMax`` (which no log writes).
    public func withParts<R>(
        _ body: (_ dotAndHLC: UnsafeRawBufferPointer, _ key: UnsafeRawBufferPointer, _ operation: UnsafeRawBufferPointer)
            -> R
    ) -> R? {
        guard canonical.count <= EntryLimits.entryBytesMax else { return nil }
        return canonical.withUnsafeBytes { raw in
            body(
                UnsafeRawBufferPointer(rebasing: raw[1..<Int(layout.contextStart)]),
                UnsafeRawBufferPointer(rebasing: raw[Int(layout.keyStart)..<Int(layout.operationStart)]),
                UnsafeRawBufferPointer(rebasing: raw[Int(layout.operationStart)...]))
        }
    }

    /// The canonical encoding as a byte array (no work: it is kept).
    public func encoded() -> [UInt8] { canonical }

    /// The canonical encoding's length in bytes.
    public var encodedCount: Int { canonical.count }

    /// Reads one entry written by ``encode(into:)``.
    /// - Throws: ``DecodeError`` on an unknown format version, a zero seq, or any
    ///   malformed field.
    public static func decode(from reader: inout ByteReader) throws(DecodeError) -> Entry {
        let start = reader.offset
        let version = try reader.readU8()
        guard version == formatVersion else {
            throw .badValue(offset: start, field: "entry version", reason: "\(version), expected \(formatVersion)")
        }
        let origin = try NodeID.decode(from: &reader)
        let seqOffset = reader.offset
        let seq = try reader.readVarint()
        guard seq > 0 else { throw .badValue(offset: seqOffset, field: "seq", reason: "zero") }
        let hlc = HLCTimestamp(rawValue: try reader.readU64())
        let contextStart = reader.offset - start
        let context = try VersionVector.decode(from: &reader, originsLimit: EntryLimits.contextOrigins)
        let keyStart = reader.offset - start
        let key = try TradeKey.decode(from: &reader)
        let operationStart = reader.offset - start
        let operation = try Operation.decode(from: &reader)
        let layout = Layout(
            contextStart: UInt16(clamping: contextStart), keyStart: UInt16(clamping: keyStart),
            operationStart: UInt16(clamping: operationStart))
        let entry = Entry(
            dot: Dot(origin: origin, seq: seq), hlc: hlc, context: context, key: key, operation: operation,
            canonical: reader.bytes(in: start..<reader.offset), layout: layout)
        // Decoders accept canonical encodings only, so the bytes kept are the ones the
        // fields encode to; debug builds (every test, the fuzzers' seeds) check it.
        assert(
            Entry(dot: entry.dot, hlc: hlc, context: context, key: key, operation: operation).canonical == entry.canonical,
            "entry \(entry.dot) decoded from a non-canonical encoding")
        return entry
    }

    /// Decodes exactly one entry occupying all of `bytes`.
    /// - Throws: ``DecodeError``, including `trailingBytes`.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Entry {
        var reader = ByteReader(bytes)
        let entry = try decode(from: &reader)
        try reader.expectEnd()
        return entry
    }

    /// SHA-256 of the canonical encoding.
    public var hash: [UInt8] { Self.hash(ofEncoding: canonical) }

    /// ``hash``, held inline (no array): what the chain and the log take.
    public var digest: Digest32 { canonical.withUnsafeBytes { Digest32.sha256($0) } }

    /// SHA-256 of an entry's canonical encoding already at hand (the entry hash).
    public static func hash(ofEncoding bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { Digest32.sha256($0) }.bytes
    }
}
