import TradeSyncClock
import TradeSyncModel

/// HELLO (0x01): who the sender is and which versions it speaks.
///
/// Layout, 52 bytes, the same in every protocol version so any two versions can negotiate:
/// `magic "TSYN" | versionMin u16 | versionMax u16 | nodeID 32B | logInstanceID u64 | features u32`.
/// Source: `Protocol/PROTOCOL.md`, "HELLO".
public struct Hello: Equatable, Sendable {
    /// The four magic bytes, ASCII `TSYN`.
    public static let magic: [UInt8] = Array("TSYN".utf8)
    /// Bytes in a HELLO body.
    public static let bodyBytes = 4 + 2 + 2 + NodeID.byteCount + 8 + 4

    /// The versions the sender speaks, lowest to highest.
    public let versions: ClosedRange<UInt16>
    /// The sender's node ID.
    public let nodeID: NodeID
    /// The random ID of the sender's log, made when the log was created; a change tells
    /// the peer to resend from zero (ARCHITECTURE.md, amnesia guard).
    public let logInstanceID: UInt64
    /// Feature bits. Bit 0: the sender inflates BATCH payloads deflated with the preset
    /// dictionary `trade-1` (``PresetDictionary/featureBit``). Other bits are 0 in v1, and
    /// receivers ignore bits they do not know.
    public let features: UInt32

    /// Creates a HELLO. `features` defaults to 0 (no optional features announced); see
    /// ``PresetDictionary/features(announcing:)``.
    public init(versions: ClosedRange<UInt16>, nodeID: NodeID, logInstanceID: UInt64, features: UInt32 = 0) {
        self.versions = versions
        self.nodeID = nodeID
        self.logInstanceID = logInstanceID
        self.features = features
    }

    func encode(into writer: inout ByteWriter) {
        writer.writeBytes(Self.magic)
        writer.writeU16(versions.lowerBound)
        writer.writeU16(versions.upperBound)
        nodeID.encode(into: &writer)
        writer.writeU64(logInstanceID)
        writer.writeU32(features)
    }

    static func decode(_ body: [UInt8]) throws(WireError) -> Hello {
        guard body.count >= Self.magic.count, Array(body.prefix(Self.magic.count)) == Self.magic else {
            throw .badMagic(Array(body.prefix(Self.magic.count)))
        }
        var reader = ByteReader(body, range: Self.magic.count..<body.count)
        let fields: (min: UInt16, max: UInt16, nodeID: NodeID, logInstanceID: UInt64, features: UInt32)
        do throws(DecodeError) {
            fields = (try reader.readU16(), try reader.readU16(), try NodeID.decode(from: &reader), try reader.readU64(),
                      try reader.readU32())
            try reader.expectEnd()
        } catch {
            throw error.wire(.hello)
        }
        guard fields.min <= fields.max else {
            throw .malformed(
                messageType: MessageType.hello.rawValue, reason: "versionMin \(fields.min) > versionMax \(fields.max)")
        }
        return Hello(
            versions: fields.min...fields.max, nodeID: fields.nodeID, logInstanceID: fields.logInstanceID,
            features: fields.features)
    }
}

/// ACK (0x04): `batchID varint | vector`, the receiver's version vector after it durably
/// appended and applied that batch. Source: `Protocol/PROTOCOL.md`, "ACK".
public struct Ack: Equatable, Sendable {
    /// The acknowledged batch; acknowledgements come in batch order.
    public let batchID: BatchID
    /// The receiver's vector after persisting the batch (canonical encoding).
    public let vector: VersionVector

    /// Creates an ACK for `batchID` carrying the receiver's vector.
    public init(batchID: BatchID, vector: VersionVector) {
        self.batchID = batchID
        self.vector = vector
    }
}

/// ERROR (0x07): `code u16 | reason string` (varint length + UTF-8, at most
/// ``Limits/reasonBytesMax`` bytes). The sender closes the connection after it.
/// Source: `Protocol/PROTOCOL.md`, "ERROR".
public struct ErrorMessage: Equatable, Sendable {
    /// What went wrong, as a code the peer can act on.
    public let code: ErrorCode
    /// One line for people, naming the numbers.
    public let reason: String

    /// Creates an error message, truncating `reason` at a character boundary to at most
    /// ``Limits/reasonBytesMax`` bytes of UTF-8.
    public init(code: ErrorCode, reason: String) {
        self.code = code
        self.reason = Self.truncated(reason)
    }

