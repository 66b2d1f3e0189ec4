import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// Records that came from a decoder (a control frame's) make entries the log need not
/// decode again, unless an entry's context is beyond what a decoder takes.
@Suite struct ImportDecodedTests {
    private func node(_ seed: UInt8) throws -> ReplicaNode<MemoryStore> {
        try ReplicaNode(localID: try #require(NodeID(bytes: [UInt8](repeating: seed, count: 32))), store: MemoryStore())
    }

    private func records(_ count: Int, value: Int64 = 1) throws -> [TradeRecord] {
        try (0..<count).map { index in
            let base = testKey(index % 7)
            return TradeRecord(
                key: try TradeKey(
                    reporter: base.reporter, partner: base.partner, flow: base.flow, commodity: base.commodity,
                    period: try Period(year: 1950 + index)),
                values: TradeValues(valueUSD: ExactDecimal(value + Int64(index)), quantityUnit: "kg", flags: [.estimated]))
        }
    }

    @Test("Import of decoded records: entries count as decoded and decode to themselves; otherwise not")
    func decodedRecordsMakeDecodedEntries() throws {
        var decoded = try node(1)
        let written = try decoded.stageImport(try records(40), nowMs: 1_700_000_000_000, recordsDecoded: true).entries
        #expect(written.count == 40)
        #expect(written.allSatisfy { $0.wasDecoded })
        for entry in written {
            let again = try Entry.decode(entry.encoded())
            #expect(again == entry)
        }
        // A second import of the same keys carries contexts (the versions it supersedes).
        let again = try decoded.stageImport(try records(40, value: 9), nowMs: 1_700_000_000_001, recordsDecoded: true).entries
        #expect(again.count == 40 && again.allSatisfy { $0.wasDecoded && !$0.context.isEmpty })

        var plain = try node(2)
        let made = try plain.stageImport(try records(40), nowMs: 1_700_000_000_000).entries
        #expect(made.count == 40 && made.allSatisfy { !$0.wasDecoded })
    }

    @Test("Import of decoded records: a context beyond contextOriginsMax is left for the log to check")
    func contextBeyondLimitIsNotMarked() throws {
        var target = try node(3)
        let key = try records(1)[0].key
        // contextOriginsMax + 1 concurrent versions of one key, each from its own origin.
        let siblings = try (0...EntryLimits.contextOriginsMax).map { index in
            Entry(
                dot: Dot(origin: try #require(NodeID(bytes: [0xD0, UInt8(index >> 8), UInt8(index & 0xFF)] + [UInt8](repeating: 1, count: 29))), seq: 1),
                hlc: HLCTimestamp(physicalMs: 1_600_000_000_000, logical: 0), context: VersionVector(), key: key,
                operation: .put(TradeValues(valueUSD: ExactDecimal(Int64(index)))))
        }
        _ = try target.stageReceived(siblings)
        let entry = try target.stageImport(try records(1, value: 77), nowMs: 1_700_000_000_000, recordsDecoded: true).entries
        #expect(entry.count == 1)
        #expect(entry[0].context.counters.count == EntryLimits.contextOriginsMax + 1)
        #expect(!entry[0].wasDecoded)
    }
}
