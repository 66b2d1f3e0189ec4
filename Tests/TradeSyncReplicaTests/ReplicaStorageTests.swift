import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

private func node(_ byte: UInt8) -> NodeID {
    NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero
}

/// The key state as first written: the context always stored (the reference the packed and
/// derived-context storage must agree with).
private struct ReferenceState {
    var context = VersionVector()
    var versions: [Version] = []

    mutating func apply(_ entry: Entry) {
        let obsolete = context.covers(entry.dot)
        versions.removeAll { entry.context.covers($0.dot) }
        if !obsolete {
            let version = Version(dot: entry.dot, hlc: entry.hlc, operation: entry.operation)
            versions.insert(version, at: versions.firstIndex { version.dot < $0.dot } ?? versions.endIndex)
        }
        context.merge(entry.context)
        context.add(entry.dot)
    }
}

private let keyTexts = [
    "CHN:DEU:X:850760:2022", "AZE:W00:M:252310:2019:C01:3200", "THA:W00:M:8542:201403", "DEU:FRA:RX:TOTAL:2020:all:1000",
    "USA:MEX:M:87:2021:0:C00", "CHN:DEU:M:850760:2022", "CHN:DEU:X:850760:202201", "AB:DEU:X:01:2022:C20:all",
]

private func randomOperation(_ rng: inout SplitMix64) -> Operation {
    if rng.next() % 6 == 0 { return .delete }
    func decimal() -> ExactDecimal? {
        rng.next() % 4 == 0 ? nil : ExactDecimal(normalizingMantissa: Int64(rng.next() % 2_000_001) - 1_000_000, scale: UInt8(rng.next() % 10))
    }
    let units = ["", "kg", "u", "Number of items", "a unit longer than fifteen bytes"]
    return .put(
        TradeValues(
            valueUSD: decimal(), netWeightKg: decimal(), quantity: decimal(), quantityUnit: units[Int(rng.next() % 5)],
            flags: RecordFlags(rawValue: UInt8(rng.next() % 16))))
}

@Suite struct ReplicaStorageTests {
    @Test("Replica storage: random histories: every key's context and versions equal a stored-context reference",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func derivedContextMatchesReference(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let keys = try keyTexts.map { try TradeKey(parsing: $0) }
        var writers = (1...3).map { Replica(localID: node(UInt8($0))) }
        var all: [Entry] = []
        for step in 0..<120 {  // writers see random subsets, so contexts span several origins
            let w = Int(rng.next() % 3)
            for entry in all where rng.next() % 3 == 0 { _ = try? writers[w].apply(entry) }
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            let entry = writers[w].prepare([(key: key, operation: randomOperation(&rng))], nowMs: UInt64(step))[0]
            try writers[w].apply(entry)
            all.append(entry)
        }
        var reference: [TradeKey: ReferenceState] = [:]
        var replica = Replica(localID: node(9))
        for origin in [2, 3, 1] {  // another delivery order than authoring
            for entry in all where entry.dot.origin == node(UInt8(origin)) {
                try replica.apply(entry)
                reference[entry.key, default: ReferenceState()].apply(entry)
            }
        }
        let restored = try Replica.decodeSnapshot(replica.encodeSnapshot(chunkKeys: 3), localID: replica.localID)
        for candidate in writers + [replica, restored] {
            let scratch = candidate.digestsFromScratch()
            #expect(candidate.digest() == scratch.state, "seed \(seed)")
            #expect(candidate.contentDigest() == scratch.content, "seed \(seed)")
        }
        #expect(restored.digest() == replica.digest(), "seed \(seed)")
        for (key, expected) in reference {
            for candidate in [replica, restored] {
                let state = try #require(candidate.stored(key)).state(candidate.tables)
                #expect(state.context == expected.context, "seed \(seed) key \(key)")
                #expect(state.versions == expected.versions, "seed \(seed) key \(key)")
                #expect(candidate.read(key)?.context == expected.context, "seed \(seed) key \(key)")
            }
        }
    }

    @Test("Replica storage: a packed version unpacks to the same version", arguments: [1, 2, 3])
    func packedVersionRoundTrip(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var tables = ReplicaTables()
        for index in 0..<500 {
            let version = Version(
                dot: Dot(origin: node(UInt8(rng.next() % 4)), seq: rng.next() >> UInt64(index % 64)),
                hlc: HLCTimestamp(rawValue: rng.next()), operation: randomOperation(&rng))
            #expect(PackedVersion(version, tables: &tables).version(tables) == version, "seed \(seed)")
        }
        #expect(tables.origins.values.count <= 4)
    }

    @Test("Replica storage: single shape only packs: a context beyond the dot stays boxed")
    func packingShape() throws {
        let key = try TradeKey(parsing: keyTexts[0])
        var a = Replica(localID: node(1))
        var b = Replica(localID: node(2))
        let first = a.prepare([(key: key, operation: .delete)], nowMs: 1)[0]
        try a.apply(first)
        if case .general = try #require(a.stored(key)) { Issue.record("one write should pack") }
        try b.apply(first)
        let second = b.prepare([(key: key, operation: .delete)], nowMs: 2)[0]  // context {a:1}, dot b:1
        try b.apply(second)
        guard case .general(let box) = try #require(b.stored(key)) else {
            Issue.record("context {a:1, b:1} must be kept")
            return
        }
        #expect(box.state.context == VersionVector([node(1): 1, node(2): 1]))
        #expect(box.state.versions.map(\.dot) == [second.dot])
    }

