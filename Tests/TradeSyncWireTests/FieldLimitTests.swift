import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// Issue 5 §2: key and field sizes inside a BATCH are limits with names; breaking one is
/// `limitExceeded` naming the limit, the entry and the byte, not an anonymous "malformed".
@Suite struct FieldLimitTests {
    /// A plain BATCH 1 whose payload is `entries` (raw encodings, each length-prefixed).
    func batch(_ entries: [[UInt8]]) throws -> BatchMessage {
        var writer = ByteWriter()
        for entry in entries { writer.writeLengthPrefixed(entry) }
        let payload = writer.bytes
        let message = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: entries.count, isDeflated: false, uncompressedLength: payload.count,
            payload: payload)
        guard case .batch(let decoded) = try Message.decode(Message.batch(message).frame()) else {
            throw DecodeError.badValue(offset: 0, field: "type", reason: "not a batch")
        }
        return decoded
    }

    func expectLimit(_ batch: BatchMessage, _ name: String, value: UInt64, context: String) {
        #expect {
            _ = try batch.decodeEntries()
        } throws: { error in
            guard let error = error as? WireError, case .limitExceeded(let limit, let got, let place) = error else {
                return false
            }
            return limit.name == name && got == value && place == context && error.errorCode == .limitExceeded
                && error.limit == limit
        }
    }

    @Test("Wire: a reporter code above areaCodeBytesMax in a BATCH entry is limitExceeded naming the limit and entry")
    func reporterTooLong() throws {
        let origin = try node(0x21)
        var bytes = try makeEntry(origin, 1).encoded()
        // formatVersion 1 + origin 32 + seq 1 + hlc 8 + empty context 1 = 43: the reporter string.
        #expect(Array(bytes[43..<47]) == [3] + Array("DEU".utf8))
        bytes.replaceSubrange(43..<47, with: [5] + Array("DEUXX".utf8))
        let good = try makeEntry(origin, 2).encoded()
        expectLimit(try batch([good, bytes]), "areaCodeBytesMax", value: 5, context: "BATCH entry 2 of 2, byte 43")
    }

    @Test("Wire: a causal context above contextOriginsMax is limitExceeded contextOriginsMax")
    func contextTooWide() throws {
        let base = try makeEntry(try node(0x22), 1)
        var context: [NodeID: UInt64] = [:]
        for index in 0...EntryLimits.contextOriginsMax {
            context[try #require(NodeID(bytes: [0xC0, UInt8(index >> 8), UInt8(index & 0xFF)] + [UInt8](repeating: 0, count: 29)))] = 1
        }
        let entry = Entry(dot: base.dot, hlc: base.hlc, context: VersionVector(context), key: base.key, operation: base.operation)
        expectLimit(try batch([entry.encoded()]), "contextOriginsMax", value: 257, context: "BATCH entry 1 of 1, byte 42")
    }

    @Test("Wire: an entry length above entryBytesMax is limitExceeded entryBytesMax, read from its prefix")
    func entryTooLong() throws {
        var writer = ByteWriter()
        writer.writeVarint(UInt64(EntryLimits.entryBytesMax + 1))
        writer.writeBytes([UInt8](repeating: 0, count: 8))
        let message = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 1, isDeflated: false, uncompressedLength: writer.bytes.count,
            payload: writer.bytes)
        expectLimit(message, "entryBytesMax", value: 16385, context: "BATCH entry 1 of 1, byte 0")
    }
}
