import Foundation
import Testing
import TradeSyncClock
import TradeSyncControl
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// Issue 6 §3, §4 and §6 against real daemons: a middle node that alters an origin's entry
/// before forwarding it, a replayed old batch, and an origin writing for a reporter it may
/// not author. The middle node is a fake peer speaking the protocol (an honest node would
/// never forward what it could not verify).
@Suite struct SignedEntryTests {
    static let keys = ["DEU:FRA:X:252310:2020", "DEU:FRA:X:252310:2021", "DEU:FRA:X:252310:2022"]

    /// Connects to `node` as peer `id` (HELLO, empty VECTOR) and returns the BATCHes it
    /// streams until `entries` entries arrived, acknowledging each.
    static func pull(from node: NodeProcess, as id: NodeID, entries: Int) throws -> [BatchMessage] {
        let peer = try FakePeer.connect(port: node.port)
        peer.send(FakePeer.hello(ProtocolVersion.supported, node: id))
        peer.send(.vector(VersionVector()))
        var batches: [BatchMessage] = []
        var got = 0
        var held = VersionVector()
        while got < entries, let message = try peer.receive() {
            guard case .batch(let batch) = message else { continue }
            batches.append(batch)
            for entry in try batch.decodeEntries(dictionaries: PresetDictionary.known) { held.add(entry.dot) }
            got += batch.entryCount
            peer.send(.ack(Ack(batchID: batch.id, vector: held)))
        }
        return batches
    }

    /// A session with `node` as peer `id`: HELLO and VECTOR, then `batches`; returns what
    /// the node sent until it closed the connection or went quiet for `seconds`.
    static func push(_ batches: [BatchMessage], to node: NodeProcess, as id: NodeID, seconds: Int = 5) throws -> [Message] {
        let peer = try FakePeer.connect(port: node.port, receiveTimeout: seconds)
        peer.send(FakePeer.hello(ProtocolVersion.supported, node: id))
        peer.send(.vector(VersionVector()))
        for batch in batches { peer.send(.batch(batch)) }
        return try peer.receiveAll()
    }

    /// Starts an origin `a`, which writes the three test keys, and a receiver `c` that knows
    /// no peer, in a fresh directory named after `name`.
    static func originAndReceiver(_ name: String) throws -> (URL, NodeProcess, NodeProcess) {
        let root = Harness.tempDir(name)
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let c = NodeProcess(name: "c", root: root, port: Harness.freePort())
        try a.start()
        try c.start()
        try writeThree(a)
        return (root, a, c)
    }

    /// Writes the three test keys on `node`, one CLI edit each (so each is signed alone).
    static func writeThree(_ node: NodeProcess, reporter: String = "DEU") throws {
        for (index, key) in keys.enumerated() {
            let text = key.replacingOccurrences(of: "DEU:", with: reporter + ":")
            let put = try node.cli(["put", text, "value_usd=\(index + 1)00"])
            #expect(put.status == 0, "\(put.stderr)")
        }
    }