    @Test("Replica storage: packed keys list, query, page and find conflicts in TradeKey order", arguments: [1, 2, 3])
    func packedKeyOrder(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let areas = ["AB", "ABC", "AB_", "W00", "ZZZ", "DEU", "X1"]
        let commodities = ["01", "0101", "010110", "TOTAL", "9999AA", "8542310000", "85"]
        let breakdowns = [("all", "all"), ("C01", "all"), ("all", "1000"), ("C00X", "9"), ("0", "all")]
        var replica = Replica(localID: node(1))
        var other = Replica(localID: node(2))
        var expected = Set<TradeKey>()
        var otherEntries: [Entry] = []
        for step in 0..<400 {
            let breakdown = breakdowns[Int(rng.next() % 5)]
            let key = try TradeKey(
                reporter: AreaCode(areas[Int(rng.next() % 7)]), partner: AreaCode(areas[Int(rng.next() % 7)]),
                flow: Flow.allCases[Int(rng.next() % UInt64(Flow.allCases.count))],
                commodity: CommodityCode(commodities[Int(rng.next() % 7)]),
                period: Period(year: 2000 + Int(rng.next() % 3), month: Int(rng.next() % 13)), customs: breakdown.0,
                transport: breakdown.1)
            expected.insert(key)
            let operation = randomOperation(&rng)
            try replica.apply(replica.prepare([(key: key, operation: operation)], nowMs: UInt64(step))[0])
            if rng.next() % 5 == 0 {  // another office writes the same key concurrently (delivered below): a conflict
                let entry = other.prepare([(key: key, operation: randomOperation(&rng))], nowMs: UInt64(step))[0]
                try other.apply(entry)
                otherEntries.append(entry)
            }
        }
        for entry in otherEntries { try replica.apply(entry) }
        #expect(replica.sortedKeys == expected.sorted(), "seed \(seed)")
        #expect(replica.counts.conflicts > 0, "seed \(seed)")
        let all = replica.query(KeyFilter(includeDeleted: true))
        #expect(all.map(\.key) == replica.sortedKeys, "seed \(seed)")
        var paged: [TradeKey] = []
        var after: TradeKey?
        for _ in 0..<1_000 {  // bound: pages of 7 over at most 400 keys
            let page = replica.livePage(after: after, limit: 7)
            paged += page.records.map(\.key)
            guard let next = page.next else { break }
            after = next
        }
        #expect(paged == all.filter { !$0.isDeleted }.map(\.key), "seed \(seed)")
        #expect(replica.conflicts().map(\.key) == all.filter(\.isConflict).map(\.key), "seed \(seed)")
    }
}
