import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// ``Replica/apply(contentsOf:)`` (keys packed and probed a run at a time) against
/// ``Replica/apply(_:)`` one entry at a time.
@Suite struct ReplicaApplyRunTests {
    /// Entries of two origins over shared keys: new keys, updates that saw the earlier
    /// version, concurrent writes (siblings) and deletes, interleaved.
    static func mixedEntries(keys: Int) -> [Entry] {
        let writes = generatedWrites(keys)
        var first = Replica(localID: nodeID(1))
        var second = Replica(localID: nodeID(2))
        var entries: [Entry] = []
        func author(_ replica: inout Replica, _ batch: [(key: TradeKey, operation: Operation)], at ms: UInt64) -> [Entry] {
            let made = replica.prepare(batch, nowMs: ms)
            for entry in made { _ = try? replica.apply(entry) }
            return made
        }
        entries += author(&first, writes, at: 1_000)
        // The second origin sees the first's entries, then updates every third key.
        for entry in entries { _ = try? second.apply(entry) }
        let updates = writes.enumerated().filter { $0.offset % 3 == 0 }.map { ($0.element.key, Operation.put(TradeValues(valueUSD: ExactDecimal(Int64($0.offset)), quantityUnit: "u"))) }
        let seen = author(&second, updates.map { (key: $0.0, operation: $0.1) }, at: 2_000)
        // Meanwhile the first deletes every fifth key without seeing those updates: siblings.
        let deletes = writes.enumerated().filter { $0.offset % 5 == 0 }.map { (key: $0.element.key, operation: Operation.delete) }
        let concurrent = author(&first, deletes, at: 2_500)
        // Interleave the two runs, each origin's in order.
        var merged: [Entry] = []
        var (i, j) = (0, 0)
        while i < seen.count || j < concurrent.count {
            if i < seen.count, j >= concurrent.count || (i + j) % 2 == 0 { merged.append(seen[i]); i += 1 } else { merged.append(concurrent[j]); j += 1 }
        }
        return entries + merged
    }

    static func sameState(_ lhs: Replica, _ rhs: Replica, _ context: String) {
        #expect(lhs.digest() == rhs.digest(), "\(context)")
        #expect(lhs.contentDigest() == rhs.contentDigest(), "\(context)")
        #expect(lhs.counts == rhs.counts, "\(context)")
        #expect(lhs.vector == rhs.vector, "\(context)")
        let keys = lhs.sortedKeys
        #expect(keys == rhs.sortedKeys, "\(context)")
        for key in keys { #expect(lhs.read(key) == rhs.read(key), "\(context) \(key)") }
    }

    @Test("Runs give the state, digests and counts that single applies give, whatever the cut", arguments: [1, 63, 64, 65, 1_000, 100_000])
    func sameAsOneByOne(cut: Int) throws {
        let entries = Self.mixedEntries(keys: 3_000)
        var single = Replica(localID: nodeID(9))
        for entry in entries { try single.apply(entry) }
        var runs = Replica(localID: nodeID(9))
        var start = 0
        while start < entries.count {
            try runs.apply(contentsOf: Array(entries[start..<min(start + cut, entries.count)]))
            start += cut
        }
        #expect(single.counts.conflicts > 0 && single.counts.tombstones > 0)
        Self.sameState(single, runs, "cut \(cut)")
        // Applying everything again changes nothing (all duplicates).
        try runs.apply(contentsOf: entries)
        Self.sameState(single, runs, "again, cut \(cut)")
    }

    @Test("A gap stops the run at the entry after it: what came before stays applied")
    func gapStopsRun() throws {
        let entries = Self.mixedEntries(keys: 500)
        let gapAt = 300
        var withGap = entries
        withGap.remove(at: gapAt)
        var runs = Replica(localID: nodeID(9))
        #expect(throws: ReplicaError.self) { try runs.apply(contentsOf: withGap) }
        var single = Replica(localID: nodeID(9))
        for entry in entries[..<gapAt] { try single.apply(entry) }
        Self.sameState(single, runs, "gap at \(gapAt)")
    }

    @Test("states(of:) in runs agrees with state(of:) for held keys, unknown keys and keys with unknown codes")
    func statesInRuns() throws {
        let entries = Self.mixedEntries(keys: 1_000)
        var replica = Replica(localID: nodeID(9))
        try replica.apply(contentsOf: entries)
        let held = generatedWrites(1_000).map(\.key)
        let unheld = generatedWrites(300, seed: 99).map(\.key).filter { replica.state(of: $0) == nil }
        let foreign = try (0..<70).map {
            try TradeKey(reporter: AreaCode("ZZ\($0 % 10)"), partner: AreaCode("W00"), flow: .export, commodity: CommodityCode("9999AA"), period: Period(year: 2020, month: 0))
        }
        let keys = held + unheld + foreign + held.reversed()
        let looked = replica.states(of: keys)
        #expect(looked.count == keys.count)
        for (key, state) in zip(keys, looked) {
            let expected = replica.state(of: key)
            #expect(state?.versions == expected?.versions && state?.context == expected?.context, "\(key)")
        }
        #expect(looked.prefix(held.count).allSatisfy { $0 != nil })
        #expect(looked[held.count..<(held.count + unheld.count + foreign.count)].allSatisfy { $0 == nil })
    }
}
