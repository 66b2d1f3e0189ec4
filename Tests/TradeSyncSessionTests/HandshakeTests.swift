import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

@Suite struct HandshakeTests {
    let local: NodeID
    let peer: NodeID

    init() throws {
        local = try node(0x0A)
        peer = try node(0x0B)
    }

    func connected(versions: ClosedRange<UInt16> = 1...1) -> (SyncSession, [SyncSession.Output]) {
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 77, versions: versions))
        let outputs = session.handle(.connected(localVector: VersionVector([local: 3]), now: MonotonicInstant(nanoseconds: 5)))
        return (session, outputs)
    }

    func peerHello(_ versions: ClosedRange<UInt16>, id: NodeID? = nil) -> [UInt8] {
        Message.hello(Hello(versions: versions, nodeID: id ?? peer, logInstanceID: 88)).encoded()
    }

    @Test("Session: connect: sends HELLO at once and wakes at the handshake deadline")
    func connectSendsHello() throws {
        let (_, outputs) = connected()
        #expect(outputs.count == 2)
        // Features: trade-1 (bit 0), heads (bit 1), window-16 (bit 2).
        #expect(try sentMessages(outputs) == [.hello(Hello(versions: 1...1, nodeID: local, logInstanceID: 77, features: 7))])
        #expect(outputs.last == .wakeAt(MonotonicInstant(nanoseconds: 10_000_000_005)))
    }

    @Test("Session: peer HELLO then VECTOR: handshakeCompleted, our VECTOR, peerVector, then a fetch")
    func handshakeFlow() throws {
        var (session, _) = connected()
        let hello = session.handle(.received(peerHello(1...1), now: MonotonicInstant(nanoseconds: 6)))
        #expect(events(hello) == [.handshakeCompleted(peer: peer, peerLogInstance: 88, version: 1)])
        #expect(try sentMessages(hello) == [.vector(VersionVector([local: 3])), .heads([])])
        let peerVector = VersionVector([local: 1, peer: 4])
        let vector = session.handle(.received(Message.vector(peerVector).encoded(), now: MonotonicInstant(nanoseconds: 7)))
        #expect(events(vector) == [
            .peerVector(peerVector), .fetch(after: peerVector, entriesMax: Limits.batchEntriesMax, bytesMax: Limits.batchBytesMax),
        ])
        #expect(session.peerID == peer)
        #expect(session.version == 1)
    }

    @Test("Session: version negotiation: a peer offering only a range we lack gets ERROR with both ranges, then close",
          arguments: [UInt16(2)...2, 0...0])
    func versionMismatch(theirs: ClosedRange<UInt16>) throws {
        var (session, _) = connected()
        let outputs = session.handle(.received(peerHello(theirs), now: MonotonicInstant(nanoseconds: 6)))
        let reason = "no common protocol version: ours [1,1], theirs [\(theirs.lowerBound),\(theirs.upperBound)]"
        #expect(try sentMessages(outputs) == [.error(ErrorMessage(code: .versionMismatch, reason: reason))])
        #expect(outputs.last == .close(.versionMismatch(ours: 1...1, theirs: theirs)))
        // The node learns who was refused, with the peer's range and log instance.
        #expect(outputs.first == .peerHello(Hello(versions: theirs, nodeID: peer, logInstanceID: 88)))
        #expect(outputs.count == 3)
        #expect(session.isClosed)
        #expect(session.handle(.timer(now: MonotonicInstant(nanoseconds: 99_000_000_000))) == [])
        #expect(session.handle(.received(peerHello(1...1), now: MonotonicInstant(nanoseconds: 8))) == [])
    }

    @Test("Session: version negotiation: [1,3] against [1,1] picks 1 on both sides")
    func overlappingRanges() throws {
        var pair = Pair(
            a: Side(id: local, store: MemoryStore(), versions: 1...3), b: Side(id: peer, store: MemoryStore()))
        pair.connect()
        pair.run()
        #expect(pair.a.trace.contains(.handshake(peer: peer, version: 1)))
        #expect(pair.b.trace.contains(.handshake(peer: local, version: 1)))
        #expect(pair.a.closes.isEmpty && pair.b.closes.isEmpty)
        // Both sides hold nothing: in sync at once.
        #expect(pair.a.inSyncCount == 1 && pair.b.inSyncCount == 1)
    }

    @Test("Session: garbage before HELLO (an HTTP request): refused from the frame header")
    func httpGarbage() throws {
        var (session, _) = connected()
        let outputs = session.handle(.received(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), now: .zero))
        let error = WireError.frameTooLarge(declaredBytes: 0x4745_5420, bytesMax: Limits.frameBytesMax, streamOffset: 0)
        #expect(try sentMessages(outputs) == [.error(ErrorMessage(code: .limitExceeded, reason: error.description))])
        #expect(outputs.last == .close(.wire(error)))
    }

    @Test("Session: a frame other than HELLO first is refused")
    func vectorBeforeHello() throws {
        var (session, _) = connected()
        let outputs = session.handle(.received(Message.vector(VersionVector()).encoded(), now: .zero))
        let violation = SyncError.protocolViolation("expected HELLO (0x01) as the first message, got VECTOR")
        #expect(try sentMessages(outputs) == [.error(ErrorMessage(code: .unexpectedMessage, reason: violation.description))])
        #expect(outputs.last == .close(violation))
    }

    @Test("Session: a HELLO frame with the wrong magic is refused")
    func badMagic() throws {
        var (session, _) = connected()
        var body = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 1)).frame().body
        body.replaceSubrange(0..<4, with: Array("HTTP".utf8))
        let outputs = session.handle(.received(Frame(type: 0x01, body: body).encoded(), now: .zero))
        #expect(try sentMessages(outputs).map(\.type) == [.error])
        #expect(outputs.last == .close(.wire(.badMagic(Array("HTTP".utf8)))))
    }

    @Test("Session: a peer with our own node ID is refused")
    func sameNode() throws {
        var (session, _) = connected()
        let outputs = session.handle(.received(peerHello(1...1, id: local), now: .zero))
        #expect(outputs.last == .close(.sameNode(local)))
        guard case .error(let error)? = try sentMessages(outputs).first else { return #expect(Bool(false), "no ERROR") }
        #expect(error.code == .sameNode)
    }

    @Test("Session: no HELLO within handshakeTimeout: ERROR timeout and close; an early timer does nothing")
    func handshakeTimeout() throws {
        var (session, _) = connected()
        let early = session.handle(.timer(now: MonotonicInstant(nanoseconds: 9_000_000_000)))
        #expect(early == [.wakeAt(MonotonicInstant(nanoseconds: 10_000_000_005))])
        let outputs = session.handle(.timer(now: MonotonicInstant(nanoseconds: 10_000_000_005)))
        #expect(outputs.last == .close(.handshakeTimeout(.seconds(10))))
        #expect(try sentMessages(outputs) == [
            .error(ErrorMessage(code: .timeout, reason: "handshake not completed within handshakeTimeout = 10 s")),
        ])
    }

    @Test("Session: HELLO without VECTOR still times out")
    func vectorTimeout() throws {
        var (session, _) = connected()
        _ = session.handle(.received(peerHello(1...1), now: MonotonicInstant(nanoseconds: 6)))
        let outputs = session.handle(.timer(now: MonotonicInstant(nanoseconds: 10_000_000_005)))
        #expect(outputs.last == .close(.handshakeTimeout(.seconds(10))))
    }

    @Test("Session: peer ERROR: close with its code and reason, nothing sent back")
    func peerError() throws {
        var (session, _) = connected()
        let bytes = peerHello(2...2) + Message.error(ErrorMessage(code: .versionMismatch, reason: "no")).encoded()
        // Our own check fails first on the HELLO; a peer that only sends ERROR is reported as such.
        var (quiet, _) = connected()
        let outputs = quiet.handle(.received(Message.error(ErrorMessage(code: .shutdown, reason: "bye")).encoded(), now: .zero))
        #expect(outputs == [.close(.peerError(code: .shutdown, reason: "bye"))])
        let mismatch = session.handle(.received(bytes, now: .zero))
        #expect(mismatch.last == .close(.versionMismatch(ours: 1...1, theirs: 2...2)))
    }

    @Test("Session: disconnected: close once, then nothing")
    func disconnected() {
        var (session, _) = connected()
        #expect(session.handle(.disconnected) == [.close(.disconnected)])
        #expect(session.handle(.disconnected) == [])
        #expect(session.handle(.localEntries(VersionVector([local: 9]))) == [])
    }
}
