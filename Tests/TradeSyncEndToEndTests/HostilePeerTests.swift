import Foundation
import Testing
import TradeSyncClock
import TradeSyncControl
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// Issue 5 §2–3 against a real `tradesyncd`: garbage, oversize frames, a zlib bomb, field
/// limits, unknown types and a silent peer each get one ERROR that names the limit, close
/// only their own connection, and the node's session with its real peer carries on.
@Suite struct HostilePeerTests {
    /// One hostile connection: optionally a valid handshake (HELLO [1,1] + empty VECTOR)
    /// from `node`, then `bytes`; returns the ERROR the node sent before closing.
    func refusal(port: Int, node: NodeID = FakePeer.randomNode(), handshake: Bool, _ bytes: [UInt8]) throws -> ErrorMessage? {
        let peer = try FakePeer.connect(port: port)
        if handshake {
            peer.send(FakePeer.hello(ProtocolVersion.supported, node: node))
            peer.send(.vector(VersionVector()))
        }
        peer.send(bytes)
        let messages = try peer.receiveAll()
        guard case .error(let error)? = messages.last else { return nil }
        return error
    }

    /// A BATCH 1 body with the given header fields and payload.
    func batchFrame(count: Int, deflated: Bool, declared: Int, payload: [UInt8]) -> [UInt8] {
        Message.batch(BatchMessage(
            id: BatchID(rawValue: 1), entryCount: count, isDeflated: deflated, uncompressedLength: declared,
            payload: payload, signatures: [])).encoded()
    }

    /// A put by `origin` at seq 1 whose reporter code is `reporter` bytes long on the wire.
    func entryBytes(origin: NodeID, reporterBytes: Int) throws -> [UInt8] {
        let key = try TradeKey(
            reporter: AreaCode("DEU"), partner: AreaCode("FRA"), flow: .import, commodity: CommodityCode("850760"),
            period: Period(year: 2024))
        let entry = Entry(
            dot: Dot(origin: origin, seq: 1), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000, logical: 0),
            context: VersionVector(), key: key,
            operation: .put(TradeValues(valueUSD: ExactDecimal(125), netWeightKg: nil, quantityUnit: "kg", flags: [])))
        var bytes = entry.encoded()
        // formatVersion 1 + origin 32 + seq 1 + hlc 8 + empty context 1 = 43: the reporter.
        bytes.replaceSubrange(43..<47, with: [UInt8(reporterBytes)] + [UInt8](repeating: UInt8(ascii: "D"), count: reporterBytes))
        return bytes
    }

    @Test("E2E: garbage, oversize frame, zlib bomb, field limits, unknown type and a silent peer: named refusals; the real peer syncs on")
    func hostilePeers() throws {
        let root = Harness.tempDir("hostile")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort(), peers: [a.port])
        try a.start()
        defer { a.stop() }
        try b.start()
        defer { b.stop() }
        #expect(Harness.waitUntil(seconds: 20) { (try? a.status().peers.contains { $0.connected }) == true })
        // Opened first, answered last: says nothing, so the handshake deadline closes it.
        let silent = try FakePeer.connect(port: a.port)

        // Garbage before HELLO: "GET " reads as a 1.2 GB length, refused from the header.
        let http = try refusal(port: a.port, handshake: false, Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(http == ErrorMessage(
            code: .limitExceeded, reason: "frame at stream offset 0 declares 1195725856 bytes, above frameBytesMax = 1048576"))
        // A well-formed frame that is not HELLO, first.
        let notHello = try refusal(port: a.port, handshake: false, [0, 0, 0, 3, 0x42, 1, 2])
        #expect(notHello?.code == .unexpectedMessage)
        #expect(notHello?.reason.contains("expected HELLO (0x01) as the first message, got type 0x42") == true)
        // After the handshake: a frame header above frameBytesMax.
        let oversize = try refusal(port: a.port, handshake: true, [0x00, 0x20, 0x00, 0x00, 0x03])
        #expect(oversize?.code == .limitExceeded)
        #expect(oversize?.reason.hasSuffix("declares 2097152 bytes, above frameBytesMax = 1048576") == true)
        // A declared uncompressed length above inflatedBytesMax: refused before inflating.
        let declared = try refusal(
            port: a.port, handshake: true, batchFrame(count: 1, deflated: true, declared: 2 << 20, payload: [0x78, 0x9c]))
        #expect(declared == ErrorMessage(
            code: .limitExceeded,
            reason: "batch declares 2097152 uncompressed bytes, above inflatedBytesMax = 1048576; refused before inflating"))
        // A zlib bomb: 64 MiB of zeros in a ~64 KB frame, declared as 1 MiB.
        let bomb = try Zlib.deflate([UInt8](repeating: 0, count: 64 << 20), level: 9)
        #expect(bomb.count < 100_000)
        let bombed = try refusal(
            port: a.port, handshake: true, batchFrame(count: 1, deflated: true, declared: 1 << 20, payload: bomb))
        #expect(bombed == ErrorMessage(
            code: .compression, reason: "deflated payload inflates beyond its declared 1048576 bytes (stopped after 1048577)"))
        // A reporter code of 5 bytes inside an entry.
        let origin = FakePeer.randomNode()
        var payload = ByteWriter()
        payload.writeLengthPrefixed(try entryBytes(origin: origin, reporterBytes: 5))
        let field = try refusal(
            port: a.port, node: origin, handshake: true,
            batchFrame(count: 1, deflated: false, declared: payload.bytes.count, payload: payload.bytes))
        #expect(field == ErrorMessage(
            code: .limitExceeded, reason: "BATCH entry 1 of 1, byte 43: 5 exceeds areaCodeBytesMax = 4"))
        // An unknown message type within the version spoken.
        let unknown = try refusal(port: a.port, handshake: true, Frame(type: 0x42, body: [1, 2, 3]).encoded())
        #expect(unknown == ErrorMessage(code: .unknownMessageType, reason: "unknown message type 0x42"))
        // The silent connection: handshakeTimeout (10 s) after it connected.
        let timedOut = try silent.receiveAll()
        #expect(timedOut.last == .error(ErrorMessage(
            code: .timeout, reason: "handshake not completed within handshakeTimeout = 10 s")))

        // Meanwhile the real peer's session never dropped, and it still syncs.
        let put = try b.cli(["put", "DEU:FRA:M:850760:2024", "value_usd=125"])
        #expect(put.status == 0, "\(put.stderr)")
        #expect(Harness.waitUntil(seconds: 10) { (try? a.cli(["get", "DEU:FRA:M:850760:2024"]).status) == 0 })
        let bShort = String(try b.status().nodeID.prefix(12))
        let established = a.log().split(separator: "\n").filter { $0.contains("session with \(bShort)") && $0.contains("established") }
        #expect(established.count == 1, "\(established)")
        #expect(try a.status().peers.filter(\.connected).count == 1)
    }
}
