import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// Node `local` authored seqs 1…8 (one key each, seq 8 rewriting seq 1's key), a peer
/// holds all eight, and the node is then restored from a backup holding only 1…5.
private struct RestoredFixture {
    let local = nodeID(0x0A)
    let peer = nodeID(0xB2)
    let authored: [Entry]
    let restored: ReplicaNode<MemoryStore>
    let restoredStore: MemoryStore
    let peerNode: ReplicaNode<MemoryStore>

    init() throws {
        let store = MemoryStore()
        var original = try ReplicaNode(localID: local, store: store)
        var authored: [Entry] = []
        for seq in 1...8 {
            let key = testKey(seq == 8 ? 1 : seq)
            let values = TradeValues(valueUSD: ExactDecimal(Int64(seq * 100)))
            authored += try original.writeLocal([(key: key, operation: .put(values))], nowMs: 1_000 + UInt64(seq))
        }
        self.authored = authored
        var peerNode = try ReplicaNode(localID: peer, store: MemoryStore())
        _ = try peerNode.persist(authored)
        self.peerNode = peerNode
        restoredStore = store.backup(entries: 5)
        restored = try ReplicaNode(localID: local, store: restoredStore)
    }
}

/// The error `body` throws, or nil (recording an issue) when it does not throw.
private func refusal(_ body: () throws(NodeError) -> Void) -> NodeError? {
    do { try body() } catch { return error }
    Issue.record("the write was not refused")
    return nil
}

@Suite struct ReplicaNodeAmnesiaTests {
    @Test("Node: amnesia guard: a peer holds more of the own origin: writes refused saying why, nothing written")
    func guardRefuses() throws {
        let fixture = try RestoredFixture()
        var node = fixture.restored
        #expect(node.authoringGuard == nil)
        let equalClaim = node.observeOwnOriginClaim(5, from: fixture.peer)
        #expect(!equalClaim)  // holds as much: no guard
        let higherClaim = node.observeOwnOriginClaim(8, from: fixture.peer)
        #expect(higherClaim)
        #expect(node.authoringGuard == AuthoringGuard(claimedSeq: 8, peer: fixture.peer, heldSeq: 5))
        let lowerClaim = node.observeOwnOriginClaim(6, from: nodeID(0xC3))
        #expect(lowerClaim)  // still guarded, and the claim stays
        #expect(node.authoringGuard?.claimedSeq == 8 && node.authoringGuard?.peer == fixture.peer)

        let error = refusal { () throws(NodeError) in
            _ = try node.stageLocal([(key: testKey(3), operation: .delete)], nowMs: 2_000)
        }
        guard case .behindOnOwnOrigin(let held, let claimed, let peer)? = error else {
            Issue.record("unexpected \(String(describing: error))"); return
        }
        #expect(held == 5 && claimed == 8 && peer == fixture.peer)
        #expect(
            error?.description
                == "writes refused: node holds its own entries up to seq 5 but peer \(fixture.peer.short) holds up to seq 8: "
                + "this data directory was restored from an older backup; writes resume once seqs 6…8 are pulled back from peers")
        let importError = refusal { () throws(NodeError) in _ = try node.stageImport([], nowMs: 2_000) }
        #expect(importError.map { if case .behindOnOwnOrigin = $0 { true } else { false } } == true)
        #expect(fixture.restoredStore.entryCount == 5)
        #expect(node.replica.vector[fixture.local] == 5)
    }

    @Test("Node: a restored node pulls its own 6…8 back: the guard clears, the next write is seq 9 and covers them")
    func pullBackThenContinue() throws {
        let fixture = try RestoredFixture()
        var node = fixture.restored
        node.observeOwnOriginClaim(8, from: fixture.peer)
        let partial = try node.stageReceived(Array(fixture.authored[5..<7]))
        #expect(partial.written == 2 && partial.forks.isEmpty)
        #expect(node.authoringGuard == AuthoringGuard(claimedSeq: 8, peer: fixture.peer, heldSeq: 7))
        let rest = try node.stageReceived(Array(fixture.authored[5..<8]))  // 6 and 7 again, and 8
        #expect(rest.written == 1 && rest.forks.isEmpty)
        #expect(node.authoringGuard == nil)
        #expect(fixture.restoredStore.all == fixture.authored)

        let values = TradeValues(valueUSD: ExactDecimal(4_242))
        let next = try node.writeLocal([(key: testKey(1), operation: .put(values))], nowMs: 3_000)
        #expect(next.map(\.dot) == [Dot(origin: fixture.local, seq: 9)])
        #expect(next[0].context.covers(Dot(origin: fixture.local, seq: 8)))
        #expect(next[0].context.covers(Dot(origin: fixture.local, seq: 1)))
        #expect(node.replica.read(testKey(1))?.siblings.map(\.operation) == [.put(values)])
        // Nothing lost: the other keys keep their values, and the peer reaches the same state.
        for seq in 2...7 {
            #expect(node.replica.read(testKey(seq))?.winner.operation == fixture.authored[seq - 1].operation)
        }
        var peer = fixture.peerNode
        _ = try peer.persist(next)
        #expect(peer.digest() == node.digest())
    }

    @Test("Node: the amnesia guard restored at start survives a restart")
    func guardRestoredAtStart() throws {
        let fixture = try RestoredFixture()
        var node = fixture.restored
        node.observeOwnOriginClaim(8, from: fixture.peer)
        let saved = try #require(node.authoringGuard)
        var restarted = try ReplicaNode(localID: fixture.local, store: fixture.restoredStore)
        #expect(restarted.authoringGuard == nil)
        let restoredClaim = restarted.observeOwnOriginClaim(saved.claimedSeq, from: saved.peer)
        #expect(restoredClaim)
        #expect(restarted.authoringGuard == saved)
        #expect(refusal { () throws(NodeError) in _ = try restarted.stageLocal([], nowMs: 1) } != nil)
    }

    @Test("Node: refusal message for one missing entry names the single seq")
    func singleSeqMessage() {
        let error = NodeError.behindOnOwnOrigin(held: 5, claimed: 6, peer: nodeID(0xB2))
        #expect(error.description.hasSuffix("writes resume once seq 6 is pulled back from peers"))
    }
}
