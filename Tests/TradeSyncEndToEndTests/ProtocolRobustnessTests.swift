import Foundation
import Testing
import TradeSyncClock
import TradeSyncControl
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// Issue 5 §1–3 against a real `tradesyncd`: peers of other versions, broken peers and
/// hostile bytes. Each refusal closes only its own connection, with an ERROR that names the
/// limit or both version ranges, and the node goes on serving its real peer.
@Suite(.serialized) struct ProtocolRobustnessTests {
    /// Lines of `log` at level warning that contain `text`.
    func warnings(_ log: String, containing text: String) -> Int {
        log.split(separator: "\n").filter { $0.contains(" warning ") && $0.contains(text) }.count
    }

    func peers(_ node: NodeProcess) throws -> [PeerStatus] { try node.json([PeerStatus].self, ["peers"]) }

    @Test("E2E: fake peers speaking only v4 and only v1 (unsigned, before issue 6) dial in: ERROR with both ranges, logged once, shown by peers after a restart")
    func versionMismatchInbound() throws {
        let root = Harness.tempDir("version-in")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = NodeProcess(name: "a", root: root, port: Harness.freePort())
        try node.start()
        defer { node.stop() }
        let fakes: [(versions: ClosedRange<UInt16>, id: NodeID)] = [(4...4, FakePeer.randomNode()), (1...1, FakePeer.randomNode())]
        for fake in fakes {
            let reason = "no common protocol version: ours [2,3], theirs \(ProtocolVersion.text(fake.versions))"
            for attempt in 1...4 {
                let peer = try FakePeer.connect(port: node.port)
                peer.send(FakePeer.hello(fake.versions, node: fake.id))
                let messages = try peer.receiveAll()
                // Our HELLO first (sent at once on connect), then the refusal, then the close.
                #expect(messages.count == 2, "attempt \(attempt): \(messages)")
                guard case .hello(let hello)? = messages.first else {
                    Issue.record("attempt \(attempt): no HELLO first: \(messages)")
                    continue
                }
                #expect(hello.versions == 2...3)
                #expect(messages.last == .error(ErrorMessage(code: .versionMismatch, reason: reason)), "attempt \(attempt)")
            }
        }
        let rows = try peers(node)
        for fake in fakes {
            let text = ProtocolVersion.text(fake.versions)
            let row = try #require(rows.first { $0.nodeID == fake.id.hex }, "no peers row for the v\(text) peer: \(rows)")
            #expect(row.peerVersions == text)
            #expect(row.connected == false)
            #expect(row.lastVersion == nil)
            #expect(row.lastError == "no common protocol version: ours [2,3], theirs \(text)")
            #expect(row.lastErrorAt != nil)
            // Four refusals of the same peer: one warning, the repeats at debug level only.
            #expect(warnings(node.log(), containing: "theirs \(text)") == 1, "log:\n\(node.log())")
        }
        let text = try node.cli(["peers"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("[4,4]") && text.stdout.contains("[1,1]"), "\(text.stdout)")

        // Kept across restarts: the peer book is on disk.
        #expect(node.stop() == 0)
        try node.start()
        let after = try peers(node)
        for fake in fakes {
            let row = try #require(after.first { $0.nodeID == fake.id.hex })
            #expect(row.peerVersions == ProtocolVersion.text(fake.versions))
            #expect(row.lastError?.contains("theirs \(ProtocolVersion.text(fake.versions))") == true)
        }
    }

    @Test("E2E: dialling a v4-only peer backs off (a handful of connections, not a storm) and logs the refusal once")
    func versionMismatchOutbound() throws {
        let root = Harness.tempDir("version-out")
        defer { try? FileManager.default.removeItem(at: root) }
        let fakeID = FakePeer.randomNode()
        let listener = try FakeListener { peer in
            peer.send(FakePeer.hello(4...4, node: fakeID))
            // Read the node's HELLO and its ERROR, then let it close.
            _ = try? peer.receiveAll()
        }
        defer { listener.stop() }
        let node = NodeProcess(name: "a", root: root, port: Harness.freePort(), peers: [listener.port])
        try node.start()
        defer { node.stop() }
        Thread.sleep(forTimeInterval: 8)
        let attempts = listener.accepted
        // Refusal backoff: ≥ 0.5, 1, 2, 4 s between attempts, so at most 5 in 8 s (the
        // ordinary redial backoff would have made ~10, a loop without backoff thousands).
        #expect(attempts >= 2 && attempts <= 5, "\(attempts) connections in 8 s")
        let row = try #require(try peers(node).first { $0.address == "127.0.0.1:\(listener.port)" })
        #expect(row.nodeID == fakeID.hex)
        #expect(row.peerVersions == "[4,4]")
        #expect(row.lastError == "no common protocol version: ours [2,3], theirs [4,4]")
        #expect(warnings(node.log(), containing: "theirs [4,4]") == 1, "log:\n\(node.log())")
        #expect(node.log().contains("redialling with backoff"))
    }

    @Test("E2E: a fake peer offering [1,2] gets v2 (a v3 node meeting a v2 peer): the node answers with VECTOR, and peers shows v2 and the offered range")
    func overlappingRange() throws {
        let root = Harness.tempDir("version-overlap")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = NodeProcess(name: "a", root: root, port: Harness.freePort())
        try node.start()
        defer { node.stop() }
        let id = FakePeer.randomNode()
        let peer = try FakePeer.connect(port: node.port)
        peer.send(FakePeer.hello(1...2, node: id))
        guard case .hello? = try peer.receive() else {
            Issue.record("no HELLO")
            return
        }
        // Negotiated v2: the node's VECTOR follows, not an ERROR.
        guard case .vector(let vector)? = try peer.receive() else {
            Issue.record("no VECTOR")
            return
        }
        #expect(vector.isEmpty)
        peer.send(.vector(VersionVector()))
        #expect(Harness.waitUntil(seconds: 5) { (try? peers(node).first { $0.nodeID == id.hex })?.connected == true })
        let row = try #require(try peers(node).first { $0.nodeID == id.hex })
        #expect(row.protocolVersion == 2)
        #expect(row.lastVersion == 2)
        #expect(row.peerVersions == "[1,2]")
    }
}
