import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// A node `local` that already holds `held` (received from peers).
private func node(_ local: NodeID, holding held: [Entry]) throws -> (ReplicaNode<MemoryStore>, MemoryStore) {
    let store = MemoryStore()
    var node = try ReplicaNode(localID: local, store: store)
    let staged = try node.stageReceived(held)
    #expect(staged.written == held.count && staged.forks.isEmpty)
    return (node, store)
}

@Suite struct ReplicaNodeForkTests {
    let local = nodeID(0x01)
    let peerB = nodeID(0x0B)
    let peerC = nodeID(0x0C)

    @Test("Node: a held dot received with other content: fork evidence, origin quarantined, its new entries skipped")
    func forkOnHeldDot() throws {
        var (node, store) = try node(local, holding: receivedRun(peerB, 1...3))
        let other = received(peerB, 2, key: 2, usd: 999)
        let staged = try node.stageReceived(
            [received(peerB, 1, key: 1), other, received(peerB, 3, key: 3), received(peerB, 4, key: 4)])
        #expect(staged.forks.count == 1)
        let fork = try #require(staged.forks.first)
        #expect(fork.dot == Dot(origin: peerB, seq: 2))
        #expect(fork.held == received(peerB, 2, key: 2))
        #expect(fork.received == other)
        #expect(staged.written == 0)
        #expect(staged.quarantineSkipped == 1)  // B:4, new but quarantined
        #expect(node.quarantined[peerB] == fork)
        #expect(node.replica.vector[peerB] == 3)
        #expect(store.entryCount == 3)
        #expect(node.quarantineSkipped == 1)
    }

    @Test("Node: an identical re-send is no fork; held dots cost one store read per contiguous run")
    func resendReadsPerRun() throws {
        let held = receivedRun(peerB, 1...5) + receivedRun(peerC, 1...3)
        var (node, store) = try node(local, holding: held)
        let before = store.rangedReads
        let again = try node.stageReceived(held)
        #expect(again.forks.isEmpty && again.written == 0 && again.quarantineSkipped == 0)
        #expect(store.rangedReads - before == 2)  // B:1…5 and C:1…3
        let split = [1, 2, 4, 5].map { received(peerB, UInt64($0), key: $0) }
        _ = try node.stageReceived(split)
        #expect(store.rangedReads - before == 4)  // B:1…2 and B:4…5
        #expect(node.quarantined.isEmpty)
        #expect(store.entryCount == 8)
    }

