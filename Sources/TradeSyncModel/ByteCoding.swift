// Canonical binary encoding helpers shared by every layer that writes bytes.
//
// All integers are big-endian or unsigned LEB128 varints; strings are UTF-8 with a
// varint length prefix. The encodings built on these helpers are canonical: one value
// has exactly one encoding, so hashes and digests computed over them are stable across
// nodes and runs.

/// A growable byte buffer that appends canonical encodings.
///
/// Shape: appends only; `bytes` is the encoding so far. No I/O.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer, reserving `capacity` bytes.
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends one byte.
    public mutating func writeU8(_ value: UInt8) { bytes.append(value) }

    /// Appends a 16-bit unsigned integer, big-endian.
    public mutating func writeU16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a 32-bit unsigned integer, big-endian.
    public mutating func writeU32(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a 64-bit unsigned integer, big-endian.
    public mutating func writeU64(_ value: UInt64) {
        // One append of 8 bytes, not 8 appends (each checks capacity and uniqueness).
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends an unsigned LEB128 varint (1–10 bytes).
    public mutating func writeVarint(_ value: UInt64) {
        if value < 0x80 {  // most varints: counts, indices, small seqs
            bytes.append(UInt8(truncatingIfNeeded: value))
            return
        }
        // Built in a local buffer (at most 10 bytes), then appended at once.
        var buffer: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &buffer) { raw in
            var remaining = value
            var count = 0
            while remaining >= 0x80 {
                raw[count] = UInt8(truncatingIfNeeded: remaining) | 0x80
                remaining >>= 7
                count += 1
            }
            raw[count] = UInt8(truncatingIfNeeded: remaining)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0...count]))
        }
    }

    /// Appends a signed integer as a zig-zag varint.
    public mutating func writeZigZag(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Appends raw bytes without a length prefix.
    public mutating func writeBytes<C: Collection>(_ raw: C) where C.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    /// Appends a varint length followed by the bytes.
    public mutating func writeLengthPrefixed<C: Collection>(_ raw: C) where C.Element == UInt8 {
        writeVarint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// Appends a string as varint length + UTF-8 bytes.
    public mutating func writeString(_ value: String) {
        // Straight from the string's UTF-8 storage (on the stack for a small string): no
        // array per string, which keys (six strings each) paid on every encode.
        var value = value
        value.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }
}

/// Why a canonical decoding failed. `offset` is the byte offset within the decoded buffer.
public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes were left than the field needs.
    case truncated(offset: Int, needed: Int)
    /// A varint ran past 10 bytes, overflowed 64 bits, or was longer than its shortest form.
    case badVarint(offset: Int)
    /// A length prefix exceeds the limit for that field.
    case lengthTooLarge(offset: Int, length: UInt64, lengthMax: Int)
    /// A string is not valid UTF-8.
    case badUTF8(offset: Int)
    /// A field holds a value outside its domain (tag, enum case, code).
    case badValue(offset: Int, field: String, reason: String)
    /// Bytes were left over after a complete value.
    case trailingBytes(offset: Int, count: Int)
    /// A count or length above a named limit of the protocol (PROTOCOL.md "Limits"), e.g.
    /// a reporter code longer than `areaCodeBytesMax`.
    case limitExceeded(offset: Int, limit: NamedLimit, value: UInt64)

    public var description: String {
        switch self {
        case .truncated(let offset, let needed): "truncated at byte \(offset): \(needed) more bytes needed"
        case .badVarint(let offset): "malformed varint at byte \(offset)"
        case .lengthTooLarge(let offset, let length, let max): "length \(length) at byte \(offset) exceeds \(max)"
        case .badUTF8(let offset): "invalid UTF-8 at byte \(offset)"
        case .badValue(let offset, let field, let reason): "bad \(field) at byte \(offset): \(reason)"
        case .trailingBytes(let offset, let count): "\(count) trailing bytes at byte \(offset)"
        case .limitExceeded(let offset, let limit, let value): "\(value) at byte \(offset) exceeds \(limit)"
        }
    }
}

/// A maximum with the name `Protocol/PROTOCOL.md`'s "Limits" table gives it, so that an
/// error can say which limit a peer broke (`areaCodeBytesMax = 4`).
public struct NamedLimit: Equatable, Sendable, CustomStringConvertible {
    /// The limit's name in the Limits table, e.g. `entryBytesMax`.
    public let name: String
    /// Its value, in the table's unit (bytes, entries or origins).
    public let value: Int

    /// Names a limit.
    public init(_ name: String, _ value: Int) {
        self.name = name
        self.value = value
    }

    /// `name = value`, e.g. `areaCodeBytesMax = 4`.
    public var description: String { "\(name) = \(value)" }
}

/// Reads canonical encodings written by ``ByteWriter``.
///
/// Every read is bounds-checked and throws ``DecodeError`` naming the offset; nothing
/// traps on malformed input.
public struct ByteReader: Sendable {
    @usableFromInline let bytes: [UInt8]
    /// The offset of the next unread byte.
    public private(set) var offset: Int
    @usableFromInline let end: Int

