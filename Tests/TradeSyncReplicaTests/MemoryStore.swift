import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

/// An in-memory ``LogStore`` for tests of ``ReplicaNode``: contiguity enforced as the file
/// log does, every write durable at once, and a count of ranged reads (so a test can see
/// how many `entries(origin:after:limit:)` calls a batch cost).
final class MemoryStore: LogStore {
    private(set) var all: [Entry] = []
    private var positionsByOrigin: [NodeID: [Int]] = [:]
    private(set) var vector = VersionVector()
    /// Calls of ``entries(origin:after:limit:)`` so far.
    private(set) var rangedReads = 0
    /// The seals written with entries, by dot.
    private(set) var seals: [Dot: EntrySeal] = [:]

    init(_ entries: [Entry] = []) {
        if !entries.isEmpty { _ = try? write(entries) }
    }

    var durableVector: VersionVector { vector }
    var entryCount: Int { all.count }
    var durableCount: Int { all.count }
    var checkpoint: LogCheckpoint? { nil }

    func write(_ entries: [Entry]) throws(LogError) -> Int {
        var seqs: [NodeID: UInt64] = [:]
        for entry in entries {
            let expected = (seqs[entry.dot.origin] ?? vector[entry.dot.origin]) + 1
            guard entry.dot.seq == expected else { throw .notContiguous(dot: entry.dot, expectedSeq: expected) }
            seqs[entry.dot.origin] = expected
        }
        for entry in entries {
            positionsByOrigin[entry.dot.origin, default: []].append(all.count)
            all.append(entry)
            vector.add(entry.dot)
        }
        return all.count
    }

    func write(sealed: [SealedEntry]) throws(LogError) -> Int {
        let count = try write(sealed.map(\.entry))
        for item in sealed { if let seal = item.seal { seals[item.entry.dot] = seal } }
        return count
    }

    func sealedEntries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [SealedEntry] {
        try entries(origin: origin, after: seq, limit: limit).map { SealedEntry($0, seal: seals[$0.dot]) }
    }

    func sync() throws(LogError) {}

    func append(_ entries: [Entry]) throws(LogError) { _ = try write(entries) }

    func entries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [Entry] {
        rangedReads += 1
        let positions = positionsByOrigin[origin] ?? []
        guard seq < UInt64(positions.count), limit > 0 else { return [] }
        return positions[Int(seq)..<min(positions.count, Int(seq) + limit)].map { all[$0] }
    }

    func recent(limit: Int) throws(LogError) -> [Entry] { Array(all.suffix(max(0, limit))) }

    func replay(from first: Int, _ visit: (Entry) throws -> Void) throws {
        for entry in all.dropFirst(first) { try visit(entry) }
    }

    /// A new store holding the first `count` entries (an older backup of this one).
    func backup(entries count: Int) -> MemoryStore { MemoryStore(Array(all.prefix(count))) }
}

func nodeID(_ byte: UInt8) -> NodeID {
    NodeID(bytes: [UInt8](repeating: byte, count: NodeID.byteCount)) ?? .zero
}

/// The `index`-th of a few keys (different reporters).
func testKey(_ index: Int) -> TradeKey {
    let reporters = ["CHN", "AUT", "FRA", "USA", "BRA", "IND", "JPN", "KOR", "MEX", "ZAF"]
    return (try? TradeKey(parsing: "\(reporters[index % reporters.count]):DEU:X:850760:2022")) ?? {
        preconditionFailure("test key does not parse")
    }()
}

/// A put by `origin` at `seq` on key `key`, worth `usd` (vary it to make entries differ).
func received(_ origin: NodeID, _ seq: UInt64, key: Int = 0, usd: Int64? = nil) -> Entry {
    Entry(
        dot: Dot(origin: origin, seq: seq), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + seq, logical: 0),
        context: VersionVector(), key: testKey(key),
        operation: .put(TradeValues(valueUSD: ExactDecimal(usd ?? Int64(seq) * 10))))
}

/// Entries `seqs` of `origin`, each on its own key.
func receivedRun(_ origin: NodeID, _ seqs: ClosedRange<UInt64>) -> [Entry] {
    seqs.map { received(origin, $0, key: Int($0)) }
}
