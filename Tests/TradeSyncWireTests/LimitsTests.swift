import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

@Suite struct LimitsTests {
    /// Every limit PROTOCOL.md must list, with its value in the table's unit.
    static let expected: [String: Int] = [
        "frameBytesMax": Limits.frameBytesMax,
        "batchEntriesMax": Limits.batchEntriesMax,
        "batchBytesMax": Limits.batchBytesMax,
        "batchHeaderBytesMax": Limits.batchHeaderBytesMax,
        "inflatedBytesMax": Limits.inflatedBytesMax,
        "deflateThresholdBytes": Limits.deflateThresholdBytes,
        "reasonBytesMax": Limits.reasonBytesMax,
        "vectorOriginsMax": Limits.vectorOriginsMax,
        "handshakeTimeout": Int(Limits.handshakeTimeout.components.seconds),
        "pingInterval": Int(Limits.pingInterval.components.seconds),
        "idleTimeout": Int(Limits.idleTimeout.components.seconds),
        "windowBatchesMax": Limits.windowBatchesMax,
        "windowBatchesMaxWide": Limits.windowBatchesMaxWide,
        "entryBytesMax": EntryLimits.entryBytesMax,
        "contextOriginsMax": EntryLimits.contextOriginsMax,
        "areaCodeBytesMax": RecordLimits.areaCodeBytesMax,
        "commodityBytesMax": RecordLimits.commodityBytesMax,
        "breakdownCodeBytesMax": RecordLimits.breakdownCodeBytesMax,
        "quantityUnitBytesMax": RecordLimits.quantityUnitBytesMax,
    ]

    /// Rows `| \`name\` | value | unit | reason |` of the "Limits" section of PROTOCOL.md.
    func tableRows() throws -> [String: Int] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Protocol/PROTOCOL.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "\n## Limits").dropFirst().first, "no Limits section")
        let body = section.components(separatedBy: "\n## ").first ?? section
        var rows: [String: Int] = [:]
        for line in body.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            try #require(cells.count >= 5, "short row: \(line)")
            let name = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            let digits = cells[2].replacingOccurrences(of: "_", with: "").replacingOccurrences(of: ",", with: "")
            guard let value = Int(digits, radix: 10) else {
                Issue.record("value of \(name) is not an integer: \(cells[2])")
                continue
            }
            rows[name] = value
        }
        return rows
    }

    @Test("Wire: limits: PROTOCOL.md's table lists every limit with the value in Limits.swift")
    func tableMatches() throws {
        let rows = try tableRows()
        #expect(Set(rows.keys) == Set(Self.expected.keys))
        for (name, value) in Self.expected {
            #expect(rows[name] == value, "\(name): PROTOCOL.md says \(rows[name].map(String.init) ?? "nothing"), code says \(value)")
        }
    }

    @Test("Wire: limits: related limits fit together")
    func relatedLimitsFit() {
        #expect(Limits.batchBytesMax + Limits.batchHeaderBytesMax <= Limits.frameBytesMax)
        #expect(Limits.batchBytesMax <= Limits.inflatedBytesMax)
        #expect(EntryLimits.entryBytesMax + 3 <= Limits.batchBytesMax)
        #expect(Limits.vectorOriginsMax * (NodeID.byteCount + 10) + 10 + 10 < Limits.frameBytesMax)
        #expect(Limits.reasonBytesMax + 2 + 2 + 1 < Limits.frameBytesMax)
        #expect(Limits.pingInterval * 3 <= Limits.idleTimeout)
        #expect(Limits.handshakeTimeout < Limits.idleTimeout)
    }

    @Test("Wire: limits: a batch of exactly batchBytesMax uncompressed bytes with the widest header fits in one frame")
    func fullPlainBatchFits() throws {
        let entries = try entriesFilling(payloadBytes: Limits.batchBytesMax, origin: try node(0x61))
        let payload = plainPayload(entries)
        #expect(payload.count == Limits.batchBytesMax)
        let batch = BatchMessage(
            id: BatchID(rawValue: .max), entryCount: entries.count, isDeflated: false, uncompressedLength: payload.count,
            payload: payload)
        let bodyBytes = 10 + BatchMessage.varintBytes(UInt64(entries.count)) + 1 + 3 + payload.count
        #expect(1 + bodyBytes <= Limits.frameBytesMax)
        let wire = Message.batch(batch).encoded()
        #expect(wire.count == Frame.headerBytes + 1 + bodyBytes)
        guard case .batch(let decoded) = try message(from: wire) else { return #expect(Bool(false), "not a batch") }
        #expect(try decoded.decodeEntries() == entries)
        // A sender building from the same entries stays within its own limit too.
        let built = BatchMessage(id: BatchID(rawValue: 1), entries: entries)
        #expect(built.uncompressedLength == Limits.batchBytesMax)
    }
}