    /// Creates a reader over `bytes[range]` (the whole array by default).
    public init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        self.offset = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    /// The number of unread bytes.
    public var remaining: Int { end - offset }

    /// A copy of the bytes in `range` (offsets into the whole array, already read or not).
    /// - Precondition: `range` lies within the reader's bytes.
    public func bytes(in range: Range<Int>) -> [UInt8] { Array(bytes[range]) }

    /// True when every byte has been read.
    public var isAtEnd: Bool { offset >= end }

    private func need(_ count: Int) throws(DecodeError) {
        if count > end - offset { throw .truncated(offset: offset, needed: count - (end - offset)) }
    }

    /// Reads one byte.
    public mutating func readU8() throws(DecodeError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a big-endian 16-bit unsigned integer.
    public mutating func readU16() throws(DecodeError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    /// Reads a big-endian 32-bit unsigned integer.
    public mutating func readU32() throws(DecodeError) -> UInt32 {
        try need(4)
        var value: UInt32 = 0
        for index in 0..<4 { value = value << 8 | UInt32(bytes[offset + index]) }
        offset += 4
        return value
    }

    /// Reads a big-endian 64-bit unsigned integer.
    public mutating func readU64() throws(DecodeError) -> UInt64 {
        try need(8)
        var value: UInt64 = 0
        for index in 0..<8 { value = value << 8 | UInt64(bytes[offset + index]) }
        offset += 8
        return value
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes, in its shortest form (the
    /// only one ``ByteWriter/writeVarint(_:)`` writes): a last byte of 0 after others, as in
    /// `80 00` for 0, is refused, so each value has exactly one encoding.
    public mutating func readVarint() throws(DecodeError) -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<10 {
            let byte = try readU8()
            let payload = UInt64(byte & 0x7F)
            if shift == 63 && payload > 1 { throw .badVarint(offset: start) }
            value |= payload << shift
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 { throw .badVarint(offset: start) }
                return value
            }
            shift += 7
        }
        throw .badVarint(offset: start)
    }

    /// Reads a zig-zag varint written by ``ByteWriter/writeZigZag(_:)``.
    public mutating func readZigZag() throws(DecodeError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// Reads exactly `count` raw bytes.
    public mutating func readBytes(_ count: Int) throws(DecodeError) -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Reads a varint length (at most `lengthMax`) followed by that many bytes.
    public mutating func readLengthPrefixed(lengthMax: Int) throws(DecodeError) -> [UInt8] {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(lengthMax) else {
            throw .lengthTooLarge(offset: start, length: length, lengthMax: lengthMax)
        }
        return try readBytes(Int(length))
    }

    /// Reads a varint length (at most `limit.value`) followed by that many bytes.
    /// - Throws: ``DecodeError/limitExceeded(offset:limit:value:)`` naming the limit, or truncation.
    public mutating func readLengthPrefixed(limit: NamedLimit) throws(DecodeError) -> [UInt8] {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(limit.value) else { throw .limitExceeded(offset: start, limit: limit, value: length) }
        return try readBytes(Int(length))
    }

    /// Reads a varint-length UTF-8 string of at most `limit.value` bytes.
    /// - Throws: ``DecodeError/limitExceeded(offset:limit:value:)`` naming the limit,
    ///   ``DecodeError/badUTF8(offset:)``, or truncation.
    public mutating func readString(limit: NamedLimit) throws(DecodeError) -> String {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(limit.value) else { throw .limitExceeded(offset: start, limit: limit, value: length) }
        return try readUTF8(count: Int(length), start: start)
    }

    /// Reads a varint-length UTF-8 string of at most `lengthMax` bytes.
    public mutating func readString(lengthMax: Int) throws(DecodeError) -> String {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(lengthMax) else { throw .lengthTooLarge(offset: start, length: length, lengthMax: lengthMax) }
        return try readUTF8(count: Int(length), start: start)
    }

    /// `count` bytes as a String, straight from the buffer: ASCII (every code and unit
    /// this project stores) needs no validation pass beyond the byte check and, up to 15
    /// bytes, no allocation; anything else is validated as UTF-8.
    private mutating func readUTF8(count: Int, start: Int) throws(DecodeError) -> String {
        try need(count)
        let range = offset..<offset + count
        offset += count
        let text: String? = bytes.withUnsafeBufferPointer { all in
            let raw = UnsafeBufferPointer(rebasing: all[range])
            if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
            return String(validating: raw, as: UTF8.self)
        }
        guard let text else { throw .badUTF8(offset: start) }
        return text
    }

    /// Throws unless every byte has been read.
    public func expectEnd() throws(DecodeError) {
        if offset < end { throw .trailingBytes(offset: offset, count: end - offset) }
    }
}

/// Lowercase hexadecimal text for bytes (digests, node IDs, frame dumps).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lowercase hex digits per byte, in order.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
