import TradeSyncModel

/// A key that a ``SlotTable`` can hold: equality plus a seeded 64-bit hash.
protocol SlotTableKey: Equatable, Sendable {
    /// The key's hash under `seed`: well mixed in every bit, and not predictable from the
    /// key without the seed.
    func mixed(_ seed: SlotTableSeed) -> UInt64
}

/// The two secret words a ``SlotTable`` keys its hash with, drawn from the system's random
/// generator when the table is made.
struct SlotTableSeed: Sendable {
    let first: UInt64
    let second: UInt64

    static func random() -> SlotTableSeed {
        var generator = SystemRandomNumberGenerator()
        return SlotTableSeed(first: generator.next(), second: generator.next())
    }

    /// The mixing step of wyhash (Wang Yi, wyhash version 4, `_wymix`): the 128-bit product of
    /// the two seeded words, its halves folded by xor; a second round spreads every input bit
    /// over the result. Equal inputs give equal outputs; the seed is what an attacker lacks.
    @inline(__always)
    func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let once = (a ^ first).multipliedFullWidth(by: b ^ second)
        let twice = (once.high ^ 0xA076_1D64_78BD_642F ^ first).multipliedFullWidth(by: once.low ^ 0xE703_7ED1_A0B4_28DB)
        return twice.high ^ twice.low
    }
}

extension UInt64: SlotTableKey {
    func mixed(_ seed: SlotTableSeed) -> UInt64 { seed.mix(self, 0x8EBC_6AF0_9C88_C6E3) }
}

extension PackedKey: SlotTableKey {
    func mixed(_ seed: SlotTableSeed) -> UInt64 { seed.mix(high, low) }
}

/// A map from distinct keys to dense slots 0, 1, 2, … in the order the keys were added:
/// the replica's key table (packed key → its slot in the state array) and the code tables'
/// index (a code's word → its position). Keys are never removed.
///
/// Open addressing with linear probing over a power-of-two bucket array kept at most 3/4
/// full (Knuth, *TAOCP* vol. 3, §6.4, algorithm L). A bucket is 8 bytes: the high 32 bits of
/// the key's hash (a tag) and the slot + 1 (0: empty), so a probe that meets another key is
/// told apart without reading that key. The keys lie in ``keys`` by slot, which is also the
/// order to iterate in: insertion order, the same on every run, where a dictionary's order
/// depends on its per-process seed.
///
/// Why not `[Key: UInt32]`: a catch-up or an import applies an entry per key, and for each
/// the dictionary's SipHash-1-3 (a `Hasher` set up and finalised per lookup) and its three
/// separate arrays (bitmap, keys, values) were ~a third of the apply (`perf` on a 1M-entry
/// catch-up). Here: one multiply-based hash, and usually one cache line of buckets plus
/// the key. Memory: 8 bytes per bucket (≤ 2 buckets per key) beside the 16-byte key,
/// against the dictionary's 20 bytes per bucket.
///
/// The hash is keyed by a random ``SlotTableSeed`` per table: keys come from peers, so
/// which keys collide must not be predictable from the keys alone (hash flooding).
struct SlotTable<Key: SlotTableKey>: Sendable {
    /// Every key, by slot. Chunked, as the buckets: a checkpoint's copy of the table costs
    /// a later insert one chunk, not the whole table (``ChunkedArray``).
    private(set) var keys = ChunkedArray<Key>()
    /// Tag (high 32 bits) and slot + 1 (low 32 bits) per bucket, 0 when empty; the count is
    /// 0 or a power of two.
    private var buckets = ChunkedArray<UInt64>()
    private let seed: SlotTableSeed

    /// An empty table with room for `minimumCapacity` keys.
    init(minimumCapacity: Int = 0) {
        seed = .random()
        reserveCapacity(minimumCapacity)
    }

    /// How many keys the table holds.
    var count: Int { keys.count }

    /// How many keys fit before the buckets grow.
    var capacity: Int { buckets.count / 4 * 3 }

    /// The slot of `key`, or nil when it was never added.
    subscript(key: Key) -> UInt32? { self[key, probe: Probe(hash: key.mixed(seed), first: 0, bucketCount: 0)] }

