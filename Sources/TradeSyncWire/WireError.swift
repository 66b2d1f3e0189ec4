import TradeSyncModel

/// Why bytes from the network could not be turned into a v1 frame or message.
///
/// One case per condition; the associated values give the place (stream offset, message
/// type, batch) and the limit. ``description`` is one line with the numbers. Every decoder
/// in this module throws only this type (`throws(WireError)`).
/// Source: `Protocol/PROTOCOL.md`, sections "Frames", "Messages" and "Limits".
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame header declared more than ``Limits/frameBytesMax`` bytes. Raised from the
    /// 4-byte header alone; `streamOffset` is the header's offset in the byte stream.
    case frameTooLarge(declaredBytes: UInt32, bytesMax: Int, streamOffset: Int)
    /// A frame header declared length 0 (a frame has at least its type byte).
    case frameEmpty(streamOffset: Int)
    /// The first message of a connection is not a HELLO with magic `TSYN`.
    case badMagic([UInt8])
    /// A message type this version does not define (PROTOCOL.md "Unknown message types").
    case unknownMessageType(UInt8)
    /// A message body does not follow its layout; `reason` names the field and offset.
    case malformed(messageType: UInt8, reason: String)
    /// A BATCH declares more entries than ``Limits/batchEntriesMax``.
    case batchTooManyEntries(declaredEntries: UInt64, entriesMax: Int)
    /// A BATCH declares an uncompressed payload above ``Limits/inflatedBytesMax``; refused
    /// before inflating.
    case inflatedTooLarge(declaredBytes: UInt64, bytesMax: Int)
    /// A deflated payload produces more bytes than its declared uncompressed length.
    /// Inflate stopped after `producedBytes` bytes of output, which is `declaredBytes + 1`:
    /// a zlib bomb costs no more than that.
    case inflatedBeyondDeclared(declaredBytes: Int, producedBytes: Int)
    /// A deflated payload ended after fewer bytes than its declared uncompressed length.
    case inflatedLengthMismatch(declaredBytes: Int, producedBytes: Int)
    /// A zlib stream ended before its end marker (zlib `Z_BUF_ERROR` with all input
    /// consumed): `consumedBytes` of input gave `producedBytes` of output.
    case zlibTruncated(consumedBytes: Int, producedBytes: Int)
    /// A zlib stream is corrupt (`Z_DATA_ERROR`).
    case zlibCorrupt(reason: String)
    /// A zlib stream's header has FDICT set and names, as DICTID, a preset dictionary
    /// (RFC 1950 §2.2) that is not among those the receiver offered (`offeredIDs`, the
    /// IDs of the dictionaries it announced in HELLO; empty when it announced none).
    /// Source: `Protocol/PROTOCOL.md`, "Preset dictionary".
    case zlibUnknownDictionary(dictionaryID: UInt32, offeredIDs: [UInt32])
    /// Bytes follow the end of a zlib stream inside a payload.
    case zlibTrailingBytes(count: Int)
    /// zlib itself failed (initialisation, memory); not caused by the input's content.
    case zlib(reason: String)
    /// No protocol version lies in both ranges (PROTOCOL.md "Version negotiation").
    case versionMismatch(ours: ClosedRange<UInt16>, theirs: ClosedRange<UInt16>)
    /// A field inside a message is above a named limit: an entry longer than
    /// `entryBytesMax`, a reporter code longer than `areaCodeBytesMax`, a vector with more
    /// than `vectorOriginsMax` origins. `context` says where (message, entry number, offset).
    case limitExceeded(limit: NamedLimit, value: UInt64, context: String)

    /// One line naming the condition with its numbers, e.g.
    /// `frame at stream offset 0 declares 1048577 bytes, limit 1048576`.
    public var description: String {
        switch self {
        case .frameTooLarge(let declared, let max, let offset):
            "frame at stream offset \(offset) declares \(declared) bytes, above frameBytesMax = \(max)"
        case .frameEmpty(let offset): "frame at stream offset \(offset) declares length 0 (no type byte)"
        case .badMagic(let bytes): "not a TradeSync HELLO: magic \(hexString(bytes)), expected 5453594e (\"TSYN\")"
        case .unknownMessageType(let type): "unknown message type 0x\(hexByte(type))"
        case .malformed(let type, let reason): "malformed \(MessageType.name(type)) message: \(reason)"
        case .batchTooManyEntries(let declared, let max): "batch declares \(declared) entries, above batchEntriesMax = \(max)"
        case .inflatedTooLarge(let declared, let max):
            "batch declares \(declared) uncompressed bytes, above inflatedBytesMax = \(max); refused before inflating"
        case .inflatedBeyondDeclared(let declared, let produced):
            "deflated payload inflates beyond its declared \(declared) bytes (stopped after \(produced))"
        case .inflatedLengthMismatch(let declared, let produced):
            "deflated payload inflates to \(produced) bytes, declared \(declared)"
        case .zlibTruncated(let consumed, let produced):
            "zlib stream truncated after \(consumed) input bytes (\(produced) bytes inflated)"
        case .zlibCorrupt(let reason): "corrupt zlib stream: \(reason)"
        case .zlibUnknownDictionary(let id, let offered):
            "zlib stream needs preset dictionary DICTID 0x\(hexWord(id)), not one this receiver announced ("
                + (offered.isEmpty ? "none" : offered.map { "0x" + hexWord($0) }.joined(separator: ", ")) + ")"
        case .zlibTrailingBytes(let count): "\(count) bytes after the end of the zlib stream"
        case .zlib(let reason): "zlib failed: \(reason)"
        case .versionMismatch(let ours, let theirs):
            "no common protocol version: ours \(ProtocolVersion.text(ours)), theirs \(ProtocolVersion.text(theirs))"
        case .limitExceeded(let limit, let value, let context): "\(context): \(value) exceeds \(limit)"
        }
    }

    /// The ERROR code a session sends when it refuses a peer for this reason.
    public var errorCode: ErrorCode {
        switch self {
        case .frameTooLarge, .batchTooManyEntries, .inflatedTooLarge, .limitExceeded: .limitExceeded
        case .frameEmpty, .badMagic, .malformed: .malformed
        case .unknownMessageType: .unknownMessageType
        case .inflatedBeyondDeclared, .inflatedLengthMismatch, .zlibTruncated, .zlibCorrupt, .zlibUnknownDictionary,
            .zlibTrailingBytes:
            .compression
        case .zlib: .internalError
        case .versionMismatch: .versionMismatch
        }
    }
}