    @Test("Node: a quarantined origin's later entries are skipped without a gap error; other origins in the batch apply")
    func quarantineSkipsLaterSeqs() throws {
        var (node, store) = try node(local, holding: receivedRun(peerB, 1...2))
        let evidence = try #require(
            ForkEvidence(held: received(peerB, 2, key: 2), received: received(peerB, 2, key: 2, usd: 7)))
        let newlyQuarantined = node.quarantine(evidence)
        #expect(newlyQuarantined)
        let batch = [
            received(peerB, 7, key: 7), received(peerC, 1, key: 1), received(peerB, 8, key: 8), received(peerC, 2, key: 2),
        ]
        let staged = try node.stageReceived(batch)
        #expect(staged.written == 2)
        #expect(staged.quarantineSkipped == 2)
        #expect(staged.forks.isEmpty)
        #expect(node.replica.vector[peerC] == 2)
        #expect(node.replica.vector[peerB] == 2)
        #expect(store.all.map(\.dot) == receivedRun(peerB, 1...2).map(\.dot) + receivedRun(peerC, 1...2).map(\.dot))
    }

    @Test("Node: a fork and, in the same batch, the forked origin's gap: no error, the origin is quarantined")
    func forkExcusesItsOwnGap() throws {
        var (node, _) = try node(local, holding: receivedRun(peerB, 1...2))
        let staged = try node.stageReceived(
            [received(peerB, 2, key: 2, usd: 5), received(peerB, 9), received(peerC, 1)])
        #expect(staged.forks.map(\.dot) == [Dot(origin: peerB, seq: 2)])
        #expect(staged.quarantineSkipped == 1)
        #expect(staged.written == 1)
        #expect(node.replica.vector[peerC] == 1)
    }

    @Test("Node: a gap of an origin not forked refuses the whole batch: nothing written, nothing quarantined")
    func gapRefusesBatch() throws {
        var (node, store) = try node(local, holding: receivedRun(peerB, 1...2))
        let batch = [received(peerB, 2, key: 2, usd: 5), received(peerC, 1), received(peerC, 3)]
        do {
            _ = try node.stageReceived(batch)
            Issue.record("a batch with a gap was accepted")
        } catch {
            guard case .batchGap(let dot, let expected) = error else { Issue.record("unexpected \(error)"); return }
            #expect(dot == Dot(origin: peerC, seq: 3) && expected == 2)
        }
        #expect(node.quarantined.isEmpty)
        #expect(store.entryCount == 2)
    }

    @Test("Node: one batch carrying a new dot twice with different content: a fork, neither copy written")
    func forkInsideBatch() throws {
        var (node, store) = try node(local, holding: [])
        let first = received(peerB, 1, key: 1)
        let second = received(peerB, 1, key: 1, usd: 77)
        let staged = try node.stageReceived([first, received(peerC, 1), second, received(peerB, 2)])
        #expect(staged.forks == [try #require(ForkEvidence(held: first, received: second))])
        #expect(staged.written == 1)
        #expect(staged.quarantineSkipped == 3)  // B:1 twice and B:2
        #expect(store.all.map(\.dot) == [Dot(origin: peerC, seq: 1)])
    }

    @Test("Node: own-origin fork: our entries kept, the other's refused, local writes refused naming the dot")
    func ownOriginFork() throws {
        let store = MemoryStore()
        var node = try ReplicaNode(localID: local, store: store)
        let written = try node.writeLocal(
            [(key: testKey(1), operation: .delete), (key: testKey(2), operation: .delete)], nowMs: 5)
        let theirs = received(local, 2, key: 2, usd: 1)
        let staged = try node.stageReceived([theirs, received(local, 3, key: 3)])
        #expect(staged.forks.count == 1)
        #expect(staged.forks.first?.held == written[1])
        #expect(staged.forks.first?.received == theirs)
        #expect(staged.quarantineSkipped == 1)
        #expect(store.all == written)
        for attempt in 0..<2 {
            do {
                if attempt == 0 {
                    _ = try node.stageLocal([(key: testKey(4), operation: .delete)], nowMs: 9)
                } else {
                    _ = try node.stageImport([], nowMs: 9)
                }
                Issue.record("attempt \(attempt): a forked node authored")
            } catch {
                guard case .ownOriginForked(let dot) = error else { Issue.record("unexpected \(error)"); return }
                #expect(dot == Dot(origin: local, seq: 2))
                #expect(error.description.contains("\(dot)"))
            }
        }
        #expect(store.entryCount == 2)
        // A restart that loads the evidence refuses too.
        var restarted = try ReplicaNode(localID: local, store: store)
        restarted.quarantine(try #require(staged.forks.first))
        #expect(throws: NodeError.self) { try restarted.stageLocal([(key: testKey(4), operation: .delete)], nowMs: 9) }
    }

    @Test("Node: quarantine loaded at start keeps the lowest-seq evidence per origin")
    func quarantineKeepsLowest() throws {
        var (node, _) = try node(local, holding: receivedRun(peerB, 1...5))
        let late = try #require(ForkEvidence(held: received(peerB, 5, key: 5), received: received(peerB, 5, usd: 1)))
        let early = try #require(ForkEvidence(held: received(peerB, 3, key: 3), received: received(peerB, 3, usd: 1)))
        let first = node.quarantine(late)
        let second = node.quarantine(early)
        #expect(first && !second)
        #expect(node.quarantined[peerB]?.dot.seq == 3)
        #expect(node.quarantineList.map(\.dot) == [Dot(origin: peerB, seq: 3)])
        #expect(ForkEvidence(held: received(peerB, 3), received: received(peerB, 3)) == nil)
        #expect(ForkEvidence(held: received(peerB, 3), received: received(peerB, 4)) == nil)
    }
}
