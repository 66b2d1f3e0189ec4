import Foundation
import Logging
import Testing
import TradeSyncControl
@testable import TradeSyncDaemon
import TradeSyncClock
import TradeSyncModel
import TradeSyncTransport

/// `count` records on distinct keys, from key number `first` on.
private func records(_ count: Int, first: Int) throws -> [TradeRecord] {
    try (first..<(first + count)).map { index in
        TradeRecord(
            key: try TradeKey(parsing: "DEU:FRA:X:8507:\(1900 + index)"),
            values: TradeValues(valueUSD: ExactDecimal(Int64(index + 1))))
    }
}

/// A node in a fresh temporary directory; `body` runs with it, then it shuts down.
private func withNode(_ body: (Node) async throws -> Void) async throws {
    let directory = NSTemporaryDirectory() + "tradesync-wait-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var config = NodeConfig()
    config.dataDir = directory
    var logger = Logger(label: "wait-test")
    logger.logLevel = .critical
    let node = try Node(identity: NodeIdentity.loadOrCreate(directory: directory), config: config, logger: logger)
    try await body(node)
    await node.beginShutdown()
    await node.shutdown()
}

@Suite struct EntryWaitTests {
    @Test("wait: answers at once when the node already holds the entries, with its status")
    func alreadyHeld() async throws {
        try await withNode { node in
            _ = try await node.importRecords(try records(3, first: 0))
            let answer = await node.handle(ControlRequest(command: .wait, entries: 3, timeoutMs: 0), blob: [])
            #expect(answer.ok, "\(answer.error ?? "")")
            #expect(answer.status?.entries == 3)
            #expect(answer.status?.digest == "", "a wait answer leaves the digest out, as peers does")
        }
    }

    @Test("wait: a parked request is answered when an import makes the Nth entry durable, not before")
    func releasedByImport() async throws {
        try await withNode { node in
            _ = try await node.importRecords(try records(2, first: 0))
            let waiting = Task { await node.handle(ControlRequest(command: .wait, entries: 5, timeoutMs: 60_000), blob: []) }
            try await waitParked(node, 1)
            _ = try await node.importRecords(try records(2, first: 2))  // 4 of 5: still parked
            #expect(await node.entryWaiters.parked.count == 1)
            _ = try await node.importRecords(try records(1, first: 4))
            let answer = await waiting.value
            #expect(answer.ok, "\(answer.error ?? "")")
            #expect(answer.status?.entries == 5)
            #expect(await node.entryWaiters.parked.isEmpty)
        }
    }

    @Test("wait: times out with code timeout and the count held; bad requests are invalid")
    func timeoutAndInvalid() async throws {
        try await withNode { node in
            _ = try await node.importRecords(try records(1, first: 0))
            let answer = await node.handle(ControlRequest(command: .wait, entries: 2, timeoutMs: 50), blob: [])
            #expect(!answer.ok)
            #expect(answer.errorCode == "timeout")
            #expect(answer.error == "the node holds 1 of 2 entries durably after 50 ms")
            #expect(await node.entryWaiters.parked.isEmpty)
            let missing = await node.handle(ControlRequest(command: .wait), blob: [])
            #expect(missing.errorCode == "invalid")
            let negative = await node.handle(ControlRequest(command: .wait, entries: -1), blob: [])
            #expect(negative.errorCode == "invalid")
            let tooLong = await node.handle(
                ControlRequest(command: .wait, entries: 9, timeoutMs: ControlRequest.waitTimeoutMsMax + 1), blob: [])
            #expect(tooLong.errorCode == "invalid")
        }
    }

    @Test("wait: a parked request is refused when the node begins to stop")
    func releasedAtShutdown() async throws {
        try await withNode { node in
            let waiting = Task { await node.handle(ControlRequest(command: .wait, entries: 10, timeoutMs: 60_000), blob: []) }
            try await waitParked(node, 1)
            await node.beginShutdown(grace: .zero)
            let answer = await waiting.value
            #expect(answer.errorCode == "refused")
            #expect(answer.error == "the node is stopping")
        }
    }

    @Test("wait: the request's JSON is {\"command\":\"wait\",\"entries\":N,\"timeout_ms\":T}")
    func requestJSON() throws {
        let request = ControlRequest(command: .wait, entries: 1_000_100, timeoutMs: 30_000)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(json.contains("\"command\":\"wait\"") && json.contains("\"entries\":1000100"), "\(json)")
        #expect(json.contains("\"timeout_ms\":30000"), "\(json)")
        let decoded = try JSONDecoder().decode(
            ControlRequest.self, from: Data("{\"command\":\"wait\",\"entries\":7,\"timeout_ms\":5}".utf8))
        #expect(decoded == ControlRequest(command: .wait, entries: 7, timeoutMs: 5))
    }

    @Test("Dial: a pinned peer that dialled in is not dialled back, even before any session of this node's own")
    func pinnedPeerNotRedialled() async throws {
        try await withNode { node in
            let peer = try #require(NodeID(bytes: [UInt8](repeating: 7, count: 32)))
            let other = try #require(NodeID(bytes: [UInt8](repeating: 9, count: 32)))
            #expect(await node.shouldDial("127.0.0.1:7402", pinned: peer))
            let kept = await node.sessionStarted(
                link: LinkID(rawValue: 1), direction: .inbound, address: "127.0.0.1:50123", peer: peer, version: 3,
                authenticated: peer, notify: { _ in }, close: { _ in })
            #expect(kept)
            #expect(await !node.shouldDial("127.0.0.1:7402", pinned: peer), "its session from 127.0.0.1:50123 is up")
            #expect(await node.shouldDial("127.0.0.1:7403", pinned: other))
            #expect(await node.shouldDial("127.0.0.1:7402"), "unpinned and never seen at that address: dialled")
        }
    }

    private func waitParked(_ node: Node, _ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while await node.entryWaiters.parked.count != count {
            guard ContinuousClock.now < deadline else {
                Issue.record("no request parked within 60 s")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
