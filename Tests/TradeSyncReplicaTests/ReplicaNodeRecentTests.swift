import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// `count` puts on distinct keys, the n-th worth n + `first` dollars, as one local append.
private func append(_ node: inout ReplicaNode<MemoryStore>, _ count: Int, first: Int) throws {
    var writes: [(key: TradeKey, operation: Operation)] = []
    for index in first..<(first + count) {
        let base = testKey(index)
        let key = try TradeKey(
            reporter: base.reporter, partner: base.partner, flow: base.flow, commodity: base.commodity,
            period: try Period(year: 1900 + index % 300, month: (index / 300) % 13))
        writes.append((key, .put(TradeValues(valueUSD: ExactDecimal(Int64(index + 1))))))
    }
    _ = try node.stageLocal(writes, nowMs: 1_700_000_000_000)
}

@Suite struct ReplicaNodeRecentTests {
    /// The last append is served from memory (``ReplicaNode/recentOwn``); whatever the
    /// request, a fetch must equal what the store itself holds, seals included.
    @Test("Fetch: the last local append comes from memory, equal to the store's copy, for every starting seq")
    func recentAppendEqualsStore() throws {
        let signer = try ChainSigner(rawPrivateKey: [UInt8](repeating: 0x42, count: 32))
        let store = MemoryStore()
        var node = try ReplicaNode(localID: signer.origin, store: store)
        node.signer = signer
        try append(&node, 30, first: 0)
        try append(&node, 40, first: 30)
        #expect(node.recentOwn.count == 40 && node.recentOwn.first?.entry.dot.seq == 31)
        for after in UInt64(0)...70 {
            var vector = VersionVector()
            if after > 0 { vector.add(Dot(origin: signer.origin, seq: after)) }
            for limit in [1, 7, 100] {
                let fetched = try node.fetch(after: vector, entriesMax: limit, bytesMax: 1 << 20)
                let held = try store.sealedEntries(origin: signer.origin, after: after, limit: 100).map { SignedEntry($0) }
                // A fetch ends its run at a seal: it is a prefix of what the store holds.
                #expect(fetched == Array(held.prefix(fetched.count)), "after \(after), limit \(limit)")
                #expect(fetched.count >= min(limit, held.count), "after \(after), limit \(limit)")
                #expect(fetched.last.map { $0.signature != nil } ?? held.isEmpty, "after \(after), limit \(limit)")
            }
        }
    }

    @Test("Fetch: an append above recentOwnMax is not kept in memory; fetches read the store")
    func largeAppendNotKept() throws {
        let store = MemoryStore()
        let local = try #require(NodeID(bytes: [UInt8](repeating: 0x51, count: NodeID.byteCount)))
        var node = try ReplicaNode(localID: local, store: store)
        try append(&node, 10, first: 0)
        #expect(node.recentOwn.count == 10)
        try append(&node, ReplicaNode<MemoryStore>.recentOwnMax + 1, first: 10)
        #expect(node.recentOwn.isEmpty)
        var vector = VersionVector()
        vector.add(Dot(origin: local, seq: 5))
        let fetched = try node.fetch(after: vector, entriesMax: 20, bytesMax: 1 << 20)
        let held = try store.sealedEntries(origin: local, after: 5, limit: 20).map { SignedEntry($0) }
        #expect(fetched == held)
    }

    @Test("Reserve: a catch-up reserves the keys the peer's vector is ahead by, capped; the table then takes them without growing")
    func reserveForCatchUp() throws {
        let local = try #require(NodeID(bytes: [UInt8](repeating: 0x61, count: NodeID.byteCount)))
        let peer = try #require(NodeID(bytes: [UInt8](repeating: 0x62, count: NodeID.byteCount)))
        var node = try ReplicaNode(localID: local, store: MemoryStore())
        try append(&node, 100, first: 0)
        var peerVector = VersionVector()
        peerVector.add(Dot(origin: local, seq: 100))  // nothing ahead at this origin
        for seq in UInt64(1)...3_000 { peerVector.add(Dot(origin: peer, seq: seq)) }
        node.reserve(forCatchUpFrom: peerVector)
        let capacity = node.replica.keys.capacity
        #expect(capacity >= 3_100 && capacity < 4 * 3_100, "capacity \(capacity)")
        try append(&node, 3_000, first: 100)  // 3,100 distinct keys in all
        #expect(node.replica.keys.count == 3_100)
        #expect(node.replica.keys.capacity == capacity, "the table grew: \(capacity) → \(node.replica.keys.capacity)")
        // A claim far beyond reason (two counters whose sum overflows) reserves at most reserveKeysMax.
        var huge = VersionVector()
        huge.add(Dot(origin: peer, seq: UInt64.max / 2 + 2))
        huge.add(Dot(origin: local, seq: UInt64.max / 2 + 2))
        #expect(huge.entriesAhead(of: VersionVector()) == UInt64.max)
        var other = try ReplicaNode(localID: local, store: MemoryStore())
        other.reserve(forCatchUpFrom: huge)
        let capped = other.replica.keys.capacity
        #expect(capped >= ReplicaNode<MemoryStore>.reserveKeysMax && capped < 4 * ReplicaNode<MemoryStore>.reserveKeysMax)
    }
}
