import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// A node with its own signing key (seeded, so every run signs the same bytes).
func signingNode(seed: UInt8) throws -> (ReplicaNode<MemoryStore>, MemoryStore) {
    let signer = try ChainSigner(rawPrivateKey: [UInt8](repeating: seed, count: 32))
    let store = MemoryStore()
    var node = try ReplicaNode(localID: signer.origin, store: store)
    node.signer = signer
    return (node, store)
}

/// Writes `count` puts on distinct keys (reporter `testKey(key)`) as one append.
private func write(_ node: inout ReplicaNode<MemoryStore>, _ count: Int, key: Int = 0, from first: Int = 0) throws {
    var writes: [(key: TradeKey, operation: Operation)] = []
    for index in first..<(first + count) {
        let base = testKey(key)
        let period = try Period(year: 1900 + index % 300, month: (index / 300) % 13)
        let key = try TradeKey(
            reporter: base.reporter, partner: base.partner, flow: base.flow, commodity: base.commodity, period: period)
        writes.append((key, .put(TradeValues(valueUSD: ExactDecimal(Int64(index + 1))))))
    }
    _ = try node.stageLocal(writes, nowMs: 1_700_000_000_000)
}

/// Everything `node` holds of `origin`, as a peer fetches it.
private func fetchAll(_ node: ReplicaNode<MemoryStore>) throws -> [SignedEntry] {
    try node.fetch(after: VersionVector(), entriesMax: 100_000, bytesMax: 1 << 30)
}

/// A copy of `entry` with another value (an alteration on the way).
private func altered(_ entry: Entry) -> Entry {
    Entry(
        dot: entry.dot, hlc: entry.hlc, context: entry.context, key: entry.key,
        operation: .put(TradeValues(valueUSD: ExactDecimal(999_999))))
}

/// Asserts `body` throws ``NodeError/forged(origin:firstSeq:lastSeq:reason:)`` with these
/// values and a reason containing `fragment`.
private func expectForged(
    origin: NodeID, _ seqs: ClosedRange<UInt64>, _ fragment: String, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("not refused")
    } catch {
        guard case NodeError.forged(let got, let first, let last, let reason) = error else {
            Issue.record("expected forged, got \(error)")
            return
        }
        #expect(got == origin)
        #expect(first...last == seqs)
        #expect(reason.contains(fragment), "\(reason)")
    }
}

@Suite struct ReplicaNodeChainTests {
    @Test("Chain: own appends are sealed at their last entry and every 1024 entries; each seal verifies")
    func ownSeals() throws {
        var (node, store) = try signingNode(seed: 1)
        try write(&node, 2500)
        try write(&node, 1, from: 2500)
        let origin = node.replica.localID
        #expect(store.seals.keys.map(\.seq).sorted() == [1024, 2048, 2500, 2501])
        var head = EntryChain.genesis
        for item in try store.sealedEntries(origin: origin, after: 0, limit: 3000) {
            head = EntryChain.next(head, entry: item.entry)
            if let seal = item.seal {
                #expect(seal.head == head)
                #expect(EntryChain.problem(with: seal.signature, at: item.entry.dot, head: head) == nil)
            }
        }
    }

    @Test("Chain: signed entries travel A → B → C; each receiver verifies and keeps the origin's seals")
    func forwardedAcrossHops() throws {
        var (a, aStore) = try signingNode(seed: 1)
        var (b, bStore) = try signingNode(seed: 2)
        var (c, cStore) = try signingNode(seed: 3)
        try write(&a, 3)
        try write(&a, 2, from: 3)
        let first = try b.stageReceived(try fetchAll(a), policy: ReceivePolicy())
        #expect(first.written == 5)
        #expect(bStore.seals == aStore.seals)
        // C gets A's entries from B only, and chains A's later entries on them.
        #expect(try c.stageReceived(try fetchAll(b), policy: ReceivePolicy()).written == 5)
        try write(&a, 1, from: 5)
        let tail = try a.fetch(after: c.replica.vector, entriesMax: 10, bytesMax: 1 << 20)
        #expect(try c.stageReceived(tail, policy: ReceivePolicy()).written == 1)
        #expect(cStore.seals == aStore.seals)
        #expect(c.digest() == a.digest())
    }

