import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

@Suite struct FlowTests {
    let local: NodeID
    let peer: NodeID

    init() throws {
        local = try node(0x0A)
        peer = try node(0x0B)
    }

    func batchBytes(_ id: UInt64, _ seqs: ClosedRange<UInt64>, origin: NodeID? = nil) throws -> [UInt8] {
        let entries = try seqs.map { try makeEntry(origin ?? peer, $0) }
        return Message.batch(BatchMessage(id: BatchID(rawValue: id), entries: entries)).encoded()
    }

    /// A handshaken session whose initial fetch came back empty.
    func ready() -> SyncSession {
        var (session, _) = handshaken(local: local, peer: peer)
        _ = session.handle(.fetched(signed([])))
        return session
    }

    @Test("Session: received batches: persist requested, no ACK until persisted, ACKs in batch order")
    func ackAfterPersist() throws {
        var session = ready()
        let received = session.handle(.received(try batchBytes(1, 1...3) + batchBytes(2, 4...5), now: .zero))
        #expect(try sentMessages(received) == [])
        // Each batch: persist it, then report that the peer holds what it sent.
        #expect(events(received) == [
            .persist(signed(try (1...3).map { try makeEntry(peer, $0) }), BatchID(rawValue: 1)),
            .peerVector(VersionVector([peer: 3])),
            .persist(signed(try (4...5).map { try makeEntry(peer, $0) }), BatchID(rawValue: 2)),
            .peerVector(VersionVector([peer: 5])),
        ])
        // Batch 2 persisted first: nothing may be acknowledged yet.
        let second = session.handle(.persisted(BatchID(rawValue: 2), localVector: VersionVector([peer: 5])))
        #expect(try sentMessages(second) == [])
        let first = session.handle(.persisted(BatchID(rawValue: 1), localVector: VersionVector([peer: 3])))
        #expect(try sentMessages(first) == [
            .ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector([peer: 5]))),
            .ack(Ack(batchID: BatchID(rawValue: 2), vector: VersionVector([peer: 5]))),
        ])
        // A repeated or unknown .persisted acknowledges nothing.
        #expect(try sentMessages(session.handle(.persisted(BatchID(rawValue: 1), localVector: VersionVector([peer: 5])))) == [])
        #expect(try sentMessages(session.handle(.persisted(BatchID(rawValue: 9), localVector: VersionVector([peer: 5])))) == [])
        #expect(session.counters.batchesReceived == 2)
        #expect(session.counters.entriesReceived == 5)
    }

    @Test("Session: received batches are not echoed back to the peer that sent them")
    func noEcho() throws {
        var session = ready()
        _ = session.handle(.received(try batchBytes(1, 1...3), now: .zero))
        let persisted = session.handle(.persisted(BatchID(rawValue: 1), localVector: VersionVector([peer: 3])))
        // Still in sync (the peer holds all we hold), so no second inSync and no fetch.
        #expect(events(persisted) == [])
        #expect(try sentMessages(persisted).map(\.type) == [.ack])
    }

    @Test("Session: protocol violations from the peer: ERROR with the reason, then close",
          arguments: [
            (1, "BATCH 2 out of order, expected 1"),
            (2, "ACK for batch 1 with no batch in flight"),
            (3, "BATCH 1: origin 0b0b0b0b0b0b starts at seq 4, but only 0 are held (gap)"),
            (4, "second VECTOR"),
            (5, "PONG with nonce 1, but the last PING sent had nonce 0"),
          ])
    func violations(kind: Int, reason: String) throws {
        var session = ready()
        let bytes: [UInt8] = switch kind {
        case 1: try batchBytes(2, 1...1)
        case 2: Message.ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector())).encoded()
        case 3: try batchBytes(1, 4...5)
        case 4: Message.vector(VersionVector()).encoded()
        default: Message.pong(nonce: 1).encoded()
        }
        let outputs = session.handle(.received(bytes, now: .zero))
        let error = SyncError.protocolViolation(reason)
        #expect(try sentMessages(outputs) == [.error(ErrorMessage(code: .unexpectedMessage, reason: error.description))])
        #expect(outputs.last == .close(error))
        #expect(events(outputs).count == 1)
    }

    @Test("Session: one received chunk with HELLO, VECTOR and a 100 KB plain batch is handled whole")
    func largeChunk() throws {
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 1, versions: 1...1))
        _ = session.handle(.connected(localVector: VersionVector(), now: .zero))
        let entries = try (1...1000).map { try makeEntry(peer, $0) }
        var writer = ByteWriter()
        for entry in entries { writer.writeLengthPrefixed(entry.encoded()) }
        let plain = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 1000, isDeflated: false, uncompressedLength: writer.bytes.count,
            payload: writer.bytes)
        let chunk = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 2)).encoded()
            + Message.vector(VersionVector()).encoded() + Message.batch(plain).encoded() + Message.ping(nonce: 5).encoded()
        #expect(chunk.count > 100_000)
        let outputs = session.handle(.received(chunk, now: .zero))
        #expect(events(outputs).contains(.persist(signed(entries), BatchID(rawValue: 1))))
        #expect(try sentMessages(outputs).map(\.type) == [.vector, .heads, .pong])
        #expect(session.counters.framesIn == 4)
        #expect(session.counters.bytesIn == UInt64(chunk.count))
    }

    @Test("Session: a peer continuing an origin right after the entries we sent it is not a gap")
    func continueAfterSent() throws {
        let third = try node(0x0C)
        // The node's reported vector lags its log: it holds C 1...3 but said nothing yet.
        var (session, _) = handshaken(local: local, peer: peer)
        let sent = session.handle(.fetched(signed(try (1...3).map { try makeEntry(third, $0) })))
        #expect(try sentMessages(sent).map(\.type) == [.batch])
        let received = session.handle(.received(try batchBytes(1, 4...5, origin: third), now: .zero))
        #expect(events(received) == [
            .persist(signed(try (4...5).map { try makeEntry(third, $0) }), BatchID(rawValue: 1)),
            .peerVector(VersionVector([third: 5])),
        ])
        let gap = session.handle(.received(try batchBytes(2, 7...7, origin: third), now: .zero))
        #expect(gap.last == .close(.protocolViolation(
            "BATCH 2: origin 0c0c0c0c0c0c starts at seq 7, but only 5 are held (gap)")))
    }

    @Test("Session: a fifth unacknowledged batch exceeds the window and is refused")
    func receiveWindow() throws {
        var session = ready()
        var bytes: [UInt8] = []
        for id in 1...5 { bytes += try batchBytes(UInt64(id), UInt64(id)...UInt64(id)) }
        let outputs = session.handle(.received(bytes, now: .zero))
        #expect(events(outputs).filter { if case .persist = $0 { true } else { false } }.count == 4)
        #expect(outputs.last == .close(.windowExceeded(batchID: 5, windowBatchesMax: 4)))
    }

    @Test("Session: with window-16 in both HELLOs sixteen unacknowledged batches are taken and a seventeenth refused; with it in ours only, four and the fifth", arguments: [true, false])
    func wideReceiveWindow(peerAnnounces: Bool) throws {
        var (session, _) = handshaken(
            local: local, peer: peer, peerFeatures: peerAnnounces ? WideWindowFeature.bit : 0)
        _ = session.handle(.fetched(signed([])))
        let window = peerAnnounces ? Limits.windowBatchesMaxWide : Limits.windowBatchesMax
        #expect(window == (peerAnnounces ? 16 : 4))
        var bytes: [UInt8] = []
        for id in 1...(window + 1) { bytes += try batchBytes(UInt64(id), UInt64(id)...UInt64(id)) }
        let outputs = session.handle(.received(bytes, now: .zero))
        #expect(events(outputs).filter { if case .persist = $0 { true } else { false } }.count == window)
        #expect(outputs.last == .close(.windowExceeded(batchID: UInt64(window + 1), windowBatchesMax: window)))
        let refusal = SyncError.windowExceeded(batchID: UInt64(window + 1), windowBatchesMax: window)
        let name = peerAnnounces ? "windowBatchesMaxWide" : "windowBatchesMax"
        #expect(refusal.limitName == name)
        #expect(refusal.description == "BATCH \(window + 1) beyond the window: \(name) = \(window) batches already unacknowledged")
    }

    @Test("Session: sending: with window-16 in both HELLOs sixteen one-entry batches go out before an ACK; with it in ours only, four", arguments: [true, false])
    func wideSendWindow(peerAnnounces: Bool) throws {
        let entries = try (1...20).map { try makeEntry(local, $0) }
        var (session, _) = handshaken(
            local: local, peer: peer, localVector: VersionVector([local: 20]),
            peerFeatures: peerAnnounces ? WideWindowFeature.bit : 0
        ) { $0.batchEntriesMax = 1 }
        var sent = 0
        for entry in entries {
            let outputs = session.handle(.fetched(signed([entry])))
            sent += try sentMessages(outputs).filter { $0.type == .batch }.count
            // A full window asks for nothing more until an ACK.
            if events(outputs).isEmpty { break }
        }
        #expect(sent == (peerAnnounces ? 16 : 4))
        #expect(session.counters.batchesSent == UInt64(sent))
    }

    @Test("Session: unknown message type after the handshake: ERROR unknownMessageType and close")
    func unknownType() throws {
        var session = ready()
        let outputs = session.handle(.received(Frame(type: 0x42, body: [1]).encoded(), now: .zero))
        #expect(try sentMessages(outputs) == [
            .error(ErrorMessage(code: .unknownMessageType, reason: "unknown message type 0x42")),
        ])
        #expect(outputs.last == .close(.wire(.unknownMessageType(0x42))))
    }

    @Test("Session: a corrupt deflated batch: ERROR compression and close")
    func corruptBatch() throws {
        var session = ready()
        let entries = try (1...20).map { try makeEntry(peer, $0) }
        let good = BatchMessage(id: BatchID(rawValue: 1), entries: entries)
        #expect(good.isDeflated)
        var payload = good.payload
        payload[0] = 0x79
        let bad = BatchMessage(
            id: good.id, entryCount: good.entryCount, isDeflated: true, uncompressedLength: good.uncompressedLength,
            payload: payload)
        let outputs = session.handle(.received(Message.batch(bad).encoded(), now: .zero))
        guard case .error(let error)? = try sentMessages(outputs).first else { return #expect(Bool(false), "no ERROR") }
        #expect(error.code == .compression)
        #expect(outputs.last == .close(.wire(.zlibCorrupt(reason: "incorrect header check"))))
    }

    @Test("Session: sending: at most windowBatches in flight, the next fetch follows an ACK")
    func sendWindow() throws {
        let entries = try (1...9).map { try makeEntry(local, $0) }
        var (session, start) = handshaken(local: local, peer: peer, localVector: VersionVector([local: 9])) {
            $0.batchEntriesMax = 2
            $0.windowBatches = 2
        }
        #expect(events(start).last == .fetch(after: VersionVector(), entriesMax: 2, bytesMax: Limits.batchBytesMax))
        // The node answers with more than asked: the session sends only the first two.
        let first = session.handle(.fetched(signed(entries)))
        #expect(try sentMessages(first).map(\.type) == [.batch])
        #expect(events(first) == [.fetch(after: VersionVector([local: 2]), entriesMax: 2, bytesMax: Limits.batchBytesMax)])
        let second = session.handle(.fetched(signed(Array(entries[2...3]))))
        #expect(try sentMessages(second).map(\.type) == [.batch])
        #expect(events(second) == [])  // window full: no fetch
        let ack = session.handle(.received(
            Message.ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector([local: 2]))).encoded(), now: .zero))
        #expect(events(ack) == [
            .peerVector(VersionVector([local: 2])),
            .fetch(after: VersionVector([local: 4]), entriesMax: 2, bytesMax: Limits.batchBytesMax),
        ])
        // An ACK for batch 3 while batch 2 is the oldest in flight is a violation.
        _ = session.handle(.fetched(signed(Array(entries[4...5]))))
        let wrong = session.handle(.received(
            Message.ack(Ack(batchID: BatchID(rawValue: 3), vector: VersionVector())).encoded(), now: .zero))
        #expect(wrong.last == .close(.protocolViolation("ACK for batch 3, expected batch 2 (oldest unacknowledged)")))
        #expect(session.counters.batchesSent == 3)
        #expect(session.counters.entriesSent == 6)
    }

    @Test("Session: entries acknowledged while a fetch was outstanding are not sent")
    func ackedDuringFetch() throws {
        let entries = try (1...6).map { try makeEntry(local, $0) }
        var (session, _) = handshaken(local: local, peer: peer, localVector: VersionVector([local: 6])) {
            $0.batchEntriesMax = 3
        }
        let first = session.handle(.fetched(signed(Array(entries[0...2]))))
        #expect(events(first) == [.fetch(after: VersionVector([local: 3]), entriesMax: 3, bytesMax: Limits.batchBytesMax)])
        // The ACK says the peer already has up to 5 (from a third node, say).
        _ = session.handle(.received(
            Message.ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector([local: 5]))).encoded(), now: .zero))
        let second = session.handle(.fetched(signed(Array(entries[3...5]))))
        guard case .batch(let batch)? = try sentMessages(second).first else { return #expect(Bool(false), "no BATCH") }
        #expect(try batch.decodeEntries().map(\.dot.seq) == [6])
    }

    @Test("Session: keep-alive: PING after pingInterval of sending nothing, PONG for PING, idle timeout closes")
    func keepAlive() throws {
        var session = ready()
        let second = MonotonicInstant(nanoseconds: 1_000_000_000)
        // Last send was the VECTOR at 0: next wake is the ping at 15 s.
        #expect(session.handle(.timer(now: .zero)).last == .wakeAt(MonotonicInstant(nanoseconds: 15_000_000_000)))
        let ping = session.handle(.timer(now: MonotonicInstant(nanoseconds: 15 * second.nanoseconds)))
        #expect(try sentMessages(ping) == [.ping(nonce: 1)])
        #expect(ping.last == .wakeAt(MonotonicInstant(nanoseconds: 30 * second.nanoseconds)))
        let pong = session.handle(.received(Message.pong(nonce: 1).encoded(), now: MonotonicInstant(nanoseconds: 16 * second.nanoseconds)))
        #expect(pong == [.wakeAt(MonotonicInstant(nanoseconds: 30 * second.nanoseconds))])
        let answer = session.handle(.received(Message.ping(nonce: 77).encoded(), now: MonotonicInstant(nanoseconds: 17 * second.nanoseconds)))
        #expect(try sentMessages(answer) == [.pong(nonce: 77)])
        // Silence from the peer since 17 s: closed at 62 s.
        _ = session.handle(.timer(now: MonotonicInstant(nanoseconds: 40 * second.nanoseconds)))
        let idle = session.handle(.timer(now: MonotonicInstant(nanoseconds: 62 * second.nanoseconds)))
        #expect(idle.last == .close(.idleTimeout(.seconds(45))))
        #expect(try sentMessages(idle) == [
            .error(ErrorMessage(code: .timeout, reason: "nothing received from the peer for idleTimeout = 45 s")),
        ])
    }

    @Test("Session: local entries after sync: fetched, sent, and in sync again after the ACK")
    func livePush() throws {
        var session = ready()
        let push = session.handle(.localEntries(VersionVector([local: 1])))
        #expect(events(push) == [.fetch(after: VersionVector(), entriesMax: Limits.batchEntriesMax, bytesMax: Limits.batchBytesMax)])
        let sent = session.handle(.fetched(signed([try makeEntry(local, 1)])))
        #expect(try sentMessages(sent).map(\.type) == [.batch])
        let ack = session.handle(.received(
            Message.ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector([local: 1]))).encoded(), now: .zero))
        #expect(events(ack) == [.peerVector(VersionVector([local: 1])), .inSync(peer: peer)])
        // The vector did not grow beyond what the peer has: no fetch, no second inSync.
        #expect(events(session.handle(.localEntries(VersionVector([local: 1])))) == [])
    }
}
