import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// The fixed identities and entries of the session harness.
enum SessionFixtures {
    /// The session's own node ID (32 bytes of 0x5a).
    static let localID = nodeID(0x5A)
    /// The peer's node ID in the handshake prefix (bytes 1…32, as in `Protocol/vectors/hello.hex`).
    static let peerID = NodeID(bytes: (1...32).map { UInt8($0) }) ?? .zero
    /// A third office whose entries the local node forwards (32 bytes of 0xb2).
    static let thirdID = nodeID(0xB2)
    /// Most entries the local store holds per origin.
    static let entriesPerOriginMax = 24

    /// Entries 1…24 of the local origin and of the third office (origin order: local, third).
    static let entries: [NodeID: [Entry]] = [
        localID: (1...entriesPerOriginMax).compactMap { entry(localID, UInt64($0)) },
        thirdID: (1...entriesPerOriginMax).compactMap { entry(thirdID, UInt64($0)) },
    ]

    static func nodeID(_ byte: UInt8) -> NodeID {
        NodeID(bytes: [UInt8](repeating: byte, count: NodeID.byteCount)) ?? .zero
    }

    /// A put (or, every fourth seq, a delete) whose key and values vary with `seq`.
    static func entry(_ origin: NodeID, _ seq: UInt64) -> Entry? {
        let partners = ["FRA", "USA", "CHN", "JPN", "GBR"]
        guard let key = try? TradeKey(parsing: "DEU:\(partners[Int(seq % 5)]):X:8507\(60 + seq % 30):20\(10 + seq % 15)")
        else { return nil }
        let values = TradeValues(
            valueUSD: ExactDecimal(normalizingMantissa: Int64(seq) * 1_250 + 99, scale: UInt8(seq % 3)),
            quantityUnit: seq % 2 == 0 ? "kg" : "")
        return Entry(
            dot: Dot(origin: origin, seq: seq), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + seq, logical: 0),
            context: seq > 1 ? VersionVector([origin: seq - 1]) : VersionVector(), key: key,
            operation: seq % 4 == 0 ? .delete : .put(values))
    }
}

/// The node side of the session harness: what the local log holds and serves.
///
/// Holds a prefix of ``SessionFixtures/entries`` per origin, plus the vector of what was
/// persisted from the peer (its entries themselves are not kept: the session never asks
/// for entries it received, since they are in its `sent` vector).
struct SessionStore {
    /// Entries of each fixture origin the node holds (a prefix of the fixture list).
    var held: [NodeID: Int]
    /// What the node holds durably: its own entries and everything persisted.
    var vector: VersionVector

    init(localCount: Int, thirdCount: Int) {
        held = [SessionFixtures.localID: localCount, SessionFixtures.thirdID: thirdCount]
        vector = VersionVector([
            SessionFixtures.localID: UInt64(localCount), SessionFixtures.thirdID: UInt64(thirdCount),
        ])
    }

    /// One more local entry, if the fixture has one; returns whether the vector grew.
    mutating func write() -> Bool {
        let count = held[SessionFixtures.localID, default: 0]
        guard count < SessionFixtures.entriesPerOriginMax else { return false }
        held[SessionFixtures.localID] = count + 1
        vector.advance(SessionFixtures.localID, to: UInt64(count + 1))
        return true
    }

    /// Records a persisted batch from the peer.
    mutating func persist(_ entries: [Entry]) {
        for entry in entries { vector.add(entry.dot) }
    }

    /// The reply to `.fetch`: per origin in ID order, seqs above `after[origin]`, ascending,
    /// within the entry and byte limits (bytes counted as ``BatchMessage/payloadBytes(of:)``).
    func fetch(after: VersionVector, entriesMax: Int, bytesMax: Int) -> [Entry] {
        var result: [Entry] = []
        var bytes = 0
        for origin in held.keys.sorted() {
            let list = SessionFixtures.entries[origin] ?? []
            let count = min(held[origin, default: 0], list.count)
            var index = after[origin] < UInt64(count) ? Int(after[origin]) : count
            while index < count {
                let size = BatchMessage.payloadBytes(of: list[index])
                if result.count == entriesMax || bytes + size > bytesMax { return result }
                result.append(list[index])
                bytes += size
                index += 1
            }
        }
        return result
    }
}
