import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// ``PackedKeyWriter`` against the general snapshot path, on states with many keys and codes.
@Suite struct ReplicaSnapshotPackedTests {
    private static let areas = ["DEU", "FRA", "CHN", "USA", "W00", "AZE", "THA"]
    private static let commodities = ["TOTAL", "85", "8507", "850760", "2709", "87", "252310"]
    /// (customs, transport), each canonical; "0" and "C00" swap meaning between the two.
    private static let breakdowns = [("all", "all"), ("C01", "1000"), ("0", "C00"), ("C00", "3200")]
    private static let units = ["", "Number of items", "Weight in kilograms"]

    private static func node(_ byte: UInt8) -> NodeID { NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero }

    private static func randomKey(_ rng: inout SplitMix64) throws -> TradeKey {
        func pick<T>(_ values: [T]) -> T { values[Int(rng.next() % UInt64(values.count))] }
        let (customs, transport) = pick(breakdowns)
        return try TradeKey(
            reporter: AreaCode(pick(areas)), partner: AreaCode(pick(areas)), flow: pick(Array(Flow.allCases)),
            commodity: CommodityCode(pick(commodities)),
            period: Period(year: 2015 + Int(rng.next() % 9), month: Int(rng.next() % 13)), customs: customs,
            transport: transport)
    }

    private static func randomOperation(_ rng: inout SplitMix64) -> Operation {
        if rng.next() % 7 == 0 { return .delete }
        func decimal() -> ExactDecimal? {
            guard rng.next() % 4 != 0 else { return nil }
            let mantissa = Int64(bitPattern: rng.next() >> UInt64(1 + rng.next() % 40)) * (rng.next() % 2 == 0 ? 1 : -1)
            return ExactDecimal(normalizingMantissa: mantissa, scale: UInt8(rng.next() % 10))
        }
        let unit = units[Int(rng.next() % UInt64(units.count))]
        return .put(
            TradeValues(
                valueUSD: decimal(), netWeightKg: decimal(), quantity: decimal(), quantityUnit: unit,
                flags: RecordFlags(rawValue: UInt8(rng.next() % 4))))
    }

    @Test("Snapshot: packed keys written from the replica's tables give the general path's bytes (many keys, codes, origins, conflicts)",
          arguments: [1, 2, 3, 4])
    func packedMatchesGeneral(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var offices = (1...3).map { Replica(localID: Self.node(UInt8($0))) }
        var written: [Entry] = []
        for step in 0..<3_000 {
            let office = Int(rng.next() % 3)
            // Some of the others' entries first, so that contexts span origins and some writes conflict.
            for entry in written.suffix(20) where rng.next() % 4 == 0 { _ = try? offices[office].apply(entry) }
            let key = try Self.randomKey(&rng)
            let entry = offices[office].prepare([(key: key, operation: Self.randomOperation(&rng))], nowMs: UInt64(step))[0]
            try offices[office].apply(entry)
            written.append(entry)
        }
        for replica in offices {
            #expect(replica.counts.keys > 500, "seed \(seed)")
            #expect(replica.counts.conflicts > 0 || replica.counts.tombstones > 0, "seed \(seed)")
            for chunkKeys in [16_384, 7] {
                let fast = replica.encodeSnapshot(chunkKeys: chunkKeys)
                let reference = replica.encodeSnapshot(chunkKeys: chunkKeys, packedPath: false)
                #expect(fast == reference, "seed \(seed), chunk \(chunkKeys): \(fast.count) vs \(reference.count) bytes")
                let decoded = try Replica.decodeSnapshot(fast, localID: replica.localID)
                #expect(decoded.digest() == replica.digest(), "seed \(seed)")
                #expect(decoded.contentDigest() == replica.contentDigest(), "seed \(seed)")
            }
        }
    }
}
