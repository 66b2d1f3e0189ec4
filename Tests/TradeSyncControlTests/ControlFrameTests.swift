import Testing
import TradeSyncControl
import TradeSyncModel

/// Framing on the control socket: split at every byte boundary, size limits, and the
/// import blob's record encoding.
@Suite struct ControlFrameTests {
    /// A few records covering absent fields, flags, units with spaces and breakdown codes.
    static func sampleRecords() throws -> [TradeRecord] {
        let plain = try TradeKey(parsing: "AUS:W00:X:252310:1988")
        let monthly = try TradeKey(parsing: "DEU:FRA:M:2523:201903:C01:3200")
        let world = try TradeKey(parsing: "CHN:WLD:RX:TOTAL:2022")
        var full = TradeValues(quantityUnit: "Number of items", flags: [.estimated, .confidential])
        try full.set(field: "value_usd", text: "58552.25")
        try full.set(field: "net_weight_kg", text: "839062")
        try full.set(field: "qty", text: "0.000000001")
        return [
            TradeRecord(key: plain, values: full),
            TradeRecord(key: monthly, values: TradeValues()),
            TradeRecord(key: world, values: TradeValues(quantityUnit: "kg", flags: [.netWeightEstimated])),
        ]
    }

    @Test("ControlFrame: split at every byte boundary: nil until the last byte, then the parts")
    func splitEveryBoundary() throws {
        let json = Array(#"{"command":"import","file":"a/b.csv"}"#.utf8)
        let blob = ControlFrame.encodeRecords(try Self.sampleRecords())
        let frame = ControlFrame.encode(json: json, blob: blob)
        #expect(frame.count == 8 + json.count + blob.count)
        for length in 0..<frame.count {
            #expect(try ControlFrame.split(Array(frame[..<length])) == nil, "prefix of \(length) bytes")
        }
        let whole = try #require(try ControlFrame.split(frame))
        #expect(whole.json == json)
        #expect(whole.blob == blob)
        #expect(whole.consumed == frame.count)
    }

    @Test("ControlFrame: empty JSON and blob: an 8-byte frame that splits back")
    func emptyParts() throws {
        let frame = ControlFrame.encode(json: [])
        #expect(frame == [0, 0, 0, 0, 0, 0, 0, 0])
        let parts = try #require(try ControlFrame.split(frame))
        #expect(parts.json.isEmpty && parts.blob.isEmpty && parts.consumed == 8)
    }

    @Test("ControlFrame: two frames back to back: the first splits off, then the second")
    func backToBack() throws {
        let first = ControlFrame.encode(json: Array("{}".utf8), blob: [1, 2, 3])
        let second = ControlFrame.encode(json: Array(#"{"ok":true}"#.utf8))
        let stream = first + second
        let one = try #require(try ControlFrame.split(stream))
        #expect(one.consumed == first.count && one.blob == [1, 2, 3])
        let rest = Array(stream[one.consumed...])
        let two = try #require(try ControlFrame.split(rest))
        #expect(two.json == Array(#"{"ok":true}"#.utf8) && two.consumed == second.count)
    }

    @Test("ControlFrame: JSON length over the limit: refused from the 4-byte header alone")
    func jsonTooLarge() {
        let declared = UInt32(ControlFrame.jsonBytesMax + 1)
        let header = bigEndianBytes(declared)
        #expect(throws: ControlFrame.FrameError.tooLarge(
            part: "JSON", bytes: Int(declared), bytesMax: ControlFrame.jsonBytesMax)) {
            try ControlFrame.split(header)
        }
    }

    @Test("ControlFrame: blob length over the limit: refused once its header arrives")
    func blobTooLarge() {
        let declared = UInt32(ControlFrame.blobBytesMax + 1)
        let bytes = bigEndianBytes(2) + Array("{}".utf8) + bigEndianBytes(declared)
        #expect(throws: ControlFrame.FrameError.tooLarge(
            part: "blob", bytes: Int(declared), bytesMax: ControlFrame.blobBytesMax)) {
            try ControlFrame.split(bytes)
        }
    }

    @Test("ControlFrame: lengths exactly at the limits: not refused, just incomplete")
    func lengthsAtLimits() throws {
        let header = bigEndianBytes(UInt32(ControlFrame.jsonBytesMax))
        #expect(try ControlFrame.split(header) == nil)
        let blobHeader = bigEndianBytes(0) + bigEndianBytes(UInt32(ControlFrame.blobBytesMax))
        #expect(try ControlFrame.split(blobHeader) == nil)
    }

    @Test("ControlFrame: encodeRecords then decodeRecords: the same records in order")
    func recordsRoundTrip() throws {
        let records = try Self.sampleRecords()
        let blob = ControlFrame.encodeRecords(records)
        #expect(try ControlFrame.decodeRecords(blob) == records)
        #expect(try ControlFrame.decodeRecords([]) == [])
        #expect(ControlFrame.encodeRecords([]) == [])
    }

    @Test("ControlFrame: truncated import blob: badRecord names the first incomplete record")
    func truncatedBlob() throws {
        let records = try Self.sampleRecords()
        let firstLength = ControlFrame.encodeRecords([records[0]]).count
        let blob = ControlFrame.encodeRecords(records)
        for cut in [firstLength + 1, blob.count - 1] {
            #expect {
                try ControlFrame.decodeRecords(Array(blob[..<cut]))
            } throws: { error in
                guard case .badRecord(let index, _) = error as? ControlFrame.FrameError else { return false }
                return index == (cut == firstLength + 1 ? 1 : 2)
            }
        }
    }

    @Test("ControlFrame: unknown flag bits in a blob: refused, not decoded")
    func unknownFlagBits() throws {
        let record = TradeRecord(key: try TradeKey(parsing: "AUS:W00:X:2523:1988"), values: TradeValues())
        var blob = ControlFrame.encodeRecords([record])
        let last = try #require(blob.indices.last)
        blob[last] = 0x80
        #expect(throws: ControlFrame.FrameError.self) { try ControlFrame.decodeRecords(blob) }
    }
}

/// The four big-endian bytes of `value`.
func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}