func hexByte(_ byte: UInt8) -> String { Hex.encode([byte]) }

func hexString(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

/// Eight lowercase hex digits, most significant first: `0x` + this names a DICTID.
func hexWord(_ value: UInt32) -> String {
    Hex.encode([UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
                UInt8(truncatingIfNeeded: value)])
}

extension WireError {
    /// The named limit this error reports exceeded (PROTOCOL.md "Limits"), or nil when
    /// the error is not about a limit.
    public var limit: NamedLimit? {
        switch self {
        case .frameTooLarge(_, let max, _): NamedLimit("frameBytesMax", max)
        case .batchTooManyEntries: Limits.batchEntries
        case .inflatedTooLarge: Limits.inflatedBytes
        case .limitExceeded(let limit, _, _): limit
        default: nil
        }
    }
}

extension DecodeError {
    /// Wraps a canonical-decoding failure as a malformed `messageType` message, or as
    /// ``WireError/limitExceeded(limit:value:context:)`` when it broke a named limit.
    /// `context` prefixes the place (e.g. `entry 3 of 10`).
    func wire(_ messageType: MessageType, context: String? = nil) -> WireError {
        let place = [MessageType.name(messageType.rawValue), context].compactMap { $0 }.joined(separator: " ")
        if case .limitExceeded(let offset, let limit, let value) = self {
            return .limitExceeded(limit: limit, value: value, context: "\(place), byte \(offset)")
        }
        return .malformed(messageType: messageType.rawValue, reason: [context, description].compactMap { $0 }.joined(separator: ": "))
    }
}
