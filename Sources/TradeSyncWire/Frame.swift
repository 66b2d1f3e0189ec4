/// The message types of protocol v1 (`Protocol/PROTOCOL.md`, "Messages"), the byte after
/// a frame's length field.
public enum MessageType: UInt8, Sendable, CaseIterable {
    /// Identity and version range; first message in each direction, same layout in every version.
    case hello = 0x01
    /// The sender's durable version vector; second message in each direction.
    case vector = 0x02
    /// A group of entries, possibly deflated.
    case batch = 0x03
    /// Acknowledges a batch with the receiver's vector after persisting it.
    case ack = 0x04
    /// Keep-alive request with a nonce.
    case ping = 0x05
    /// Keep-alive answer echoing the nonce.
    case pong = 0x06
    /// A refusal with a code and a reason; the sender closes after it.
    case error = 0x07
    /// The sender's head per origin (seq and entry-hash prefix), right after VECTOR, so
    /// that two nodes holding one dot with different content find the fork.
    case heads = 0x08

    /// The upper-case name for `type` (`BATCH`), or `type 0xNN` when unknown.
    public static func name(_ type: UInt8) -> String {
        guard let known = MessageType(rawValue: type) else { return "type 0x\(hexByte(type))" }
        return switch known {
        case .hello: "HELLO"
        case .vector: "VECTOR"
        case .batch: "BATCH"
        case .ack: "ACK"
        case .ping: "PING"
        case .pong: "PONG"
        case .error: "ERROR"
        case .heads: "HEADS"
        }
    }
}

/// One frame: `length u32 BE | type u8 | body` (`Protocol/PROTOCOL.md`, "Frames").
///
/// `length` counts the type byte and the body, so it is at least 1 and at most
/// ``Limits/frameBytesMax``. The type is kept raw so that unknown types can be reported.
public struct Frame: Equatable, Sendable {
    /// Bytes in the length field.
    public static let headerBytes = 4

    /// The message type byte (see ``MessageType``).
    public let type: UInt8
    /// The message body: everything after the type byte.
    public let body: [UInt8]

    /// Creates a frame.
    /// - Precondition: `body.count + 1 <= Limits.frameBytesMax` (own messages are built
    ///   within the limits; peers' oversize frames are refused by ``FrameDecoder``).
    public init(type: UInt8, body: [UInt8]) {
        precondition(body.count + 1 <= Limits.frameBytesMax, "frame body \(body.count) exceeds the frame limit")
        self.type = type
        self.body = body
    }

    /// The value of the length field: type byte + body, in bytes.
    public var length: Int { 1 + body.count }

    /// The frame as sent: 4-byte big-endian length, type, body.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerBytes + length)
        let length = UInt32(self.length)
        bytes.append(UInt8(truncatingIfNeeded: length >> 24))
        bytes.append(UInt8(truncatingIfNeeded: length >> 16))
        bytes.append(UInt8(truncatingIfNeeded: length >> 8))
        bytes.append(UInt8(truncatingIfNeeded: length))
        bytes.append(type)
        bytes.append(contentsOf: body)
        return bytes
    }
}

/// Splits a byte stream into frames, accepting input cut at any byte boundary.
///
/// Feed bytes as they arrive with ``feed(_:)``, then call ``next()`` until it returns nil.
/// A length above ``Limits/frameBytesMax`` (or 0) is refused as soon as the 4 header bytes
/// are present, before any of the body is awaited. Errors are sticky: after the first,
/// every ``next()`` throws it again and ``feed(_:)`` drops its input.
///
/// Bounded: when ``next()`` returns nil, at most one partial frame is held, fewer than
/// `4 + frameBytesMax` bytes; consumed bytes are released as frames are taken. A caller
/// that feeds chunks of at most N bytes and drains after each never has more than
/// `4 + frameBytesMax + N` bytes buffered (the session feeds 64 KiB at a time).
/// Cost: O(n) per byte fed, amortised. Source: `Protocol/PROTOCOL.md`, "Frames".
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Stream offset of `buffer[0]`.
    private var bufferOffset = 0
    private var failure: WireError?
    private let frameBytesMax: Int

    /// Creates a decoder that refuses frames longer than `frameBytesMax` (the length field value).
    /// - Precondition: `1 <= frameBytesMax <= Limits.frameBytesMax`.
    public init(frameBytesMax: Int = Limits.frameBytesMax) {
        precondition(frameBytesMax >= 1 && frameBytesMax <= Limits.frameBytesMax, "frameBytesMax out of range")
        self.frameBytesMax = frameBytesMax
    }

    /// Bytes fed but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// The stream offset of the next unread byte (bytes taken as frames so far).
    public var streamOffset: Int { bufferOffset + readIndex }

    /// Appends received bytes. Drops them after an error.
    public mutating func feed(_ bytes: [UInt8]) {
        guard failure == nil else { return }
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            bufferOffset += readIndex
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed.
    /// - Throws: ``WireError/frameTooLarge(declaredBytes:bytesMax:streamOffset:)`` or
    ///   ``WireError/frameEmpty(streamOffset:)`` from the header alone; sticky.
    public mutating func next() throws(WireError) -> Frame? {
        if let failure { throw failure }
        guard bufferedByteCount >= Frame.headerBytes else { return nil }
        var declared: UInt32 = 0
        for index in readIndex..<readIndex + Frame.headerBytes { declared = declared << 8 | UInt32(buffer[index]) }
        guard declared >= 1 else { return try fail(.frameEmpty(streamOffset: streamOffset)) }
        guard declared <= UInt32(frameBytesMax) else {
            return try fail(.frameTooLarge(declaredBytes: declared, bytesMax: frameBytesMax, streamOffset: streamOffset))
        }
        let total = Frame.headerBytes + Int(declared)
        guard bufferedByteCount >= total else { return nil }
        let typeIndex = readIndex + Frame.headerBytes
        let frame = Frame(type: buffer[typeIndex], body: Array(buffer[(typeIndex + 1)..<(readIndex + total)]))
        readIndex += total
        if readIndex == buffer.count {
            bufferOffset += readIndex
            buffer.removeAll(keepingCapacity: buffer.count <= 64 * 1024)
            readIndex = 0
        }
        return frame
    }

    private mutating func fail(_ error: WireError) throws(WireError) -> Frame? {
        failure = error
        bufferOffset += readIndex
        buffer = []
        readIndex = 0
        throw error
    }
}
