import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

private func node(_ byte: UInt8) -> NodeID {
    NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero
}

private func key(_ text: String) -> TradeKey { (try? TradeKey(parsing: text))! }

private let keyA = key("CHN:DEU:X:850760:2022")
private let keyB = key("AZE:W00:M:252310:2019:C01:3200")
private let keyC = key("THA:W00:M:8542:201403")
private let keyD = key("DEU:FRA:RX:TOTAL:2020:all:1000")
/// "0" is a customs code but means "all" as a transport; "C00" the other way round.
private let keyE = key("USA:MEX:M:87:2021:0:C00")

private func put(_ usd: Int64) -> Operation { .put(TradeValues(valueUSD: ExactDecimal(usd))) }

/// A put with every field set: decimals with fractions, a unit and flags.
private func richPut(_ cents: Int64) -> Operation {
    .put(
        TradeValues(
            valueUSD: ExactDecimal(normalizingMantissa: cents, scale: 2), netWeightKg: ExactDecimal(-cents),
            quantity: ExactDecimal(normalizingMantissa: 1_234_567, scale: 3), quantityUnit: "Number of items",
            flags: [.estimated, .confidential]))
}

@discardableResult
private func write(_ replica: inout Replica, _ key: TradeKey, _ op: Operation, at ms: UInt64) throws -> Entry {
    let entry = replica.prepare([(key: key, operation: op)], nowMs: ms)[0]
    try replica.apply(entry)
    return entry
}

/// Three offices: a three-way conflict, a put conflicting with a tombstone, an equal-value
/// collapse, a tombstone that superseded two versions, multi-origin contexts. Returns (a, b, c).
private func federation() throws -> (Replica, Replica, Replica) {
    var a = Replica(localID: node(1))
    var b = Replica(localID: node(2))
    var c = Replica(localID: node(3))
    let a1 = try write(&a, keyA, put(1), at: 1_000)
    let b1 = try write(&b, keyA, put(2), at: 1_000)
    let c1 = try write(&c, keyA, richPut(3), at: 900)
    let a2 = try write(&a, keyB, richPut(10), at: 1_001)
    let b2 = try write(&b, keyB, richPut(10), at: 1_002)
    for entry in [b1, b2] { try a.apply(entry) }
    for entry in [a1, a2] { try b.apply(entry) }
    let a3 = try write(&a, keyB, .delete, at: 1_003)  // context {a:2, b:2}: supersedes both, a tombstone
    let b3 = try write(&b, keyC, put(7), at: 1_004)
    try c.apply(b1)
    try c.apply(b2)
    try c.apply(b3)
    let c2 = try write(&c, keyC, .delete, at: 1_005)  // saw b3: supersedes it
    let c3 = try write(&c, keyD, put(4), at: 1_006)
    let c4 = try write(&c, keyE, richPut(6), at: 1_006)
    try a.apply(b3)
    let a4 = try write(&a, keyC, put(8), at: 1_007)  // saw b3, concurrent with c2: put against tombstone
    let a5 = try write(&a, keyD, put(4), at: 1_008)  // equal to c3: collapses into one sibling
    for entry in [c1, c2, c3, c4] { try a.apply(entry) }
    for entry in [a3, a4, a5] { try b.apply(entry) }
    return (a, b, c)
}

