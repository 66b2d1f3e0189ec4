import Crypto
import Foundation
import Testing
import TradeSyncClock
import TradeSyncControl
import TradeSyncWire

/// Issue 6 §2 and §6 with real daemons on 127.0.0.1: mutual TLS 1.3 with certificates
/// bound to the node keys, peers pinned by node ID. Each refusal is checked by its exact
/// reason in the refusing node's log, and by counts: nothing flows to a refused peer.
@Suite struct TLSTests {
    /// Two TLS nodes with their IDs made (keys on disk), not started.
    static func pair(_ root: URL) throws -> (a: NodeProcess, b: NodeProcess, aID: String, bID: String) {
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort())
        a.tls = true
        b.tls = true
        return (a, b, try a.nodeID(), try b.nodeID())
    }

    static func logHas(_ node: NodeProcess, _ text: String, seconds: Double = 20) -> Bool {
        Harness.waitUntil(seconds: seconds) { node.log().contains(text) }
    }

    /// The first line of the node's log containing every one of `parts` (waits up to 20 s).
    static func logLine(_ node: NodeProcess, _ parts: String...) -> String? {
        var found: String?
        _ = Harness.waitUntil(seconds: 20) {
            found = node.log().split(separator: "\n").first { line in parts.allSatisfy { line.contains($0) } }.map(String.init)
            return found != nil
        }
        return found
    }

    static func connectedPeers(_ node: NodeProcess) throws -> Int { try node.status().peers.filter(\.connected).count }

    @Test("TLS: happy path: three nodes chained A–B–C, pinned, the cement file imported at A reaches C; equal digests")
    func threeNodes() throws {
        let root = Harness.tempDir("tls-chain")
        defer { try? FileManager.default.removeItem(at: root) }
        let (a, b, aID, bID) = try Self.pair(root)
        let c = NodeProcess(name: "c", root: root, port: Harness.freePort())
        c.tls = true
        let cID = try c.nodeID()
        a.pins = [(bID, b.port)]
        b.pins = [(aID, nil), (cID, c.port)]
        c.pins = [(bID, nil)]
        defer { a.stop(); b.stop(); c.stop() }
        try a.start()
        try b.start()
        try c.start()
        let imported = try a.cli(["import", "--skip-invalid", Harness.dataFile(PeerLifecycleTests.cement)])
        #expect(imported.status == 0, "\(imported.stderr)")
        let entries = try a.status().entries
        #expect(entries > 1000)
        #expect(PeerLifecycleTests.converged([a, b, c], seconds: 60), "a:\n\(a.log())\nb:\n\(b.log())")
        let statuses = try [a, b, c].map { try $0.status() }
        #expect(Set(statuses.map(\.digest)).count == 1)
        #expect(statuses.map(\.entries) == [entries, entries, entries])
        #expect(statuses.map(\.records) == [statuses[0].records, statuses[0].records, statuses[0].records])
        // Every session says which node TLS authenticated.
        #expect(a.log().contains("TLS, node \(bID) authenticated"))
        #expect(b.log().contains("TLS, node \(aID) authenticated"))
        #expect(b.log().contains("TLS, node \(cID) authenticated"))
        #expect(c.log().contains("TLS, node \(bID) authenticated"))
        #expect(!a.log().contains("TLS refused") && !b.log().contains("TLS refused") && !c.log().contains("TLS refused"))
    }

    @Test("TLS: wrong key: A pins B's ID but B runs with another node.key: refused both ways, A's log names the ID B presented, nothing flows")
    func wrongKey() throws {
        let root = Harness.tempDir("tls-wrongkey")
        defer { try? FileManager.default.removeItem(at: root) }
        let (a, b, aID, pinnedB) = try Self.pair(root)
        try FileManager.default.removeItem(at: b.dataDir.appendingPathComponent("node.key"))
        let actualB = try b.nodeID()
        #expect(actualB != pinnedB)
        a.pins = [(pinnedB, b.port)]
        b.pins = [(aID, a.port)]
        defer { a.stop(); b.stop() }
        try a.start()
        #expect(try a.cli(["put", "DEU:FRA:M:870380:2023", "value_usd=42"]).status == 0)
        try b.start()
        // A dials B: B's certificate proves another node than the one pinned for B's address.
        let outbound = "TLS refused: peer at 127.0.0.1:\(b.port) presented node \(actualB), expected the pinned \(pinnedB)"
        #expect(Self.logHas(a, outbound), "\(a.log())")
        // B dials A: A does not know B's new ID at all.
        let inbound = "presented node \(actualB), which is not a pinned peer (pinned: \(pinnedB))"
        #expect(Self.logHas(a, inbound), "\(a.log())")
        #expect(
            Self.logHas(
                b, "TLS handshake failed: SSLV3_ALERT_CERTIFICATE_UNKNOWN (the peer refused our certificate (our node ID is not pinned there))"),
            "\(b.log())")
        usleep(1_000_000)
        #expect(try b.status().entries == 0)
        #expect(try a.status().entries == 1)
        #expect(try Self.connectedPeers(a) == 0)
        #expect(try Self.connectedPeers(b) == 0)
        #expect(!a.log().contains("established") && !b.log().contains("established"))
    }

    @Test("TLS: another certificate: a P-256 certificate and an unpinned Ed25519 one are refused; A sends them nothing")
    func anotherCertificate() throws {
        let root = Harness.tempDir("tls-othercert")
        defer { try? FileManager.default.removeItem(at: root) }
        let (a, _, _, bID) = try Self.pair(root)
        a.pins = [(bID, nil)]
        defer { a.stop() }
        try a.start()

        // P-256: A accepts ed25519 signatures only, so the client has no way to sign with its key.
        let p256 = try TLSTestClient.connect(port: a.port, credentials: try .p256())
        #expect(Harness.waitUntil(seconds: 10) { p256.outcome.closed })
        #expect(p256.outcome.error?.contains("NO_COMMON_SIGNATURE_ALGORITHMS") == true)
        #expect(p256.outcome.received.isEmpty)
        let p256Port = p256.localPort
        let p256Line = Self.logLine(
            a, "127.0.0.1:\(p256Port)",
            "TLS handshake failed: SSLV3_ALERT_HANDSHAKE_FAILURE (the peer aborted the handshake (its certificate cannot sign ed25519, or no common parameters))")
        #expect(p256Line != nil, "\(a.log())")
        print("P-256 at A: \(p256Line ?? "none")")

        // Ed25519, valid and self-signed, but not pinned.
        let other = try TestCredentials.ed25519()
        let otherID = NodeIDText.full(try #require(other.nodeID))
        let client = try TLSTestClient.connect(port: a.port, credentials: other)
        #expect(Harness.waitUntil(seconds: 10) { client.outcome.closed })
        #expect(client.outcome.received.isEmpty)
        let port = client.localPort
        #expect(
            Self.logHas(
                a, "TLS refused: peer at 127.0.0.1:\(port) presented node \(otherID), which is not a pinned peer (pinned: \(bID))"),
            "\(a.log())")
        #expect(try a.status().peers.filter(\.connected).isEmpty)
        print("P-256 client saw: \(p256.outcome.error ?? "no error"); unpinned client saw: \(client.outcome.error ?? "no error")")
    }

    @Test("TLS: a pinned certificate whose HELLO names another node: closed with an ERROR naming both IDs")
    func helloMismatch() throws {
        let root = Harness.tempDir("tls-hello")
        defer { try? FileManager.default.removeItem(at: root) }
        let (a, _, _, _) = try Self.pair(root)
        let credentials = try TestCredentials.ed25519()
        let proven = try #require(credentials.nodeID)
        a.pins = [(NodeIDText.full(proven), nil)]
        defer { a.stop() }
        try a.start()
        let client = try TLSTestClient.connect(port: a.port, credentials: credentials)
        #expect(client.settle())
        #expect(client.outcome.handshook, "\(client.outcome.error ?? "")")
        let claimed = FakePeer.randomNode()
        try client.send(FakePeer.hello(ProtocolVersion.supported, node: claimed).encoded())
        #expect(Harness.waitUntil(seconds: 10) { client.outcome.closed })
        var decoder = FrameDecoder()
        decoder.feed(client.outcome.received)
        var messages: [Message] = []
        while let frame = try decoder.next() { messages.append(try Message.decode(frame)) }
        let expected = "HELLO names \(NodeIDText.full(claimed)) but its TLS certificate proves \(NodeIDText.full(proven))"
        #expect(messages.last == .error(ErrorMessage(code: .unexpectedMessage, reason: expected)))
        #expect(messages.contains { if case .batch = $0 { true } else { false } } == false)
        let line = Self.logLine(a, "refused peer at 127.0.0.1:\(client.localPort): \(expected)")
        #expect(line != nil, "\(a.log())")
        print("HELLO mismatch at A: \(line ?? "none")")
        #expect(!a.log().contains("established"))
    }

    @Test("TLS: man in the middle: a TLS-terminating proxy with its own key between A and B is refused by both, naming its ID")
    func manInTheMiddle() throws {
        let root = Harness.tempDir("tls-mitm")
        defer { try? FileManager.default.removeItem(at: root) }
        let (a, b, aID, bID) = try Self.pair(root)
        let mitm = try TestCredentials.ed25519()
        let mitmID = NodeIDText.full(try #require(mitm.nodeID))
        let proxy = try TestRelay(upstream: b.port, credentials: mitm)
        defer { proxy.stop() }
        a.pins = [(bID, proxy.port)]  // A believes the proxy's address is B's
        b.pins = [(aID, nil)]
        defer { a.stop(); b.stop() }
        try a.start()
        try b.start()
        #expect(try a.cli(["put", "DEU:FRA:M:870380:2023", "value_usd=42"]).status == 0)
        let atA = "TLS refused: peer at 127.0.0.1:\(proxy.port) presented node \(mitmID), expected the pinned \(bID)"
        #expect(Self.logHas(a, atA), "\(a.log())")
        // The proxy's onward connection to B presents the same certificate: B refuses it too.
        #expect(Self.logHas(b, "presented node \(mitmID), which is not a pinned peer (pinned: \(aID))"), "\(b.log())")
        usleep(1_000_000)
        #expect(try b.status().entries == 0)
        #expect(try Self.connectedPeers(a) == 0 && Self.connectedPeers(b) == 0)
    }

    @Test("TLS: replayed session bytes: a recorded B→A session replayed to A on a new connection fails the handshake; nothing applied")
    func replay() throws {
        let root = Harness.tempDir("tls-replay")
        defer { try? FileManager.default.removeItem(at: root) }
        let (a, b, aID, bID) = try Self.pair(root)
        // A's data directory before any session: only its key. Restored later, so the
        // replayed batch would be new to A if it were accepted.
        let backup = root.appendingPathComponent("a-backup")
        try FileManager.default.copyItem(at: a.dataDir, to: backup)
        let recorder = Recorder()
        let relay = try TestRelay(upstream: a.port, recorder: recorder)
        a.pins = [(bID, nil)]
        b.pins = [(aID, relay.port)]  // B reaches A through the recording relay
        try a.start()
        try b.start()
        for (index, value) in ["100", "200", "300"].enumerated() {
            #expect(try b.cli(["put", "DEU:FRA:M:8507\(index)0:2024", "value_usd=\(value)"]).status == 0)
        }
        #expect(PeerLifecycleTests.converged([a, b]))
        #expect(try a.status().entries == 3)
        #expect(b.stop() == 0)
        #expect(a.stop() == 0)
        relay.stop()
        let recorded = recorder.recorded.flatMap { $0 }
        #expect(recorded.count > 1000, "recorded \(recorded.count) bytes")

        try FileManager.default.removeItem(at: a.dataDir)
        try FileManager.default.copyItem(at: backup, to: a.dataDir)
        try a.start()
        defer { a.stop() }
        #expect(try a.status().entries == 0)
        let replayer = try TLSTestClient.connect(port: a.port, credentials: nil)
        try replayer.send(recorded)
        #expect(Harness.waitUntil(seconds: 10) { replayer.outcome.closed })
        let port = replayer.localPort
        let line = Self.logLine(
            a, "127.0.0.1:\(port)",
            "TLS handshake failed: BAD_DECRYPT, DECRYPTION_FAILED_OR_BAD_RECORD_MAC (a record failed to decrypt (replayed or altered bytes))")
        #expect(line != nil, "\(a.log())")
        usleep(500_000)
        let status = try a.status()
        #expect(status.entries == 0 && status.records == 0)
        #expect(!a.log().contains("established"))
        print("replay refused: \(line ?? "none")")
    }

    @Test("TLS: a plain-TCP (insecure) node and a TLS node refuse each other, each naming the mismatch")
    func insecureMeetsTLS() throws {
        let root = Harness.tempDir("tls-mixed")
        defer { try? FileManager.default.removeItem(at: root) }
        let (a, c, _, cID) = try Self.pair(root)
        c.tls = false  // insecure, dials A
        c.peers = [a.port]
        a.pins = [(cID, c.port)]  // A dials C with TLS
        defer { a.stop(); c.stop() }
        try a.start()
        try c.start()
        let speaksTLS = "the peer speaks TLS (it runs TLS 1.3 with pinned peers, this node runs insecure): pin each other's node IDs and drop insecure"
        #expect(Self.logLine(c, "peer 127.0.0.1:\(a.port)", speaksTLS) != nil, "\(c.log())")
        #expect(Self.logLine(c, "before its HELLO", speaksTLS) != nil, "\(c.log())")
        let plain = "TLS handshake failed: WRONG_VERSION_NUMBER (the peer does not speak TLS 1.3 (plain TCP: is it running insecure?))"
        #expect(Self.logLine(a, "before its HELLO", plain) != nil, "\(a.log())")
        #expect(try Self.connectedPeers(a) == 0 && Self.connectedPeers(c) == 0)
    }

    @Test("TLS: insecure on a non-loopback address and an unpinned --peer are refused at start (exit 2) naming the address")
    func startRefusals() throws {
        let root = Harness.tempDir("tls-config")
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("n").path
        let port = Harness.freePort()
        let insecure = try Harness.run("tradesyncd", ["--data-dir", data, "--insecure", "--listen", "0.0.0.0:\(port)"])
        #expect(insecure.status == 2)
        #expect(
            insecure.stderr
                == "tradesyncd: command line: insecure (plain TCP, no authentication) on the non-loopback listen address 0.0.0.0:\(port) is refused: use TLS with pinned peers, or set insecure_force = true (--insecure-force)\n")
        let unpinned = try Harness.run("tradesyncd", ["--data-dir", data, "--peer", "127.0.0.1:\(port)"])
        #expect(unpinned.status == 2)
        #expect(
            unpinned.stderr
                == "tradesyncd: command line: --peer '127.0.0.1:\(port)' has no pinned node ID: give it as --peer ID@127.0.0.1:\(port) (tradesyncd --print-id shows a node's ID), or add --insecure (--insecure-force alone does not turn TLS off)\n")
    }

    @Test("TLS: --print-id makes the key once; tradesync id --data-dir reads it offline; the running node reports the same ID")
    func printID() throws {
        let root = Harness.tempDir("tls-printid")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = NodeProcess(name: "n", root: root, port: Harness.freePort())
        node.tls = true
        let first = try Harness.run("tradesyncd", ["--print-id", "--data-dir", node.dataDir.path])
        #expect(first.status == 0)
        let lines = first.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        let id = try NodeIDText.parse(try #require(lines.first))
        #expect(lines == [NodeIDText.full(id), "short  \(NodeIDText.short(id))", "hex    \(id.hex)"])
        #expect(try node.nodeID() == NodeIDText.full(id))
        let json = try Harness.run("tradesyncd", ["--print-id", "--json", "--data-dir", node.dataDir.path])
        #expect(json.stdout == "{\"hex\":\"\(id.hex)\",\"id\":\"\(NodeIDText.full(id))\",\"short\":\"\(NodeIDText.short(id))\"}\n")
        let offline = try Harness.run("tradesync", ["id", "--data-dir", node.dataDir.path])
        #expect(offline.status == 0)
        #expect(offline.stdout == first.stdout)
        let missing = try Harness.run("tradesync", ["id", "--data-dir", root.appendingPathComponent("none").path])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("none/node.key: cannot read the node key"))
        try node.start()
        defer { node.stop() }
        #expect(try node.status().nodeID == id.hex)
    }
}