    private static func truncated(_ text: String) -> String {
        guard text.utf8.count > Limits.reasonBytesMax else { return text }
        var result = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > Limits.reasonBytesMax { break }
            result.append(character)
            bytes += size
        }
        return result
    }
}

/// One protocol v1 message, decoded from or encoded into a ``Frame``.
///
/// Source: `Protocol/PROTOCOL.md`, "Messages".
public enum Message: Equatable, Sendable {
    /// HELLO (0x01), see ``Hello``.
    case hello(Hello)
    /// VECTOR (0x02): the sender's durable version vector, canonical encoding.
    case vector(VersionVector)
    /// BATCH (0x03), see ``BatchMessage``.
    case batch(BatchMessage)
    /// ACK (0x04), see ``Ack``.
    case ack(Ack)
    /// PING (0x05): `nonce u64`.
    case ping(nonce: UInt64)
    /// PONG (0x06): `nonce u64`, echoing a PING.
    case pong(nonce: UInt64)
    /// ERROR (0x07), see ``ErrorMessage``.
    case error(ErrorMessage)
    /// HEADS (0x08): per origin, the highest seq held and its entry-hash prefix; see ``Head``.
    case heads([Head])

    /// The message type byte.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .vector: .vector
        case .batch: .batch
        case .ack: .ack
        case .ping: .ping
        case .pong: .pong
        case .error: .error
        case .heads: .heads
        }
    }

    /// The message as a frame. - Precondition: the body fits in ``Limits/frameBytesMax``.
    public func frame() -> Frame {
        var writer = ByteWriter(capacity: 64)
        switch self {
        case .hello(let hello): hello.encode(into: &writer)
        case .vector(let vector): vector.encode(into: &writer)
        case .batch(let batch): batch.encode(into: &writer)
        case .ack(let ack):
            writer.writeVarint(ack.batchID.rawValue)
            ack.vector.encode(into: &writer)
        case .ping(let nonce), .pong(let nonce): writer.writeU64(nonce)
        case .heads(let heads): Head.encode(heads, into: &writer)
        case .error(let message):
            writer.writeU16(message.code.rawValue)
            writer.writeString(message.reason)
        }
        return Frame(type: type.rawValue, body: writer.bytes)
    }

    /// The message as bytes on the wire: length, type, body.
    public func encoded() -> [UInt8] { frame().encoded() }

    /// Decodes a frame's body by its type. A BATCH is checked up to its payload; its
    /// entries are decoded by ``BatchMessage/decodeEntries(dictionaries:)``.
    /// - Throws: ``WireError/unknownMessageType(_:)``, ``WireError/badMagic(_:)``,
    ///   ``WireError/malformed(messageType:reason:)`` (truncation, trailing bytes,
    ///   non-canonical vectors, too many origins, a reason over ``Limits/reasonBytesMax``),
    ///   and the BATCH header errors of ``BatchMessage``.
    public static func decode(_ frame: Frame) throws(WireError) -> Message {
        guard let type = MessageType(rawValue: frame.type) else { throw .unknownMessageType(frame.type) }
        if type == .hello { return .hello(try Hello.decode(frame.body)) }
        if type == .batch { return .batch(try BatchMessage.decode(frame.body)) }
        var reader = ByteReader(frame.body)
        do throws(DecodeError) {
            let message = try decodeSimple(type, from: &reader)
            try reader.expectEnd()
            return message
        } catch {
            throw error.wire(type)
        }
    }

    private static func decodeSimple(_ type: MessageType, from reader: inout ByteReader) throws(DecodeError) -> Message {
        switch type {
        case .vector:
            return .vector(try VersionVector.decode(from: &reader, originsLimit: Limits.vectorOrigins))
        case .ack:
            let at = reader.offset
            let batchID = try reader.readVarint()
            guard batchID >= 1 else { throw .badValue(offset: at, field: "batchID", reason: "0; batch IDs start at 1") }
            let vector = try VersionVector.decode(from: &reader, originsLimit: Limits.vectorOrigins)
            return .ack(Ack(batchID: BatchID(rawValue: batchID), vector: vector))
        case .heads: return .heads(try Head.decode(from: &reader))
        case .ping: return .ping(nonce: try reader.readU64())
        case .pong: return .pong(nonce: try reader.readU64())
        case .error:
            let code = ErrorCode(rawValue: try reader.readU16())
            let reason = try reader.readString(limit: Limits.reasonBytes)
            return .error(ErrorMessage(code: code, reason: reason))
        case .hello, .batch:
            preconditionFailure("HELLO and BATCH are decoded by their own types")
        }
    }
}
