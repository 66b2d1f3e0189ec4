import TradeSyncModel

/// Framing on the control socket (a Unix stream socket, local only):
///
/// `jsonLength u32 BE | JSON (ControlRequest or ControlResponse) | blobLength u32 BE | blob`
///
/// The blob is empty except in an `import` request and an `export` answer, where it
/// holds the records as ``TradeRecord`` canonical encodings (key then values), concatenated.
public enum ControlFrame {
    /// Largest JSON part, in bytes (a status or a long query answer).
    public static let jsonBytesMax = 256 * 1024 * 1024
    /// Largest blob, in bytes (records of one import; ~40 B each → millions of rows).
    public static let blobBytesMax = 1024 * 1024 * 1024

    /// Why a control frame is malformed.
    public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
        case tooLarge(part: String, bytes: Int, bytesMax: Int)
        case badRecord(index: Int, reason: String)

        public var description: String {
            switch self {
            case .tooLarge(let part, let bytes, let max): "control frame \(part) of \(bytes) bytes exceeds \(max)"
            case .badRecord(let index, let reason): "import record \(index): \(reason)"
            }
        }
    }

    /// The frame for a JSON part and a blob.
    public static func encode(json: [UInt8], blob: [UInt8] = []) -> [UInt8] {
        var writer = ByteWriter(capacity: json.count + blob.count + 8)
        writer.writeU32(UInt32(json.count))
        writer.writeBytes(json)
        writer.writeU32(UInt32(blob.count))
        writer.writeBytes(blob)
        return writer.bytes
    }

    /// Splits one complete frame from the front of `buffer`, or returns nil when more
    /// bytes are needed. - Throws: ``FrameError/tooLarge(part:bytes:bytesMax:)``.
    public static func split(_ buffer: [UInt8]) throws(FrameError) -> (json: [UInt8], blob: [UInt8], consumed: Int)? {
        var reader = ByteReader(buffer)
        guard let jsonLength = try? reader.readU32() else { return nil }
        guard Int(jsonLength) <= jsonBytesMax else {
            throw .tooLarge(part: "JSON", bytes: Int(jsonLength), bytesMax: jsonBytesMax)
        }
        guard let json = try? reader.readBytes(Int(jsonLength)), let blobLength = try? reader.readU32() else {
            return nil
        }
        guard Int(blobLength) <= blobBytesMax else {
            throw .tooLarge(part: "blob", bytes: Int(blobLength), bytesMax: blobBytesMax)
        }
        guard let blob = try? reader.readBytes(Int(blobLength)) else { return nil }
        return (json, blob, reader.offset)
    }

    /// Encodes records for an import blob.
    public static func encodeRecords(_ records: [TradeRecord]) -> [UInt8] {
        var writer = ByteWriter(capacity: records.count * 48)
        for record in records {
            record.key.encode(into: &writer)
            record.values.encode(into: &writer)
        }
        return writer.bytes
    }

    /// Decodes an import blob. - Throws: ``FrameError/badRecord(index:reason:)``.
    public static func decodeRecords(_ blob: [UInt8]) throws(FrameError) -> [TradeRecord] {
        var reader = ByteReader(blob)
        var records: [TradeRecord] = []
        while !reader.isAtEnd {
            do {
                let key = try TradeKey.decode(from: &reader)
                let values = try TradeValues.decode(from: &reader)
                records.append(TradeRecord(key: key, values: values))
            } catch {
                throw .badRecord(index: records.count, reason: error.description)
            }
        }
        return records
    }
}