    @Test("E2E: a middle node alters an entry before forwarding it: refused with ERROR forgedEntry naming origin and dots; the peer is marked; the authentic batch is accepted")
    func forgedByMiddleNode() throws {
        let (root, a, c) = try Self.originAndReceiver("forged")
        defer {
            a.stop()
            c.stop()
            try? FileManager.default.removeItem(at: root)
        }
        let aID = try #require(NodeID(hex: try a.status().nodeID))
        // The middle node M takes A's three entries (one signature each) ...
        let middle = FakePeer.randomNode()
        let taken = try Self.pull(from: a, as: middle, entries: 3)
        let signed = try taken.flatMap { try $0.decodeSignedEntries(dictionaries: PresetDictionary.known) }
        #expect(signed.count == 3)
        #expect(signed.allSatisfy { $0.signature?.signer == aID })
        // ... and changes the value of A:2 before passing them on to C.
        let original = signed[1].entry
        let altered = Entry(
            dot: original.dot, hlc: original.hlc, context: original.context, key: original.key,
            operation: .put(TradeValues(valueUSD: ExactDecimal(999_999))))
        var forged = signed
        forged[1] = SignedEntry(altered, signature: signed[1].signature)
        let replies = try Self.push([BatchMessage(id: BatchID(rawValue: 1), signed: forged)], to: c, as: middle)
        guard case .error(let refusal)? = replies.last else {
            Issue.record("no ERROR: \(replies)")
            return
        }
        #expect(refusal.code == .forgedEntry)
        #expect(
            refusal.reason == "forged entry refused: forged or altered entries \(aID.short):2: origin's signature over its chain head at seq 2 does not verify",
            "\(refusal.reason)")
        // Nothing of the batch was written (A:1 and A:3 were authentic, but the batch goes whole).
        let status = try c.status()
        #expect(status.vector[aID.hex] == nil)
        #expect(status.entries == 0)
        #expect(status.forgedBatches == 1)
        let row = try #require(try c.json([PeerStatus].self, ["peers"]).first { $0.nodeID == middle.hex })
        #expect(row.forged?.contains("forged or altered entries \(aID.short):2") == true, "\(String(describing: row.forged))")
        #expect(c.log().contains("FORGED: refused a batch from peer \(middle.short)"), "\(c.log())")

