import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

/// Fork detection in the session: HEADS after VECTOR, `.peerHeads` to the node, and
/// `.resend` sending an origin again from the differing dot.
@Suite struct HeadsSessionTests {
    let local: NodeID
    let peer: NodeID
    let third: NodeID

    init() throws {
        local = try node(0x0A)
        peer = try node(0x0B)
        third = try node(0x0C)
    }

    @Test("Session: heads given after connect go out as HEADS right after our VECTOR; the peer's HEADS become .peerHeads")
    func exchange() throws {
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 7, versions: 1...1))
        _ = session.handle(.connected(localVector: VersionVector([third: 3]), now: .zero))
        let ours = [Head(origin: third, seq: 3, hashPrefix: 0xAA)]
        #expect(session.handle(.heads(ours)).count == 1)  // only the wake-up
        let theirs = [Head(origin: third, seq: 2, hashPrefix: 0xBB)]
        let bytes = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 9)).encoded()
            + Message.vector(VersionVector([third: 2])).encoded() + Message.heads(theirs).encoded()
        let outputs = session.handle(.received(bytes, now: .zero))
        #expect(try sentMessages(outputs) == [.vector(VersionVector([third: 3])), .heads(ours)])
        #expect(events(outputs).contains(.peerHeads(theirs)))
        // A second HEADS breaks the rules.
        let again = session.handle(.received(Message.heads(theirs).encoded(), now: .zero))
        #expect(again.last == .close(.protocolViolation("second HEADS")))
    }

    @Test("Session: .resend sends the origin again from the differing dot, though the peer's vector covers it")
    func resend() throws {
        var (session, _) = handshaken(
            local: local, peer: peer, localVector: VersionVector([third: 5]), peerVector: VersionVector([third: 5]))
        // The first fetch (nothing to send: the peer holds all of it) comes back empty.
        _ = session.handle(.fetched(signed([])))
        let outputs = session.handle(.resend(origin: third, fromSeq: 4))
        #expect(events(outputs) == [
            .fetch(after: VersionVector([third: 3]), entriesMax: Limits.batchEntriesMax, bytesMax: Limits.batchBytesMax),
        ])
        let sent = session.handle(.fetched(signed(try (4...5).map { try makeEntry(third, $0) })))
        let batches = try sentMessages(sent).compactMap { if case .batch(let batch) = $0 { batch } else { nil } }
        #expect(try batches.first?.decodeEntries().map(\.dot.seq) == [4, 5])
    }

    @Test("Session: both announce HEADS: nothing streams until the peer's heads are compared; a differing dot is sent again first")
    func waitsForHeads() throws {
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 7, versions: 1...1))
        _ = session.handle(.connected(localVector: VersionVector([third: 5]), now: .zero))
        _ = session.handle(.heads([Head(origin: third, seq: 5, hashPrefix: 0xAA)]))
        let hello = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 9, features: HeadsFeature.bit))
        let vector = session.handle(.received(hello.encoded() + Message.vector(VersionVector([third: 4])).encoded(), now: .zero))
        #expect(!events(vector).contains { if case .fetch = $0 { true } else { false } })
        let theirs = [Head(origin: third, seq: 4, hashPrefix: 0xBB)]
        let heads = session.handle(.received(Message.heads(theirs).encoded(), now: .zero))
        #expect(events(heads) == [.peerHeads(theirs)])
        // Our entry at third:4 differs: stream from seq 4, not 5.
        let compared = session.handle(.headsCompared(resend: [Dot(origin: third, seq: 4)]))
        #expect(events(compared) == [
            .fetch(after: VersionVector([third: 3]), entriesMax: Limits.batchEntriesMax, bytesMax: Limits.batchBytesMax),
        ])
    }

    @Test("Session: a peer that announced HEADS but never sends them is dropped at the handshake deadline")
    func headsNeverCome() throws {
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 7, versions: 1...1))
        _ = session.handle(.connected(localVector: VersionVector(), now: .zero))
        let hello = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 9, features: HeadsFeature.bit))
        let outputs = session.handle(.received(hello.encoded() + Message.vector(VersionVector()).encoded(), now: .zero))
        #expect(outputs.last == .wakeAt(MonotonicInstant(nanoseconds: 10_000_000_000)))
        let late = session.handle(.timer(now: MonotonicInstant(nanoseconds: 10_000_000_000)))
        #expect(late.last == .close(.handshakeTimeout(.seconds(10))))
    }

    @Test("Session: .sendEvidence sends both copies of a forked dot, one BATCH each, ahead of fetched entries")
    func evidence() throws {
        var (session, _) = handshaken(
            local: local, peer: peer, localVector: VersionVector([third: 5]), peerVector: VersionVector([third: 5]))
        _ = session.handle(.fetched(signed([])))
        let held = try makeEntry(third, 4)
        let other = Entry(dot: held.dot, hlc: held.hlc, context: held.context, key: held.key, operation: .delete)
        let outputs = session.handle(.sendEvidence([held, other]))
        let batches = try sentMessages(outputs).compactMap { if case .batch(let batch) = $0 { batch } else { nil } }
        #expect(batches.count == 2)
        #expect(try batches.map { try $0.decodeEntries() } == [[held], [other]])
        #expect(batches.map(\.id.rawValue) == [1, 2])
    }
}
