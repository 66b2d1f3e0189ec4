import Testing
@testable import TradeSyncReplica

/// ``SlotTable`` against a dictionary and an array as the reference model.
@Suite struct SlotTableTests {
    /// A key whose hash is one of three values, all with the same tag: every key collides,
    /// so probe runs wrap around the bucket array and a tag match must still compare keys.
    struct CollidingKey: SlotTableKey {
        let value: Int
        func mixed(_ seed: SlotTableSeed) -> UInt64 { 0xABCD_0000_0000_0000 | UInt64(value % 3) &* 0x5555 }
    }

    /// xorshift64*, for reproducible key streams.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
    }

    @Test("Packed keys: slots are dense in first-seen order, lookups agree with a dictionary, through growth", arguments: [1, 7, 20_000])
    func packedKeysMatchDictionary(seed: UInt64) {
        var random = Random(state: seed)
        var table = SlotTable<PackedKey>()
        var model: [PackedKey: UInt32] = [:]
        var order: [PackedKey] = []
        var drawn: [PackedKey] = []
        for step in 0..<60_000 {
            // A third of the draws repeat an earlier key.
            let key: PackedKey
            if step % 3 == 2, !drawn.isEmpty {
                key = drawn[Int(random.next() % UInt64(drawn.count))]
            } else {
                key = PackedKey(high: random.next() % 1_000, low: random.next() % 50_000)
                drawn.append(key)
            }
            let (slot, isNew) = table.slot(of: key)
            if let expected = model[key] {
                #expect(!isNew && slot == expected, "seed \(seed) step \(step)")
            } else {
                #expect(isNew && slot == UInt32(order.count), "seed \(seed) step \(step)")
                model[key] = slot
                order.append(key)
            }
        }
        #expect(table.count == model.count)
        #expect(Array(table.keys) == order)
        #expect(table.capacity >= table.count)
        for (key, slot) in model { #expect(table[key] == slot) }
        for _ in 0..<1_000 {
            let absent = PackedKey(high: 1_000 + random.next() % 1_000, low: random.next())
            #expect(table[absent] == nil)
        }
    }

    @Test("Colliding hashes and tags: probes wrap around and keys are still told apart")
    func collisions() {
        var table = SlotTable<CollidingKey>()
        for value in 0..<500 { #expect(table.slot(of: CollidingKey(value: value)) == (UInt32(value), true)) }
        for value in 0..<500 { #expect(table.slot(of: CollidingKey(value: value)) == (UInt32(value), false)) }
        for value in 0..<500 { #expect(table[CollidingKey(value: value)] == UInt32(value)) }
        #expect(table[CollidingKey(value: 500)] == nil)
        #expect(table[CollidingKey(value: 10_000)] == nil)
    }

    @Test("Reserved room: no growth while filling it; an empty table finds nothing")
    func reserve() {
        var table = SlotTable<UInt64>(minimumCapacity: 1_000)
        #expect(table[42] == nil)
        let capacity = table.capacity
        #expect(capacity >= 1_000 && capacity < 2_000)
        for word: UInt64 in 0..<1_000 { _ = table.slot(of: word &* 0x9E37_79B9_7F4A_7C15) }
        #expect(table.capacity == capacity)
        #expect(table.count == 1_000)
        #expect(table[3 &* 0x9E37_79B9_7F4A_7C15] == 3)
        #expect(SlotTable<UInt64>()[0] == nil)
    }

    @Test("Two tables hold the same slots whatever their seeds")
    func seedsDoNotShowThrough() {
        var first = SlotTable<PackedKey>()
        var second = SlotTable<PackedKey>()
        for index: UInt64 in 0..<5_000 {
            let key = PackedKey(high: index % 97, low: index * 31)
            #expect(first.slot(of: key) == second.slot(of: key))
        }
        #expect(first.keys == second.keys)
    }

    @Test("Probes read ahead: stale after inserts into the same bucket or a growth, still the same slots")
    func probesAhead() {
        // Colliding keys: every probe reads the same empty first bucket before any insert.
        var colliding = SlotTable<CollidingKey>()
        let early = (0..<40).map { colliding.probe(CollidingKey(value: $0)) }
        for value in 0..<40 { #expect(colliding.slot(of: CollidingKey(value: value), probe: early[value]) == (UInt32(value), true)) }
        let late = (0..<40).map { colliding.probe(CollidingKey(value: $0)) }
        for value in 0..<40 { #expect(colliding.slot(of: CollidingKey(value: value), probe: late[value]) == (UInt32(value), false)) }

        // A small table probed for many keys grows while they go in.
        var table = SlotTable<PackedKey>()
        var reference = SlotTable<PackedKey>()
        let keys = (0..<5_000).map { PackedKey(high: UInt64($0 % 700), low: UInt64($0 % 1_300)) }
        var start = 0
        while start < keys.count {
            let run = keys[start..<min(start + 500, keys.count)]
            let probes = run.map { table.probe($0) }
            for (key, probe) in zip(run, probes) { #expect(table.slot(of: key, probe: probe) == reference.slot(of: key)) }
            start += 500
        }
        #expect(table.keys == reference.keys)
    }
}
