import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// A one-entry columnar payload written field by field after PROTOCOL.md ("Columnar payload
/// (v3)"), independently of the encoder, with each field open to a hostile value.
struct HandPayload {
    var originCount: UInt64 = 1
    var runCount: UInt64 = 1
    var runOrigin: UInt64 = 0
    var runFirst: UInt64 = 5
    var runLength: UInt64 = 1
    var hlcDelta: Int64 = 1000
    var contextCount: UInt64 = 0
    var kind: UInt8 = 0x01
    var reporter = "DEU"
    var reporterIndex: UInt64 = 0
    var flow: UInt8 = 1
    var year: UInt64 = 122
    var month: UInt8 = 3
    var unitIndex: UInt64 = 0
    var mantissa: Int64 = 1250
    var scale: UInt8 = 0
    var flags: UInt8 = 0
    var trailing: [UInt8] = []

    func bytes() throws -> [UInt8] {
        var writer = ByteWriter()
        writer.writeVarint(originCount)
        try node(0x33).encode(into: &writer)
        writer.writeVarint(runCount)
        writer.writeVarint(runOrigin)
        writer.writeVarint(runFirst)
        writer.writeVarint(runLength)
        writer.writeZigZag(hlcDelta)
        writer.writeVarint(contextCount)
        writer.writeU8(kind)
        for text in [reporter, "FRA", "850760", "all", "all"] {
            writer.writeVarint(1)
            writer.writeString(text)
        }
        writer.writeVarint(reporterIndex)
        writer.writeVarint(0)  // partner
        writer.writeU8(flow)
        writer.writeVarint(0)  // commodity
        writer.writeVarint(year)
        writer.writeU8(month)
        writer.writeVarint(0)  // customs
        writer.writeVarint(0)  // transport
        writer.writeVarint(1)
        writer.writeString("kg")
        writer.writeZigZag(mantissa)
        writer.writeU8(scale)
        writer.writeVarint(unitIndex)
        writer.writeU8(flags)
        writer.writeBytes(trailing)
        return writer.bytes
    }

    func decode() throws -> [Entry] { try columnarBatch(try bytes(), entryCount: 1).decodeEntries() }
}

@Suite struct ColumnarHostileTests {
    @Test("Wire: columnar payload written by hand after PROTOCOL.md decodes to the entry it describes")
    func handWritten() throws {
        let expected = Entry(
            dot: Dot(origin: try node(0x33), seq: 5), hlc: HLCTimestamp(rawValue: 1000), context: VersionVector(),
            key: try TradeKey(parsing: "DEU:FRA:X:850760:202203"),
            operation: .put(TradeValues(valueUSD: ExactDecimal(1250), quantityUnit: "kg")))
        #expect(try HandPayload().decode() == [expected])
        #expect(ColumnarPayload.encode([expected]) == (try HandPayload().bytes()))
    }

    static let cases: [(String, @Sendable (inout HandPayload) -> Void, String)] = [
        ("no origins", { $0.originCount = 0 }, "originCount"),
        ("more origins than bytes", { $0.originCount = 1000 }, "originCount"),
        ("run of an unknown origin", { $0.runOrigin = 1 }, "run origin"),
        ("run from seq 0", { $0.runFirst = 0 }, "firstSeq"),
        ("run longer than the batch", { $0.runLength = 2 }, "run length"),
        ("more runs than entries", { $0.runCount = 2 }, "runCount"),
        ("context above contextOriginsMax", { $0.contextCount = 257 }, "contextOriginsMax"),
        ("unknown kind bits", { $0.kind = 0x21 }, "kind"),
        ("quantity = weight without a weight", { $0.kind = 0x09 }, "kind"),
        ("delete with presence bits", { $0.kind = 0x11 }, "kind"),
        ("lower-case reporter", { $0.reporter = "deu" }, "reporter table"),
        ("reporter above areaCodeBytesMax", { $0.reporter = "DEUTS" }, "areaCodeBytesMax"),
        ("reporter index beyond its table", { $0.reporterIndex = 1 }, "reporter index"),
        ("flow beyond the 12 flows", { $0.flow = 12 }, "flow"),
        ("year 2200", { $0.year = 300 }, "year"),
        ("month 13", { $0.month = 13 }, "month"),
        ("scale 10", { $0.scale = 10 }, "scale"),
        ("not normalised", { $0.scale = 1 }, "scale"),
        ("unit index beyond its table", { $0.unitIndex = 1 }, "unit index"),
        ("unknown flag bits", { $0.flags = 0x10 }, "flags"),
        ("trailing bytes", { $0.trailing = [0] }, "trailing"),
    ]