    @Test("Receive with deferApply: written to the store at once, applied only by applyDeferred, to the same state")
    func deferredApply() throws {
        var (a, _) = try signingNode(seed: 1)
        var (b, bStore) = try signingNode(seed: 2)
        var (c, _) = try signingNode(seed: 3)
        try write(&a, 3)
        try write(&a, 2, from: 3)
        let staged = try b.stageReceived(try fetchAll(a), policy: ReceivePolicy(), deferApply: true)
        #expect(staged.written == 5 && staged.ticket == 5)
        #expect(bStore.entryCount == 5)
        #expect(b.replica.vector[a.replica.localID] == 0, "not applied before applyDeferred")
        b.applyDeferred()
        #expect(b.replica.vector[a.replica.localID] == 5)
        b.applyDeferred()  // nothing left: no change
        _ = try c.stageReceived(try fetchAll(a), policy: ReceivePolicy())
        #expect(b.digest() == a.digest() && b.digest() == c.digest())
        #expect(b.replica.counts == c.replica.counts)
    }

    @Test("Chain: a bulk append crosses in session-sized fetches (4096 entries, 768 KiB), each run ending at a seal")
    func bulkInFetches() throws {
        var (a, _) = try signingNode(seed: 1)
        var (b, _) = try signingNode(seed: 2)
        try write(&a, 9553)
        var fetches = 0
        while true {
            let batch = try a.fetch(after: b.replica.vector, entriesMax: 4096, bytesMax: 768 * 1024)
            if batch.isEmpty { break }
            #expect(batch.last?.signature != nil)
            _ = try b.stageReceived(batch, policy: ReceivePolicy())
            fetches += 1
            if fetches > 10 { break }
        }
        #expect(b.replica.vector[a.replica.localID] == 9553)
        #expect(fetches == 3)
        #expect(b.digest() == a.digest())
    }

    @Test("Chain: an entry altered on the way is refused as forged, naming origin and dots; nothing is written")
    func alteredEntry() throws {
        var (a, _) = try signingNode(seed: 1)
        var (b, bStore) = try signingNode(seed: 2)
        try write(&a, 3)
        var run = try fetchAll(a)
        run[1] = SignedEntry(altered(run[1].entry), signature: run[1].signature)
        expectForged(origin: a.replica.localID, 1...3, "does not verify") {
            _ = try b.stageReceived(run, policy: ReceivePolicy())
        }
        #expect(bStore.entryCount == 0)
        #expect(b.replica.vector[a.replica.localID] == 0)
    }

    @Test("Chain: a middle node that re-signs with its own key, or drops the last signature, is refused")
    func resignedOrUnsigned() throws {
        var (a, _) = try signingNode(seed: 1)
        var (b, bStore) = try signingNode(seed: 2)
        let middle = try ChainSigner(rawPrivateKey: [UInt8](repeating: 9, count: 32))
        try write(&a, 2)
        var run = try fetchAll(a)
        let forged = altered(run[1].entry)
        let head = EntryChain.next(EntryChain.next(EntryChain.genesis, entry: run[0].entry), entry: forged)
        run[1] = SignedEntry(forged, signature: try middle.seal(head: head, at: forged.dot).signature)
        expectForged(origin: a.replica.localID, 1...2, "not by its origin") {
            _ = try b.stageReceived(run, policy: ReceivePolicy())
        }
        let unsigned = try fetchAll(a).map { SignedEntry($0.entry) }
        expectForged(origin: a.replica.localID, 1...2, "no signature") {
            _ = try b.stageReceived(unsigned, policy: ReceivePolicy())
        }
        #expect(bStore.entryCount == 0)
    }