        // The same entries unaltered are accepted from the same peer: C then equals A.
        let honest = try Self.push([BatchMessage(id: BatchID(rawValue: 1), signed: signed)], to: c, as: middle, seconds: 3)
        #expect(!honest.contains { if case .error = $0 { true } else { false } }, "\(honest)")
        #expect(Harness.waitUntil(seconds: 10) { (try? c.status().digest) == (try? a.status().digest) })
        #expect(try c.status().vector[aID.hex] == 3)
    }

    @Test("E2E: a replayed old batch: refused inside its session (batch ID out of order); in a new session it changes nothing")
    func replayedBatch() throws {
        let (root, a, c) = try Self.originAndReceiver("replay")
        defer {
            a.stop()
            c.stop()
            try? FileManager.default.removeItem(at: root)
        }
        let aID = try #require(NodeID(hex: try a.status().nodeID))
        let middle = FakePeer.randomNode()
        let old = try Self.pull(from: a, as: middle, entries: 3)
        // The same BATCH twice in one session: the second is a replay.
        let replies = try Self.push(old + old, to: c, as: middle)
        guard case .error(let refusal)? = replies.last else {
            Issue.record("no ERROR: \(replies)")
            return
        }
        #expect(refusal.code == .unexpectedMessage)
        #expect(refusal.reason.contains("BATCH 1 out of order, expected \(old.count + 1)"), "\(refusal.reason)")
        // The first copy arrived whole before the replay: it is kept (persisted as the
        // session closes, so the ERROR may come first).
        #expect(Harness.waitUntil(seconds: 10) { (try? c.status().vector[aID.hex]) == 3 })
        // A writes on; C gets it; then the old batch is replayed in a new session.
        #expect(try a.cli(["put", Self.keys[0], "value_usd=555"]).status == 0)
        let newer = try Self.pull(from: a, as: middle, entries: 4)
        let latest = try newer.flatMap { try $0.decodeSignedEntries(dictionaries: PresetDictionary.known) }
        _ = try Self.push([BatchMessage(id: BatchID(rawValue: 1), signed: latest)], to: c, as: middle, seconds: 3)
        #expect(Harness.waitUntil(seconds: 10) { (try? c.status().vector[aID.hex]) == 4 })
        let before = try c.status()
        let again = try Self.push(old, to: c, as: middle, seconds: 3)
        #expect(!again.contains { if case .error = $0 { true } else { false } }, "\(again)")
        let after = try c.status()
        #expect(after.entries == before.entries)
        #expect(after.digest == before.digest)
        let record = try c.json(RecordView.self, ["get", Self.keys[0]])
        #expect(record.values?.valueUSD?.description == "555")
    }

    @Test("E2E: an origin limited to reporter DEU writes for FRA: the receiver refuses that entry and the origin's later ones, counts them, and names the reason")
    func unauthorizedReporter() throws {
        let root = Harness.tempDir("reporter")
        defer { try? FileManager.default.removeItem(at: root) }
        let a = NodeProcess(name: "a", root: root, port: Harness.freePort())
        try a.start()
        defer { a.stop() }
        let aID = try #require(NodeID(hex: try a.status().nodeID))
        let idText = try a.json(NodeIdentityView.self, ["id"]).id
        let b = NodeProcess(name: "b", root: root, port: Harness.freePort())
        let config = root.appendingPathComponent("b.toml").path
        try """
            data_dir = "\(b.dataDir.path)"
            listen = "127.0.0.1:\(b.port)"
            peers = ["127.0.0.1:\(a.port)"]
            log_level = "debug"
            insecure = true

            [[origin]]
            id = "\(idText)"
            reporters = ["DEU", "AUT"]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        b.configFile = config
        try Self.writeThree(a)  // DEU: allowed
        #expect(try a.cli(["put", "FRA:DEU:M:252310:2020", "value_usd=7"]).status == 0)  // A:4, FRA
        #expect(try a.cli(["put", "DEU:FRA:X:252310:2023", "value_usd=8"]).status == 0)  // A:5, after it
        try b.start()
        defer { b.stop() }
        #expect(Harness.waitUntil(seconds: 15) { (try? b.status().refusedReporter) == 2 })
        let status = try b.status()
        #expect(status.vector[aID.hex] == 3)
        #expect(status.records == 3)
        let row = try #require(try b.json([PeerStatus].self, ["peers"]).first { $0.nodeID == aID.hex })
        #expect(row.refused == 2)
        #expect(b.log().contains("may not author records of reporter FRA (allowed: AUT, DEU)"), "\(b.log())")
        #expect(try b.cli(["get", "FRA:DEU:M:252310:2020"]).status != 0)
    }
}

extension SignedEntryTests {
    @Test("E2E: TLS chain A–B–C where C lets B send only B's own entries: A's entries are refused at C and counted; B's arrive")
    func peerOriginsOverTLS() throws {
        let root = Harness.tempDir("origins")
        defer { try? FileManager.default.removeItem(at: root) }
        let nodes = ["a", "b", "c"].map { NodeProcess(name: $0, root: root, port: Harness.freePort()) }
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        let ids = try nodes.map { try $0.nodeID() }
        for node in nodes { node.tls = true }
        a.pins = [(ids[1], nil)]
        b.pins = [(ids[0], a.port), (ids[2], nil)]
        c.pins = [(ids[1], b.port)]
        c.pinOrigins = [ids[1]: [ids[1]]]
        for node in nodes { try node.start() }
        defer { for node in nodes { node.stop() } }
        try Self.writeThree(a)
        #expect(try b.cli(["put", "AUT:DEU:M:252310:2020", "value_usd=42"]).status == 0)
        let aHex = try a.status().nodeID
        let bHex = try b.status().nodeID
        #expect(Harness.waitUntil(seconds: 20) { (try? b.status().vector[aHex]) == 3 })
        #expect(Harness.waitUntil(seconds: 20) { (try? c.status().refusedOrigin) == 3 }, "\(c.log().suffix(3000))")
        let status = try c.status()
        #expect(status.vector[bHex] == 1)
        #expect(status.vector[aHex] == nil)
        #expect(status.records == 1)
        let row = try #require(try c.json([PeerStatus].self, ["peers"]).first { $0.nodeID == bHex })
        #expect(row.refused == 3)
        #expect(c.log().contains("this peer may not send entries of origin \(aHex.prefix(12))"), "\(c.log().suffix(3000))")
    }
}

/// `tradesync id --json`.
struct NodeIdentityView: Decodable {
    let id: String
    let short: String
    let hex: String
}
