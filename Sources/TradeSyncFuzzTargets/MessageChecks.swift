import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// The per-frame checks of ``FrameTarget``: decode, round trip, canonical bytes, and a
/// BATCH's entries. Also used by the session harness on every frame the session sends.
enum MessageChecks {
    /// Decodes `frame` and checks what decodes.
    /// - Returns: outcome bits: 1 = message decoded, 2 = batch entries decoded, 4 = batch deflated.
    static func check(_ frame: Frame) throws(FuzzFailure) -> UInt64 {
        let message: Message
        do throws(WireError) {
            message = try Message.decode(frame)
        } catch {
            try checkDecodeError(error, frame: frame)
            return 0
        }
        try expect(message.type.rawValue == frame.type, "decoded \(message.type) from a frame of type \(frame.type)")
        let again = message.frame()
        try expect(again == frame, "\(MessageType.name(frame.type)) re-encodes to other bytes (not canonical)")
        let redecoded: Message
        do throws(WireError) {
            redecoded = try Message.decode(again)
        } catch {
            throw FuzzFailure(.frames, "re-encoded \(MessageType.name(frame.type)) does not decode: \(error)")
        }
        try expect(redecoded == message, "re-encoded \(MessageType.name(frame.type)) decodes to another message")
        guard case .batch(let batch) = message else { return 1 }
        return 1 | (try checkBatch(batch)) | (batch.isDeflated ? 4 : 0)
    }

    /// A decoding error must name the input, never an internal failure or a framing error.
    static func checkDecodeError(_ error: WireError, frame: Frame) throws(FuzzFailure) {
        switch error {
        case .unknownMessageType(let type):
            try expect(type == frame.type && MessageType(rawValue: type) == nil, "unknownMessageType(\(type)) for a known type")
        case .badMagic, .malformed, .batchTooManyEntries, .inflatedTooLarge, .limitExceeded:
            try expect(MessageType(rawValue: frame.type) != nil, "\(error) for unknown type \(frame.type)")
        case .frameTooLarge, .frameEmpty, .versionMismatch, .inflatedBeyondDeclared, .inflatedLengthMismatch,
            .zlibTruncated, .zlibCorrupt, .zlibTrailingBytes, .zlibUnknownDictionary, .zlib:
            throw FuzzFailure(.frames, "Message.decode threw \(error) (a framing, negotiation or inflate error)")
        }
    }

    /// Decodes a batch's entries; what decodes must round-trip, plain and rebuilt.
    /// - Returns: 2 when the entries decoded, else 0.
    static func checkBatch(_ batch: BatchMessage) throws(FuzzFailure) -> UInt64 {
        let entries: [Entry]
        let plain: [UInt8]
        do throws(WireError) {
            plain = try batch.uncompressedPayload(dictionaries: PresetDictionary.known)
            entries = try batch.decodeEntries(dictionaries: PresetDictionary.known)
        } catch {
            switch error {
            case .zlib, .frameTooLarge, .frameEmpty, .versionMismatch, .unknownMessageType, .badMagic,
                .batchTooManyEntries:
                throw FuzzFailure(.frames, "decodeEntries threw \(error) (not an error of the payload)")
            case .malformed, .limitExceeded, .inflatedTooLarge, .inflatedBeyondDeclared, .inflatedLengthMismatch,
                .zlibTruncated, .zlibCorrupt, .zlibTrailingBytes, .zlibUnknownDictionary:
                return 0
            }
        }
        try expect(entries.count == batch.entryCount, "\(entries.count) entries decoded, \(batch.entryCount) declared")
        try expect(plain.count == batch.uncompressedLength, "payload of \(plain.count) bytes, declared \(batch.uncompressedLength)")
        if batch.isColumnar { return try checkColumnar(batch, entries) }
        try checkCanonicalEntries(plain, entries)
        // Re-encoded uncompressed, the entries decode to themselves.
        var writer = ByteWriter(capacity: plain.count)
        for entry in entries { writer.writeLengthPrefixed(entry.encoded()) }
        try expect(writer.bytes == plain, "entries re-encode to another payload (not canonical)")
        // Rebuilt by the sender's initialiser (deflated when that helps), they decode to themselves.
        if plain.count <= Limits.batchBytesMax {
            let rebuilt = BatchMessage(id: batch.id, entries: entries)
            let frame = Message.batch(rebuilt).frame()
            let decoded = Result { () throws(WireError) -> [Entry] in
                guard case .batch(let batch) = try Message.decode(frame) else { return [] }
                return try batch.decodeEntries(dictionaries: PresetDictionary.known)
            }
            guard case .success(let again) = decoded else {
                throw FuzzFailure(.frames, "rebuilt BATCH does not decode: \(decoded)")
            }
            try expect(again == entries, "rebuilt BATCH decodes to other entries")
        }
        return 2
    }

    /// A columnar batch's entries (rebuilt from their fields, so canonical by construction)
    /// decode from their own bytes, and a columnar batch the sender builds of them decodes
    /// to them again. The columnar layout itself need not be canonical (PROTOCOL.md,
    /// "Columnar payload (v3)"), so the payload is not compared.
    /// - Returns: 2.
    static func checkColumnar(_ batch: BatchMessage, _ entries: [Entry]) throws(FuzzFailure) -> UInt64 {
        for (index, entry) in entries.enumerated() {
            let again = Result { () throws(DecodeError) -> Entry in try Entry.decode(entry.encoded()) }
            guard case .success(let decoded) = again, decoded == entry else {
                throw FuzzFailure(.frames, "columnar entry \(index + 1) (\(entry.dot)) does not decode from its own bytes")
            }
        }
        let rebuilt = BatchMessage(id: batch.id, entries: entries, columnar: true)
        let decoded = Result { () throws(WireError) -> [Entry] in
            guard case .batch(let batch) = try Message.decode(Message.batch(rebuilt).frame()) else { return [] }
            return try batch.decodeEntries()
        }
        guard case .success(let again) = decoded, again == entries else {
            throw FuzzFailure(.frames, "rebuilt columnar BATCH does not decode to its entries: \(decoded)")
        }
        return 2
    }

    /// Each entry's bytes in the payload are exactly its canonical encoding.
    static func checkCanonicalEntries(_ plain: [UInt8], _ entries: [Entry]) throws(FuzzFailure) {
        var reader = ByteReader(plain)
        for (index, entry) in entries.enumerated() {
            let raw: [UInt8]
            do throws(DecodeError) {
                raw = try reader.readLengthPrefixed(lengthMax: EntryLimits.entryBytesMax)
            } catch {
                throw FuzzFailure(.frames, "payload of decoded entries does not re-read: \(error)")
            }
            let encoded = entry.encoded()
            try expect(
                encoded == raw,
                "entry \(index + 1) (\(entry.dot)) is not canonical: \(Hex.encode(raw)) re-encodes to \(Hex.encode(encoded))")
        }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
        if !condition { throw FuzzFailure(.frames, message()) }
    }
}