    @Test("Wire: columnar payload: each bad count, index, code or value throws, naming the column", arguments: 0..<21)
    func badField(number: Int) throws {
        let (name, change, field) = Self.cases[number]
        var payload = HandPayload()
        change(&payload)
        do {
            let entries = try payload.decode()
            Issue.record("\(name): decoded to \(entries)")
        } catch let error as WireError {
            #expect(error.description.contains(field), "\(name): \(error)")
            #expect(error.errorCode == .malformed || error.errorCode == .limitExceeded, "\(name): \(error)")
        }
    }

    @Test("Wire: columnar payload truncated at every byte, plain and deflated: throws, never traps")
    func truncation() throws {
        let entries = try randomEntries(seed: 11, count: 30)
        let plain = ColumnarPayload.encode(entries)
        for cut in 0..<plain.count {
            #expect(throws: WireError.self, "cut at \(cut)") {
                try columnarBatch(Array(plain[..<cut]), entryCount: entries.count).decodeEntries()
            }
        }
        let deflated = BatchMessage(id: BatchID(rawValue: 1), entries: entries, columnar: true)
        #expect(deflated.isDeflated)
        for cut in 0..<deflated.payload.count {
            let batch = BatchMessage(
                id: deflated.id, entryCount: deflated.entryCount, isDeflated: true,
                uncompressedLength: deflated.uncompressedLength, payload: Array(deflated.payload[..<cut]), isColumnar: true)
            #expect(throws: WireError.self, "deflated cut at \(cut)") { try batch.decodeEntries() }
        }
        // The whole payload with a wrong entry count: too many and too few.
        #expect(throws: WireError.self) { try columnarBatch(plain, entryCount: entries.count + 1).decodeEntries() }
        #expect(throws: WireError.self) { try columnarBatch(plain, entryCount: entries.count - 1).decodeEntries() }
    }

    @Test("Wire: columnar payload with any one byte changed: throws or decodes to canonical entries, never traps")
    func corruption() throws {
        let entries = try randomEntries(seed: 12, count: 12)
        let plain = ColumnarPayload.encode(entries)
        var decodedCount = 0
        for position in 0..<plain.count {
            for change: UInt8 in [0x01, 0x80, 0xFF] {
                var bytes = plain
                bytes[position] ^= change
                guard let decoded = try? columnarBatch(bytes, entryCount: entries.count).decodeEntries() else { continue }
                decodedCount += 1
                for entry in decoded { #expect(try Entry.decode(entry.encoded()) == entry) }
            }
        }
        // Some changes (a value's low bits) still decode, to other entries.
        #expect(decodedCount > 0)
    }

    @Test("Wire: columnar BATCH in a v2 frame: the flag decodes; only the session refuses it by version")
    func flagBits() throws {
        let entries = try randomEntries(seed: 13, count: 3)
        let bytes = Message.batch(BatchMessage(id: BatchID(rawValue: 1), entries: entries, columnar: true)).encoded()
        #expect(bytes[7] & BatchMessage.flagColumnar != 0)
        var reserved = bytes
        reserved[7] |= 0x08
        #expect(throws: WireError.self) { try message(from: reserved) }
    }
}