    /// ``subscript(_:)`` with `key`'s ``probe(_:)``, taken on this table.
    subscript(key: Key, probe probe: Probe) -> UInt32? {
        guard !buckets.isEmpty else { return nil }
        return search(key, probe).found
    }

    /// Follows `key`'s probe run to its end: the key's slot and bucket when the run meets
    /// it, else nil and the empty bucket that ends the run (where the key would go). A bucket, once filled,
    /// changes only when the table grows, so a filled first bucket read by ``probe(_:)`` is
    /// used as read; an empty one is read again (an insert may have filled it since).
    /// - Precondition: the table has buckets (at most 3/4 of them filled, so the run ends).
    private func search(_ key: Key, _ probe: Probe) -> (found: UInt32?, end: Int) {
        let hash = probe.hash
        let mask = buckets.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        var bucket = probe.first != 0 && probe.bucketCount == buckets.count ? probe.first : buckets[index]
        while bucket != 0 {
            if bucket >> 32 == hash >> 32, keys[Int(truncatingIfNeeded: bucket & 0xFFFF_FFFF) - 1] == key {
                return (UInt32(truncatingIfNeeded: bucket) - 1, index)
            }
            index = (index + 1) & mask
            bucket = buckets[index]
        }
        return (nil, index)
    }

    /// The slot of `key`, added as slot ``count`` when the table lacks it: one hash and one
    /// probe run either way.
    /// - Precondition: fewer than 2^32 − 1 keys.
    mutating func slot(of key: Key) -> (slot: UInt32, isNew: Bool) {
        slot(of: key, probe: Probe(hash: key.mixed(seed), first: 0, bucketCount: 0))
    }

    /// A key's hash and its first bucket, read ahead of ``slot(of:probe:)``.
    struct Probe {
        let hash: UInt64
        /// The bucket the probe starts at, as read then (0: empty, or not read).
        let first: UInt64
        /// The bucket count then: the read stands while the table has not grown since.
        let bucketCount: Int
    }

    /// Hashes `key` and reads the bucket its probe starts at. Probing a run of keys first
    /// and inserting them after turns a cache miss per insert, taken one after another,
    /// into independent loads the CPU overlaps (memory-level parallelism): on a 1M-key
    /// table that is most of an insert's cost.
    func probe(_ key: Key) -> Probe {
        let hash = key.mixed(seed)
        guard !buckets.isEmpty else { return Probe(hash: hash, first: 0, bucketCount: 0) }
        return Probe(hash: hash, first: buckets[Int(truncatingIfNeeded: hash) & (buckets.count - 1)], bucketCount: buckets.count)
    }

    /// ``slot(of:)`` with `key`'s ``probe(_:)``, taken on this table.
    mutating func slot(of key: Key, probe: Probe) -> (slot: UInt32, isNew: Bool) {
        if keys.count >= capacity { grow(toHold: keys.count + 1) }
        let (found, index) = search(key, probe)
        if let found { return (found, false) }
        precondition(keys.count < Int(UInt32.max) - 1, "slot table full")
        let slot = UInt32(keys.count)
        buckets[index] = probe.hash & 0xFFFF_FFFF_0000_0000 | UInt64(slot + 1)
        keys.append(key)  // chunk by chunk: at most one chunk of spare room
        return (slot, true)
    }

    /// Makes room for `count` keys in all, so that a bulk load grows the buckets once.
    mutating func reserveCapacity(_ count: Int) {
        if capacity < count { grow(toHold: count) }
        keys.reserveCapacity(count)
    }

    /// Rebuilds the buckets with room for `needed` keys: the smallest power of two at least
    /// 4/3 of it (16 or more), every key rehashed.
    private mutating func grow(toHold needed: Int) {
        var size = max(16, buckets.count)
        while size / 4 * 3 < needed { size *= 2 }
        var fresh = ChunkedArray<UInt64>(repeating: 0, count: size)
        let mask = size - 1
        for (slot, key) in keys.enumerated() {
            let hash = key.mixed(seed)
            var index = Int(truncatingIfNeeded: hash) & mask
            while fresh[index] != 0 { index = (index + 1) & mask }
            fresh[index] = hash & 0xFFFF_FFFF_0000_0000 | UInt64(slot + 1)
        }
        buckets = fresh
    }
}