/// Round trip: same counts, vector, keys, views, conflicts and digest. Chunks of
/// `chunkKeys` keys: more than one chunk puts a helper thread to work in the decode.
@discardableResult
private func roundTrip(_ replica: Replica, chunkKeys: Int = 16_384) throws -> Replica {
    let original = replica
    let bytes = original.encodeSnapshot(chunkKeys: chunkKeys)
    // Packed keys written from the replica's tables: the very bytes of the general path.
    #expect(bytes == original.encodeSnapshot(chunkKeys: chunkKeys, packedPath: false))
    let decoded = try Replica.decodeSnapshot(bytes, localID: original.localID)
    #expect(decoded.localID == original.localID)
    #expect(decoded.counts == original.counts)
    #expect(decoded.vector == original.vector)
    #expect(decoded.sortedKeys == original.sortedKeys)
    for key in original.sortedKeys { #expect(decoded.read(key) == original.read(key), "\(key)") }
    #expect(decoded.conflicts() == original.conflicts())
    #expect(decoded.query(KeyFilter(includeDeleted: true)) == original.query(KeyFilter(includeDeleted: true)))
    if chunkKeys >= original.sortedKeys.count {  // same tables and keys, maybe in another order (so other chunk lengths)
        #expect(decoded.encodeSnapshot(chunkKeys: chunkKeys).count == bytes.count)
    }
    #expect(decoded.digest() == original.digest())
    #expect(decoded.contentDigest() == original.contentDigest())
    // The stored sums are the keys' own: recomputing from the decoded keys agrees.
    #expect(decoded.digestsFromScratch().state == original.digest())
    #expect(decoded.digestsFromScratch().content == original.contentDigest())
    return decoded
}

private func expectNoTrap(_ bytes: [UInt8], localID: NodeID) {
    guard var replica = try? Replica.decodeSnapshot(bytes, localID: localID) else { return }
    // Whatever decoded must be usable without trapping.
    _ = replica.digest()
    _ = replica.conflicts()
    for key in replica.sortedKeys { _ = replica.read(key) }
    _ = replica.prepare([(key: keyA, operation: .delete)], nowMs: 5)
}

/// The digest sums of the state `handWritten` describes, from a replica holding its one put.
private func handWrittenSums(dotSeq: UInt8, hlc: UInt64) -> [UInt8] {
    var replica = Replica(localID: node(1))
    let entry = Entry(
        dot: Dot(origin: node(1), seq: max(UInt64(dotSeq), 1)), hlc: HLCTimestamp(rawValue: hlc), context: VersionVector(),
        key: keyA, operation: put(100))
    if dotSeq == 1 { _ = try? replica.apply(entry) }
    return replica.stateSet.sumBytes + replica.contentSet.sumBytes
}

private func u64(_ value: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

/// A snapshot written by hand from the documented layout: node 1 holds one put of 100 USD on
/// `keyA`, dot (node 1, `dotSeq`). Parameters break one consistency rule each; `keyCount`
/// repeats the key, in one chunk or (`chunked`) one chunk each.
private func handWritten(
    vectorSeq: UInt8 = 1, dotSeq: UInt8 = 1, contextSeq: UInt8 = 1, clock: UInt64 = 5 << 16, hlc: UInt64 = 5 << 16,
    records: UInt8 = 1, keyCount: UInt8 = 1, chunked: Bool = false
) -> [UInt8] {
    var bytes: [UInt8] = [2] + node(1).bytes
    bytes += [1] + node(1).bytes  // origin table
    bytes += [1, 0, vectorSeq]  // vector {origin 0: vectorSeq}
    bytes += u64(clock)
    bytes += [records, 1, 0, 0]  // counts
    bytes += handWrittenSums(dotSeq: dotSeq, hlc: hlc)  // the state and content digests' sums
    bytes += [2, 3] + Array("CHN".utf8) + [3] + Array("DEU".utf8)  // areas
    bytes += [1, 1] + Array("X".utf8)  // flows
    bytes += [1, 6] + Array("850760".utf8)  // commodities
    bytes += [1, 0x07, 0xE6, 0]  // periods: 2022
    bytes += [1, 3] + Array("all".utf8)  // customs codes
    bytes += [1, 3] + Array("all".utf8)  // transport codes
    bytes += [1, 0]  // units: ""
    var keyState: [UInt8] = [0, 1, 0, 0, 0, 0, 0]  // CHN DEU X 850760 2022 all all
    keyState += [1, 0, contextSeq]  // context
    keyState += [1, 0, dotSeq] + u64(hlc)  // one version
    keyState += [1, 1, 0xC8, 0x01, 0, 0, 0]  // put: value_usd zigzag(100) scale 0, unit 0, flags 0
    if chunked {
        bytes += [keyCount]  // chunks
        for _ in 0..<keyCount { bytes += [1, UInt8(keyState.count)] + keyState }
    } else {
        bytes += [1, keyCount, UInt8(Int(keyCount) * keyState.count)]  // one chunk
        for _ in 0..<keyCount { bytes += keyState }
    }
    return bytes
}

@Suite struct ReplicaSnapshotTests {
    @Test("Snapshot: an empty replica round-trips")
    func empty() throws {
        let decoded = try roundTrip(Replica(localID: node(1)))
        #expect(decoded.counts == ReplicaCounts())
        #expect(decoded.vector.isEmpty)
    }

    @Test(
        "Snapshot: conflicts, tombstones and multi-origin contexts round-trip, in one chunk or several",
        arguments: [1, 2, 16_384])
    func federationRoundTrip(chunkKeys: Int) throws {
        let (a, b, c) = try federation()
        #expect(a.counts.conflicts >= 2 && a.counts.tombstones >= 1)
        #expect(a.read(keyC)?.context.sorted.count == 3)
        #expect(a.read(keyD)?.siblings.count == 1 && a.read(keyD)?.winner.dots.count == 2)
        #expect(a.read(keyB)?.isDeleted == true)
        for replica in [a, b, c] { try roundTrip(replica, chunkKeys: chunkKeys) }
    }

    @Test("Snapshot: random histories round-trip", arguments: [1, 2, 3, 4, 5, 6])
    func randomRoundTrip(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var writers = (1...4).map { Replica(localID: node(UInt8($0))) }
        var all: [Entry] = []
        let keys = [keyA, keyB, keyC, keyD]
        for step in 0..<120 {
            let w = Int(rng.next() % 4)
            for entry in all where rng.next() % 3 == 0 { _ = try? writers[w].apply(entry) }
            let op: Operation = rng.next() % 6 == 0 ? .delete : (rng.next() % 2 == 0 ? put(Int64(rng.next() % 3)) : richPut(5))
            all.append(try write(&writers[w], keys[Int(rng.next() % 4)], op, at: UInt64(step / 3)))
        }
        for replica in writers { try roundTrip(replica, chunkKeys: Int(seed % 3) + 1) }
    }

    @Test("Snapshot: a restored replica keeps working identically (apply, prepare, clock)")
    func keepsWorking() throws {
        var (a, b, c) = try federation()
        var restored = try Replica.decodeSnapshot(a.encodeSnapshot(), localID: node(1))
        // More entries from elsewhere, some on existing keys, some concurrent with a's state.
        var later: [Entry] = []
        later.append(try write(&b, keyA, put(99), at: 2_000))
        later.append(try write(&c, keyB, richPut(42), at: 3_000))
        later.append(try write(&c, key("USA:CAN:M:27:2023"), .delete, at: 3_001))
        for entry in later {
            #expect(try a.apply(entry) == restored.apply(entry))
        }
        #expect(restored.digest() == a.digest())
        #expect(restored.counts == a.counts)
        // A clock behind every HLC seen: timestamps come from the restored clock state.
        let writes: [(key: TradeKey, operation: Operation)] = [(keyA, put(5)), (keyC, .delete), (keyA, richPut(1))]
        let fromOriginal = a.prepare(writes, nowMs: 10)
        let fromRestored = restored.prepare(writes, nowMs: 10)
        #expect(fromRestored == fromOriginal)
        #expect(fromRestored.map(\.hlc).allSatisfy { $0 > HLCTimestamp(physicalMs: 3_000, logical: 0) })
        for entry in fromOriginal {
            try a.apply(entry)
            try restored.apply(entry)
        }
        #expect(restored.digest() == a.digest())
    }

    @Test("Snapshot: the documented layout, written by hand, decodes")
    func handWrittenLayout() throws {
        let replica = try Replica.decodeSnapshot(handWritten(), localID: node(1))
        let view = try #require(replica.read(keyA))
        #expect(view.siblings.count == 1)
        #expect(view.winner.operation == put(100))
        #expect(view.winner.dots == [Dot(origin: node(1), seq: 1)])
        #expect(view.winner.hlc == HLCTimestamp(physicalMs: 5, logical: 0))
        #expect(view.context == VersionVector([node(1): 1]))
        #expect(replica.counts == ReplicaCounts(records: 1, keys: 1))
        #expect(replica.vector == VersionVector([node(1): 1]))
        #expect(replica.digestsFromScratch().state == replica.digest())
        #expect(replica.digestsFromScratch().content == replica.contentDigest())
        var writer = replica
        #expect(writer.prepare([(keyA, .delete)], nowMs: 0)[0].hlc == HLCTimestamp(physicalMs: 5, logical: 1))
    }

    @Test("Snapshot: inconsistent states are refused, naming the field")
    func inconsistent() throws {
        func field(_ bytes: [UInt8]) -> String? {
            do {
                _ = try Replica.decodeSnapshot(bytes, localID: node(1))
                return nil
            } catch {
                if case .badValue(_, let field, _) = error { return field }
                return "\(error)"
            }
        }
        #expect(field(handWritten(vectorSeq: 1, dotSeq: 2, contextSeq: 2)) == "dot")  // vector does not cover the dot
        #expect(field(handWritten(vectorSeq: 2, dotSeq: 2, contextSeq: 1)) == "dot")  // context does not cover the dot
        #expect(field(handWritten(dotSeq: 0)) == "dot")
        #expect(field(handWritten(contextSeq: 0)) == "context")
        #expect(field(handWritten(records: 0)) == "counts")
        #expect(field(handWritten(clock: 4 << 16)) == "clock")
        #expect(field(handWritten(vectorSeq: 2, keyCount: 2)) == "key")  // the same key twice
        #expect(field(handWritten(vectorSeq: 2, keyCount: 3, chunked: true)) == "key")  // in different chunks
    }

    @Test("Snapshot: wrong localID, wrong version and trailing bytes throw")
    func wrongHeader() throws {
        let (a, _, _) = try federation()
        let bytes = a.encodeSnapshot()
        #expect(throws: DecodeError.self) { try Replica.decodeSnapshot(bytes, localID: node(2)) }
        var wrongVersion = bytes
        wrongVersion[0] = 1  // version 1 stored a sorted-order digest: refused, so the node replays its log
        #expect(throws: DecodeError.badValue(offset: 0, field: "snapshot format version", reason: "1, expected 2")) {
            try Replica.decodeSnapshot(wrongVersion, localID: node(1))
        }
        #expect(throws: DecodeError.trailingBytes(offset: bytes.count, count: 1)) {
            try Replica.decodeSnapshot(bytes + [0], localID: node(1))
        }
        #expect(throws: DecodeError.truncated(offset: 0, needed: 1)) { try Replica.decodeSnapshot([], localID: node(1)) }
    }

    @Test("Snapshot: every truncation throws")
    func truncations() throws {
        let (a, b, _) = try federation()
        for (replica, chunkKeys) in [(a, 16_384), (a, 2), (b, 1), (Replica(localID: node(1)), 1)] {
            let bytes = replica.encodeSnapshot(chunkKeys: chunkKeys)
            for length in 0..<bytes.count {
                #expect(throws: DecodeError.self, "length \(length)") {
                    try Replica.decodeSnapshot(Array(bytes[..<length]), localID: replica.localID)
                }
            }
        }
    }

    @Test("Snapshot: flipped and random bytes throw or decode, never trap", arguments: [16_384, 2])
    func corruption(chunkKeys: Int) throws {
        let (a, _, _) = try federation()
        let bytes = a.encodeSnapshot(chunkKeys: chunkKeys)
        for index in bytes.indices {
            for mask: UInt8 in [0x01, 0x02, 0x10, 0x80, 0xFF] {
                var flipped = bytes
                flipped[index] ^= mask
                expectNoTrap(flipped, localID: node(1))
            }
        }
        var rng = SplitMix64(seed: 77)
        for _ in 0..<2_000 {
            var mutated = bytes
            for _ in 0...(rng.next() % 4) { mutated[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            expectNoTrap(mutated, localID: node(1))
            let garbage = (0..<(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            expectNoTrap([1] + node(1).bytes + garbage, localID: node(1))
        }
        // Huge counts and lengths are refused before anything is reserved.
        let huge: [UInt8] = [1] + node(1).bytes + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        #expect(throws: DecodeError.self) { try Replica.decodeSnapshot(huge, localID: node(1)) }
    }
}
