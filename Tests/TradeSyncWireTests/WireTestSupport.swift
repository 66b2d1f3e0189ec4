import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// The package root, found from this file's path (Tests/TradeSyncWireTests/…).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The NodeID whose 32 bytes are all `byte`.
func node(_ byte: UInt8) throws -> NodeID {
    try #require(NodeID(bytes: [UInt8](repeating: byte, count: NodeID.byteCount)))
}

/// A put by `origin` at `seq`; key and values vary with `seq`. `contextOrigins` extra
/// origins (seq 1 each) and a `unitBytes`-long quantity unit let tests size the encoding.
func makeEntry(_ origin: NodeID, _ seq: UInt64, contextOrigins: Int = 0, unitBytes: Int = 2) throws -> Entry {
    let partners = ["FRA", "USA", "CHN", "JPN", "GBR", "ITA", "NLD"]
    let key = try TradeKey(
        reporter: AreaCode("DEU"), partner: AreaCode(partners[Int(seq % 7)]), flow: seq % 2 == 0 ? .export : .import,
        commodity: CommodityCode(String(850_700 + seq % 100)), period: Period(year: 2000 + Int(seq % 25)))
    var context: [NodeID: UInt64] = seq > 1 ? [origin: seq - 1] : [:]
    for index in 0..<contextOrigins {
        context[try #require(NodeID(bytes: [0xC0, UInt8(index)] + [UInt8](repeating: 0, count: 30)))] = 1
    }
    let values = TradeValues(
        valueUSD: ExactDecimal(Int64(seq) * 1_250 + 99), netWeightKg: ExactDecimal(normalizingMantissa: Int64(seq) * 7, scale: 1),
        quantityUnit: String(repeating: "k", count: unitBytes), flags: seq % 5 == 0 ? [.estimated] : [])
    return Entry(
        dot: Dot(origin: origin, seq: seq), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + seq, logical: UInt16(seq % 3)),
        context: VersionVector(context), key: key, operation: .put(values))
}

/// Entries `seqs` of `origin`.
func makeEntries(_ origin: NodeID, _ seqs: ClosedRange<UInt64>) throws -> [Entry] {
    try seqs.map { try makeEntry(origin, $0) }
}

/// The uncompressed batch payload of `entries`: varint length + encoding each.
func plainPayload(_ entries: [Entry]) -> [UInt8] {
    var writer = ByteWriter()
    for entry in entries { writer.writeLengthPrefixed(entry.encoded()) }
    return writer.bytes
}

/// Decodes every frame in `bytes`, which must hold whole frames only.
func frames(in bytes: [UInt8]) throws -> [Frame] {
    var decoder = FrameDecoder()
    decoder.feed(bytes)
    var result: [Frame] = []
    while let frame = try decoder.next() { result.append(frame) }
    #expect(decoder.bufferedByteCount == 0)
    return result
}

/// Decodes exactly one frame holding one message.
func message(from bytes: [UInt8]) throws -> Message {
    let decoded = try frames(in: bytes)
    try #require(decoded.count == 1)
    return try Message.decode(decoded[0])
}

/// Parses golden-vector hex text: `#` lines are comments; whitespace is ignored.
func parseHex(_ text: String) throws -> [UInt8] {
    var bytes: [UInt8] = []
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let digits = line.filter { !$0.isWhitespace }
        try #require(digits.count % 2 == 0, "odd number of hex digits in \(line)")
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(try #require(UInt8(digits[index..<next], radix: 16), "bad hex \(digits[index..<next])"))
            index = next
        }
    }
    return bytes
}

/// Formats bytes as hex, 32 bytes per line.
func hexLines(_ bytes: [UInt8]) -> String {
    stride(from: 0, to: bytes.count, by: 32).map { start in
        bytes[start..<min(start + 32, bytes.count)].map { String(format: "%02x", $0) }.joined()
    }.joined(separator: "\n")
}

/// Entries of one origin whose uncompressed payload is exactly `payloadBytes` long, built
/// from large entries (big causal contexts) and two sized to land on the byte.
func entriesFilling(payloadBytes target: Int, origin: NodeID) throws -> [Entry] {
    var entries: [Entry] = []
    var remaining = target
    while remaining > 12_000 {
        let entry = try makeEntry(origin, UInt64(entries.count + 1), contextOrigins: 200)
        entries.append(entry)
        remaining -= BatchMessage.payloadBytes(of: entry)
    }
    for delta in 0..<8 {
        let first = remaining / 2 + delta
        if let a = try sizedEntry(origin, UInt64(entries.count + 1), payloadBytes: first),
            let b = try sizedEntry(origin, UInt64(entries.count + 2), payloadBytes: remaining - first)
        {
            return entries + [a, b]
        }
    }
    Issue.record("could not fill \(target) bytes exactly")
    return entries
}

/// An entry whose payload cost (length prefix + encoding) is exactly `payloadBytes`, or nil.
private func sizedEntry(_ origin: NodeID, _ seq: UInt64, payloadBytes: Int) throws -> Entry? {
    for origins in 0...250 {
        let base = BatchMessage.payloadBytes(of: try makeEntry(origin, seq, contextOrigins: origins, unitBytes: 0))
        let unit = payloadBytes - base
        if unit < 0 { return nil }
        if unit <= RecordLimits.quantityUnitBytesMax {
            let entry = try makeEntry(origin, seq, contextOrigins: origins, unitBytes: unit)
            if BatchMessage.payloadBytes(of: entry) == payloadBytes { return entry }
        }
    }
    return nil
}
