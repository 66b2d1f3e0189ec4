import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

/// Regression for the stall the deterministic simulator found (`tradesync-sim --scenario f`,
/// seed 1): a BATCH lost on the way was never noticed, because the peer kept answering PINGs,
/// so the sender waited for its ACK forever and the nodes never converged.
@Suite struct AckTimeoutTests {
    let local: NodeID
    let peer: NodeID
    let second: UInt64 = 1_000_000_000

    init() throws {
        local = try node(0x0A)
        peer = try node(0x0B)
    }

    func at(_ seconds: UInt64) -> MonotonicInstant { MonotonicInstant(nanoseconds: seconds * second) }

    /// A session that sent BATCH 1 (one entry) at `sentAt` seconds; nothing acknowledged it.
    func sessionWithBatchInFlight(sentAt: UInt64) throws -> SyncSession {
        var (session, _) = handshaken(local: local, peer: peer)
        _ = session.handle(.fetched(signed([])))
        _ = session.handle(.timer(now: at(sentAt)))
        _ = session.handle(.localEntries(VersionVector([local: 1])))
        let sent = session.handle(.fetched(signed([try makeEntry(local, 1)])))
        #expect(try sentMessages(sent).map(\.type) == [.batch])
        return session
    }

    @Test("Session: a BATCH never acknowledged while PINGs flow: closed with a timeout after idleTimeout")
    func lostBatchIsNoticed() throws {
        var session = try sessionWithBatchInFlight(sentAt: 10)
        // The peer stays chatty (a PING every 10 s), so the idle timeout never fires.
        for time in stride(from: UInt64(20), through: 50, by: 10) {
            let outputs = session.handle(.received(Message.ping(nonce: time).encoded(), now: at(time)))
            #expect(!outputs.contains { if case .close = $0 { true } else { false } }, "closed early at \(time) s")
        }
        #expect(session.handle(.timer(now: at(54))).last != .close(.ackTimeout(batchID: 1, .seconds(45))))
        let late = session.handle(.timer(now: at(55)))
        #expect(late.last == .close(.ackTimeout(batchID: 1, .seconds(45))))
        #expect(try sentMessages(late) == [
            .error(ErrorMessage(code: .timeout, reason: "batch 1 not acknowledged within idleTimeout = 45 s")),
        ])
    }

    @Test("Session: batch in flight: the wake-up asked for is the ACK deadline when it comes first")
    func wakeAtAckDeadline() throws {
        var session = try sessionWithBatchInFlight(sentAt: 10)
        let outputs = session.handle(.received(Message.ping(nonce: 1).encoded(), now: at(40)))
        // PONG sent at 40 s: next PING due at 55 s; idle deadline 85 s; ACK deadline 55 s.
        #expect(outputs.last == .wakeAt(at(55)))
    }

    @Test("Session: each ACK restarts the ACK deadline for the next batch in flight")
    func ackRestartsDeadline() throws {
        var (session, _) = handshaken(local: local, peer: peer) { $0.batchEntriesMax = 1 }
        _ = session.handle(.fetched(signed([])))
        _ = session.handle(.localEntries(VersionVector([local: 2])))
        _ = session.handle(.fetched(signed([try makeEntry(local, 1)])))
        _ = session.handle(.fetched(signed([try makeEntry(local, 2)])))
        let ack = Message.ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector([local: 1]))).encoded()
        _ = session.handle(.received(ack, now: at(40)))
        _ = session.handle(.received(Message.ping(nonce: 1).encoded(), now: at(70)))
        #expect(session.handle(.timer(now: at(84))).last != .close(.ackTimeout(batchID: 2, .seconds(45))))
        #expect(session.handle(.timer(now: at(85))).last == .close(.ackTimeout(batchID: 2, .seconds(45))))
    }
}