    @Test("Chain: an old batch replayed after newer entries changes nothing")
    func replayedBatch() throws {
        var (a, _) = try signingNode(seed: 1)
        var (b, bStore) = try signingNode(seed: 2)
        try write(&a, 2)
        let old = try fetchAll(a)
        try write(&a, 2, from: 2)
        #expect(try b.stageReceived(try fetchAll(a), policy: ReceivePolicy()).written == 4)
        let digest = b.digest()
        let replay = try b.stageReceived(old, policy: ReceivePolicy())
        #expect(replay.written == 0 && replay.forks.isEmpty && replay.refusals.total == 0)
        #expect(bStore.entryCount == 4)
        #expect(b.digest() == digest)
    }

    @Test("Authorization: entries of an origin the peer may not send are refused and counted; others written")
    func originNotAllowed() throws {
        var (a, _) = try signingNode(seed: 1)
        var (c, _) = try signingNode(seed: 3)
        var (b, _) = try signingNode(seed: 2)
        try write(&a, 2)
        try write(&c, 3, key: 1)
        let batch = try fetchAll(a) + fetchAll(c)
        let staged = try b.stageReceived(batch, policy: ReceivePolicy(origins: [c.replica.localID]))
        #expect(staged.written == 3)
        #expect(staged.refusals.origin == 2)
        #expect(staged.refusals.reason?.contains("may not send entries of origin \(a.replica.localID.short)") == true)
        #expect(b.replica.vector[a.replica.localID] == 0)
        #expect(b.replica.vector[c.replica.localID] == 3)
        #expect(b.refused.origin == 2)
    }

    @Test("Authorization: a reporter the origin may not author cuts its run at the last signed entry before it; its later entries are refused")
    func reporterNotAllowed() throws {
        var (a, _) = try signingNode(seed: 1)
        var (b, _) = try signingNode(seed: 2)
        let origin = a.replica.localID
        // testKey(0) is reporter CHN, testKey(2) is FRA.
        try write(&a, 2, key: 0)  // A:1–2, sealed at 2
        try write(&a, 2, key: 0, from: 2)  // A:3–4, sealed at 4
        try write(&a, 1, key: 2)  // A:5 FRA
        try write(&a, 1, key: 0, from: 4)  // A:6 CHN, after the refused one
        b.authorization = Authorization(reporters: [origin: [try AreaCode("CHN"), try AreaCode("AUT")]])
        let staged = try b.stageReceived(try fetchAll(a), policy: ReceivePolicy())
        #expect(staged.written == 4)
        #expect(staged.refusals.reporter == 2)
        #expect(staged.refusals.reason?.contains("may not author records of reporter FRA (allowed: AUT, CHN)") == true)
        #expect(b.replica.vector[origin] == 4)
        // A later batch of that origin is refused too, without a gap error.
        try write(&a, 1, key: 0, from: 5)
        let later = try b.stageReceived(try a.fetch(after: b.replica.vector, entriesMax: 10, bytesMax: 1 << 20), policy: ReceivePolicy())
        #expect(later.written == 0 && later.refusals.reporter == 3)
        #expect(later.refusals.reason?.contains("chain stops here at \(Dot(origin: origin, seq: 5)): origin") == true, "\(String(describing: later.refusals.reason))")
        #expect(b.refused.reporter == 5)
    }

    @Test("Authorization: the node's own write for a reporter it may not author is refused, nothing written")
    func ownReporterNotAllowed() throws {
        var (a, store) = try signingNode(seed: 1)
        a.authorization = Authorization(reporters: [a.replica.localID: [try AreaCode("CHN")]])
        try write(&a, 1, key: 0)
        do {
            try write(&a, 1, key: 2)
            Issue.record("not refused")
        } catch let error as NodeError {
            guard case .unauthorized(let reason) = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(reason.contains("reporter FRA (allowed: CHN)"))
        }
        #expect(store.entryCount == 1)
    }
}
