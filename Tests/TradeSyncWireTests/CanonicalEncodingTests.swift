import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// Non-canonical encodings the fuzzer (docs/FUZZING.md) found accepted, now refused:
/// one value has exactly one encoding (PROTOCOL.md "Conventions").
@Suite struct CanonicalEncodingTests {
    /// The first entry of `batch-deflated.hex`, canonically encoded.
    func canonicalEntry() throws -> [UInt8] {
        try GoldenVectors.batchEntries()[0].encoded()
    }

    /// `bytes` with the first occurrence of `pattern` replaced.
    func replacing(_ pattern: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) throws -> [UInt8] {
        let start = try #require((0...(bytes.count - pattern.count)).first { Array(bytes[$0..<$0 + pattern.count]) == pattern })
        var result = bytes
        result.replaceSubrange(start..<start + pattern.count, with: replacement)
        return result
    }

    /// A plain BATCH 1 carrying `entry` (raw bytes), decoded through a frame.
    func decodeBatch(carrying entry: [UInt8]) throws -> Result<[Entry], WireError> {
        var writer = ByteWriter()
        writer.writeLengthPrefixed(entry)
        let batch = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 1, isDeflated: false, uncompressedLength: writer.bytes.count,
            payload: writer.bytes)
        guard case .batch(let decoded) = try message(from: Message.batch(batch).encoded()) else {
            Issue.record("not a batch")
            return .success([])
        }
        return Result { () throws(WireError) in try decoded.decodeEntries() }
    }

    @Test("Wire: canonical entries: the golden entry decodes; case, spaces, C00 and long varints are refused")
    func nonCanonicalEntriesRefused() throws {
        let entry = try canonicalEntry()
        #expect(try decodeBatch(carrying: entry).get() == [try GoldenVectors.batchEntries()[0]])
        let deu = Array("\u{3}DEU".utf8)
        let commodity = Array("\u{6}850760".utf8)
        let all = Array("\u{3}all".utf8)
        let origin = [UInt8](repeating: 0xA1, count: 32)
        let variants: [(String, [UInt8])] = [
            ("reporter in lower case", try replacing(deu, with: Array("\u{3}DEu".utf8), in: entry)),
            ("commodity with a trailing space", try replacing(commodity, with: Array("\u{7}850760 ".utf8), in: entry)),
            ("customs C00 for all", try replacing(all, with: Array("\u{3}C00".utf8), in: entry)),
            ("customs in upper case", try replacing(all, with: Array("\u{3}ALL".utf8), in: entry)),
            ("seq as a two-byte varint", try replacing(origin + [0x01], with: origin + [0x81, 0x00], in: entry)),
        ]
        for (name, bytes) in variants {
            let result = try decodeBatch(carrying: bytes)
            guard case .failure(.malformed(let type, let reason)) = result else {
                Issue.record("\(name): accepted as \(result)")
                continue
            }
            #expect(type == MessageType.batch.rawValue, "\(name)")
            #expect(reason.contains("entry 1 of 1"), "\(name): \(reason)")
        }
    }

    @Test("Wire: canonical varints: a VECTOR, ACK, ERROR or BATCH header with a long varint is malformed")
    func longVarintsRefused() throws {
        let frames: [(String, Frame)] = [
            ("VECTOR count 0 as 80 00", Frame(type: MessageType.vector.rawValue, body: [0x80, 0x00])),
            ("ACK batch 1 as 81 00", Frame(type: MessageType.ack.rawValue, body: [0x81, 0x00, 0x00])),
            ("ERROR reason length 0 as 80 00", Frame(type: MessageType.error.rawValue, body: [0x00, 0x01, 0x80, 0x00])),
            ("BATCH id 1 as 81 80 00", Frame(type: MessageType.batch.rawValue, body: [0x81, 0x80, 0x00, 0x01, 0x00, 0x00])),
        ]
        for (name, frame) in frames {
            #expect(throws: WireError.self, "\(name)") { try Message.decode(frame) }
            do {
                _ = try Message.decode(frame)
            } catch {
                #expect(error.errorCode == .malformed, "\(name): \(error)")
            }
        }
        // The shortest forms of the same values still decode.
        #expect(try Message.decode(Frame(type: MessageType.vector.rawValue, body: [0x00])) == .vector(VersionVector()))
        #expect(try Message.decode(Frame(type: MessageType.ack.rawValue, body: [0x01, 0x00]))
            == .ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector())))
    }
}
