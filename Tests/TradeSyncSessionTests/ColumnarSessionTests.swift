import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

/// Protocol v3 (columnar BATCH payloads) against v3 and against v2 peers.
@Suite struct ColumnarSessionTests {
    static let ranges: [(a: ClosedRange<UInt16>, b: ClosedRange<UInt16>, chosen: UInt16)] = [
        (2...3, 2...3, 3), (2...2, 2...3, 2), (2...3, 2...2, 2), (3...3, 2...3, 3),
    ]

    /// Syncs 6,000 entries of A's and 3 of B's between sessions speaking `a` and `b`.
    static func sync(_ a: ClosedRange<UInt16>, _ b: ClosedRange<UInt16>) throws -> Pair {
        let idA = try node(0xAA)
        let idB = try node(0xBB)
        var storeA = MemoryStore()
        storeA.append(try (1...6_000).map { try makeEntry(idA, $0) })
        var storeB = MemoryStore()
        storeB.append(try (1...3).map { try makeEntry(idB, $0) })
        var pair = Pair(a: Side(id: idA, store: storeA, versions: a), b: Side(id: idB, store: storeB, versions: b))
        pair.connect()
        pair.run()
        return pair
    }

    @Test("Session: v3 and v2 peers in every pairing negotiate the highest common version and converge", arguments: 0..<4)
    func pairings(number: Int) throws {
        let (a, b, chosen) = Self.ranges[number]
        let pair = try Self.sync(a, b)
        #expect(pair.a.trace.contains(.handshake(peer: try node(0xBB), version: chosen)))
        #expect(pair.b.trace.contains(.handshake(peer: try node(0xAA), version: chosen)))
        #expect(pair.a.closes.isEmpty && pair.b.closes.isEmpty)
        #expect(pair.a.store.count == 6_003)
        #expect(pair.b.store.vector == pair.a.store.vector)
        #expect(pair.a.store.dots == pair.b.store.dots)
        #expect(pair.b.session.counters.entriesReceived == 6_000)
    }

    @Test("Session: v3 sends the same entries in fewer payload bytes than v2 (columnar, not rows)")
    func columnarIsSmaller() throws {
        let v3 = try Self.sync(2...3, 2...3).a.session.counters
        let v2 = try Self.sync(2...2, 2...2).a.session.counters
        #expect(v3.entriesSent == v2.entriesSent)
        // These test entries are very regular, so rows deflate well already; columns still save a third.
        #expect(v3.payloadBytesSent * 3 < v2.payloadBytesSent * 2, "v3 \(v3.payloadBytesSent) B, v2 \(v2.payloadBytesSent) B")
        #expect(v3.uncompressedBytesSent < v2.uncompressedBytesSent)
    }

    @Test("Session: a columnar BATCH in a v2 session is refused as unexpected")
    func columnarInVersionTwo() throws {
        let local = try node(0x01)
        let peer = try node(0x02)
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 7, versions: 2...2))
        _ = session.handle(.connected(localVector: VersionVector(), now: MonotonicInstant(nanoseconds: 0)))
        let batch = BatchMessage(id: BatchID(rawValue: 1), signed: signed([try makeEntry(peer, 1)]), columnar: true)
        let bytes = Message.hello(Hello(versions: 2...2, nodeID: peer, logInstanceID: 9)).encoded()
            + Message.vector(VersionVector()).encoded() + Message.batch(batch).encoded()
        let outputs = session.handle(.received(bytes, now: MonotonicInstant(nanoseconds: 1)))
        guard case .close(let error)? = outputs.last else { return #expect(Bool(false), "not closed: \(outputs)") }
        #expect(error.description.contains("columnar"), "\(error)")
    }
}
