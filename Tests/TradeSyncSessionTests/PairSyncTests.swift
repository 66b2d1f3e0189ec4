import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

@Suite struct PairSyncTests {
    let idA: NodeID
    let idB: NodeID
    let idC: NodeID

    init() throws {
        idA = try node(0xAA)
        idB = try node(0xBB)
        idC = try node(0xCC)
    }

    /// A holds 6,000 of its own entries and 4,000 from C; B holds A's first 5 and 3 of its own.
    func stores() throws -> (MemoryStore, MemoryStore) {
        var a = MemoryStore()
        a.append(try (1...6_000).map { try makeEntry(idA, $0) })
        a.append(try (1...4_000).map { try makeEntry(idC, $0) })
        var b = MemoryStore()
        b.append(try (1...5).map { try makeEntry(idA, $0) })
        b.append(try (1...3).map { try makeEntry(idB, $0) })
        return (a, b)
    }

    @Test("Session: two sessions back to back: 10,000 entries converge in full batches, both in sync, ACKs after persists")
    func convergence() throws {
        let (storeA, storeB) = try stores()
        var pair = Pair(a: Side(id: idA, store: storeA), b: Side(id: idB, store: storeB))
        pair.connect()
        pair.run()
        #expect(pair.a.store.count == 10_003)
        #expect(pair.a.store.dots == pair.b.store.dots)
        #expect(pair.a.store.vector == VersionVector([idA: 6_000, idB: 3, idC: 4_000]))
        #expect(pair.b.store.vector == pair.a.store.vector)
        #expect(pair.a.trace.contains(.inSync(idB)))
        #expect(pair.b.trace.contains(.inSync(idA)))
        #expect(pair.a.closes.isEmpty && pair.b.closes.isEmpty)
        // 9,995 entries in batches of up to 4,096: three batches, not one round trip per entry.
        #expect(pair.a.sent(.batch) == [1, 2, 3])
        #expect(pair.b.sent(.batch) == [1])
        #expect(pair.b.sent(.ack) == [1, 2, 3])
        #expect(pair.a.sent(.ack) == [1])
        pair.a.checkAcksFollowPersists()
        pair.b.checkAcksFollowPersists()
        #expect(pair.a.session.counters.entriesSent == 9_995)
        #expect(pair.b.session.counters.entriesReceived == 9_995)
        #expect(pair.b.session.counters.entriesSent == 3)
        #expect(Set(pair.b.receivedDots).count == 9_995)
        // Deflate helps on these repetitive entries.
        let counters = pair.a.session.counters
        #expect(counters.payloadBytesSent * 2 < counters.uncompressedBytesSent)
        #expect(counters.bytesOut == pair.b.session.counters.bytesIn)
    }

    @Test("Session: after sync, a third-party entry added on A is pushed live to B")
    func thirdPartyLivePush() throws {
        let (storeA, storeB) = try stores()
        var pair = Pair(a: Side(id: idA, store: storeA), b: Side(id: idB, store: storeB))
        pair.connect()
        pair.run()
        let inSyncBefore = (pair.a.inSyncCount, pair.b.inSyncCount)
        let idD = try node(0xDD)
        pair.a.store.append([try makeEntry(idD, 1)])
        pair.a.inbox.append(.localEntries(pair.a.store.vector))
        pair.run()
        #expect(pair.b.store.vector[idD] == 1)
        #expect(pair.b.store.dots.contains(Dot(origin: idD, seq: 1)))
        #expect(pair.a.sent(.batch) == [1, 2, 3, 4])
        #expect(pair.b.sent(.ack) == [1, 2, 3, 4])
        #expect(pair.a.inSyncCount == inSyncBefore.0 + 1)
        #expect(pair.b.store.dots == pair.a.store.dots)
        pair.b.checkAcksFollowPersists()
    }

    @Test("Session: reconnect: only entries not yet acknowledged are sent again")
    func reconnectResendsOnlyUnacknowledged() throws {
        let (storeA, storeB) = try stores()
        var pair = Pair(a: Side(id: idA, store: storeA), b: Side(id: idB, store: storeB))
        pair.connect()
        // Cut the connection once A has its first ACK; batches B has not persisted are lost.
        pair.run { $0.b.sent(.ack).count >= 1 }
        let acknowledged = pair.b.store.dots
        #expect(pair.b.store.count > 8 && pair.b.store.count < 10_003)
        let missing = pair.a.store.dots.subtracting(acknowledged)
        #expect(!missing.isEmpty)

        var second = Pair(a: Side(id: idA, store: pair.a.store), b: Side(id: idB, store: pair.b.store))
        second.connect()
        second.run()
        let resent = second.b.receivedDots
        #expect(resent.count == missing.count)
        #expect(Set(resent) == missing)
        #expect(Set(resent).isDisjoint(with: acknowledged))
        #expect(second.b.store.dots == second.a.store.dots)
        #expect(second.a.trace.contains(.inSync(idB)) && second.b.trace.contains(.inSync(idA)))
    }
}
