import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

private func node(_ byte: UInt8) -> NodeID {
    NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero
}

private func key(_ text: String) throws -> TradeKey { try TradeKey(parsing: text) }

/// comtrade_legacy_bulk_cement-252310_1988-2020.csv line 2: Australia exports to World, 1988.
private func cementValues() throws -> TradeValues {
    TradeValues(
        valueUSD: try ExactDecimal(parsing: "1043786"), netWeightKg: try ExactDecimal(parsing: "27413000"),
        quantity: try ExactDecimal(parsing: "27413000"), quantityUnit: "Weight in kilograms", flags: [.estimated])
}

/// Authors writes on `replica` and applies them, as the daemon does after fsync.
private func write(_ replica: inout Replica, _ writes: [(key: TradeKey, operation: Operation)], at ms: UInt64) throws {
    for entry in replica.prepare(writes, nowMs: ms) { try replica.apply(entry) }
}

@Suite struct ContentDigestTests {
    @Test("Content digest: same records by other writes (origins, dots, HLCs, history): equal; state digests differ")
    func ignoresDotsAndClocks() throws {
        let australia = try key("AUS:W00:X:252310:1988")
        let azerbaijan = try key("AZE:W00:M:252310:2019:C01:3200")
        var a = Replica(localID: node(1))
        try write(&a, [(australia, .put(try cementValues())), (azerbaijan, .put(TradeValues(valueUSD: ExactDecimal(7))))], at: 1_000)
        // b gets there another way: other origin, other times, an earlier value, a deleted key.
        var b = Replica(localID: node(2))
        let gone = try key("CHN:DEU:X:850760:2022")
        try write(&b, [(azerbaijan, .put(TradeValues(valueUSD: ExactDecimal(1)))), (gone, .put(TradeValues()))], at: 50)
        try write(&b, [(australia, .put(try cementValues()))], at: 9_000_000)
        try write(&b, [(azerbaijan, .put(TradeValues(valueUSD: ExactDecimal(7)))), (gone, .delete)], at: 9_000_001)
        #expect(a.contentDigest() == b.contentDigest())
        #expect(a.digest() != b.digest())
        // The digest is an AdHash over key | values of each live record, in any order.
        var digester = ContentDigester()
        digester.add(TradeRecord(key: australia, values: try cementValues()))
        digester.add(TradeRecord(key: azerbaijan, values: TradeValues(valueUSD: ExactDecimal(7))))
        #expect(digester.finalize() == a.contentDigest())
    }

    @Test("Content digest: one value changes (qty_unit, a decimal's last digit, an absent field): the digest changes")
    func valueChangesDigest() throws {
        let australia = try key("AUS:W00:X:252310:1988")
        var base = Replica(localID: node(1))
        try write(&base, [(australia, .put(try cementValues()))], at: 1_000)
        let before = base.contentDigest()
        var changes: [TradeValues] = []
        var unit = try cementValues()
        unit.quantityUnit = "kg"
        changes.append(unit)
        var amount = try cementValues()
        amount.valueUSD = try ExactDecimal(parsing: "1043787")
        changes.append(amount)
        var absent = try cementValues()
        absent.netWeightKg = nil
        changes.append(absent)
        for values in changes {
            var changed = base
            try write(&changed, [(australia, .put(values))], at: 2_000)
            #expect(changed.contentDigest() != before, "\(values)")
            #expect(base.contentDigest() == before)
        }
    }

    @Test("Content digest: a deleted key and a conflict's losing sibling do not count; the winner does")
    func tombstonesAndLosers() throws {
        let australia = try key("AUS:W00:X:252310:1988")
        let china = try key("CHN:DEU:X:850760:2022")
        var only = Replica(localID: node(3))
        try write(&only, [(australia, .put(TradeValues(valueUSD: ExactDecimal(200))))], at: 10)
        // Concurrent puts on two nodes: node 2's later HLC wins; plus a put then delete.
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let fromA = a.prepare([(key: australia, operation: .put(TradeValues(valueUSD: ExactDecimal(100))))], nowMs: 5)
        let fromB = b.prepare([(key: australia, operation: .put(TradeValues(valueUSD: ExactDecimal(200))))], nowMs: 6)
        for entry in fromA + fromB { try a.apply(entry) }
        try write(&a, [(china, .put(TradeValues(valueUSD: ExactDecimal(1))))], at: 7)
        try write(&a, [(china, .delete)], at: 8)
        #expect(a.counts.conflicts == 1 && a.counts.tombstones == 1)
        #expect(a.contentDigest() == only.contentDigest())
    }

    @Test("Live pages: key order across pages, deleted keys skipped, conflicts counted, cursor to the end")
    func livePages() throws {
        var replica = Replica(localID: node(1))
        var writes: [(key: TradeKey, operation: Operation)] = []
        for year in 2000..<2025 {
            writes.append((try key("DEU:FRA:M:8703:\(year)"), .put(TradeValues(valueUSD: ExactDecimal(Int64(year))))))
        }
        try write(&replica, writes, at: 100)
        try write(&replica, [(try key("DEU:FRA:M:8703:2003"), .delete)], at: 200)
        var exported: [TradeRecord] = []
        var cursor: TradeKey?
        var pages = 0
        repeat {
            let page = replica.livePage(after: cursor, limit: 4)
            exported += page.records
            cursor = page.next
            pages += 1
        } while cursor != nil && pages < 100
        #expect(pages == 6)
        #expect(exported.count == 24)
        #expect(exported.map(\.key) == exported.map(\.key).sorted())
        #expect(!exported.contains { $0.key.period.year == 2003 })
        var digester = ContentDigester()
        for record in exported { digester.add(record) }
        #expect(digester.finalize() == replica.contentDigest())
    }
}
