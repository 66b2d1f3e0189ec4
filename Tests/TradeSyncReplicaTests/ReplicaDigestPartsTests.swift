import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// The apply's fast path hashes a one-version key's digest elements from the parts of the
/// entry's canonical bytes (``Entry/withParts(_:)``); the general path encodes them
/// (``Replica/stateElement(_:_:)``, ``Replica/contentElement(_:_:)``). These tests hold the
/// two to the same bytes.
@Suite struct ReplicaDigestPartsTests {
    @Test("Entry parts: dot and HLC, key and operation are exactly their encodings, built or decoded, at 1–3 byte seqs")
    func partsAreEncodings() throws {
        let writes = generatedWrites(3)
        for seq: UInt64 in [1, 127, 128, 16_383, 16_384, 300_000] {
            for (index, write) in writes.enumerated() {
                let operation: Operation = index == 2 ? .delete : write.operation
                var context = VersionVector()
                if seq > 1 { context.add(Dot(origin: nodeID(4), seq: seq / 2)) }
                let built = Entry(
                    dot: Dot(origin: nodeID(3), seq: seq), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + seq, logical: 7),
                    context: context, key: write.key, operation: operation)
                let decoded = try Entry.decode(built.encoded())
                for entry in [built, decoded] {
                    var dotAndHLC = ByteWriter(capacity: 64)
                    entry.dot.origin.encode(into: &dotAndHLC)
                    dotAndHLC.writeVarint(entry.dot.seq)
                    dotAndHLC.writeU64(entry.hlc.rawValue)
                    var key = ByteWriter(capacity: 64)
                    entry.key.encode(into: &key)
                    var op = ByteWriter(capacity: 64)
                    entry.operation.encode(into: &op)
                    let parts = entry.withParts { a, b, c in (Array(a), Array(b), Array(c)) }
                    #expect(parts?.0 == dotAndHLC.bytes, "seq \(seq)")
                    #expect(parts?.1 == key.bytes, "seq \(seq)")
                    #expect(parts?.2 == op.bytes, "seq \(seq)")
                }
            }
        }
    }

    @Test("Digest fast path: running digests equal the from-scratch ones (general encoders) over new keys, updates, deletes, conflicts, decoded entries", arguments: [1, 2, 3])
    func runningEqualsScratch(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let writes = generatedWrites(400, seed: seed)
        var a = Replica(localID: nodeID(1))
        var b = Replica(localID: nodeID(2))
        var sent: [Entry] = []
        for step in 0..<700 {
            // New keys at first, then updates and deletes of earlier ones, by two writers.
            let index = step < 400 ? step : Int(rng.next() % 400)
            let write = writes[index]
            let operation: Operation = step >= 400 && rng.next() % 5 == 0 ? .delete : write.operation
            let writer = rng.next() % 4 == 0
            if writer {
                let entry = b.prepare([(key: write.key, operation: operation)], nowMs: 1_700_000_000_000 + UInt64(step))[0]
                try b.apply(entry)
                sent.append(entry)
            } else {
                let entry = a.prepare([(key: write.key, operation: operation)], nowMs: 1_700_000_000_000 + UInt64(step))[0]
                try a.apply(entry)
                sent.append(entry)
            }
        }
        // A third replica receives every entry as decoded from its bytes (a peer's path).
        var c = Replica(localID: nodeID(5))
        for entry in sent { try c.apply(try Entry.decode(entry.encoded())) }
        for entry in sent where entry.dot.origin == nodeID(2) { _ = try a.apply(entry) }
        for entry in sent where entry.dot.origin == nodeID(1) { _ = try b.apply(entry) }
        for (name, replica) in [("a", a), ("b", b), ("c", c)] {
            let scratch = replica.digestsFromScratch()
            #expect(replica.digest() == scratch.state, "seed \(seed), replica \(name)")
            #expect(replica.contentDigest() == scratch.content, "seed \(seed), replica \(name)")
        }
        #expect(a.digest() == c.digest() && b.digest() == c.digest(), "seed \(seed)")
        #expect(c.counts.keys > 300 && c.counts.tombstones > 0, "seed \(seed): \(c.counts)")
    }

    @Test("New-key fast path: a key's first entry with an empty context reads, counts and digests as KeyState.apply makes it; a first entry with a context takes the general path", arguments: [4, 5])
    func firstVersionAsGeneral(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let writes = generatedWrites(300, seed: seed)
        var replica = Replica(localID: nodeID(1))
        var expected: [TradeKey: KeyState] = [:]
        var counts = ReplicaCounts()
        for (index, write) in writes.enumerated() where expected[write.key] == nil {
            let operation: Operation = rng.next() % 6 == 0 ? .delete : write.operation
            // Every fifth key's first entry names a dot no replica here holds (a version
            // superseded elsewhere): its state keeps that context, so it is not packed alone.
            var context = VersionVector()
            if index % 5 == 4 { context.add(Dot(origin: nodeID(9), seq: UInt64(index + 1))) }
            let entry = Entry(
                dot: Dot(origin: nodeID(3), seq: replica.vector[nodeID(3)] + 1),
                hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + UInt64(index), logical: 0), context: context,
                key: write.key, operation: operation)
            let outcome = try replica.apply(entry)
            #expect(outcome == .applied, "seed \(seed), key \(index)")
            var state = KeyState()
            let survived = state.apply(entry)
            #expect(survived)
            expected[write.key] = state
            let contribution = Replica.contribution(of: state)
            counts.keys += contribution.keys
            counts.records += contribution.records
            counts.tombstones += contribution.tombstones
        }
        for (key, state) in expected {
            let view = replica.read(key)
            #expect(view?.siblings == state.siblings, "seed \(seed), \(key)")
            #expect(view?.context == state.context, "seed \(seed), \(key)")
        }
        #expect(replica.counts == counts, "seed \(seed)")
        #expect(counts.tombstones > 0 && counts.records > 200, "seed \(seed): \(counts)")
        let scratch = replica.digestsFromScratch()
        #expect(replica.digest() == scratch.state, "seed \(seed)")
        #expect(replica.contentDigest() == scratch.content, "seed \(seed)")
    }
}
