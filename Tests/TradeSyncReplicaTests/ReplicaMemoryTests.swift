#if canImport(Glibc)
import Glibc
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncReplica

/// The process's resident set size, in bytes (`VmRSS` of /proc/self/status); 0 if unreadable.
private func residentBytes() -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {  // bound: the file's ~60 lines
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard text.hasPrefix("VmRSS:") else { continue }
        return (Int(text.dropFirst(6).filter(\.isNumber)) ?? 0) * 1024
    }
    return 0
}

/// `count` distinct keys shaped like an import: ~60 reporters × ~60 partners, 6-digit
/// HS codes, annual and monthly periods, three decimals, a unit.
func generatedWrites(_ count: Int, seed: UInt64 = 7) -> [(key: TradeKey, operation: Operation)] {
    let areas = (0..<60).map { "A\(String(UnicodeScalar(UInt8(65 + $0 % 26))))\($0 / 26)" }
    var rng = SplitMix64(seed: seed)
    var writes: [(key: TradeKey, operation: Operation)] = []
    writes.reserveCapacity(count)
    for index in 0..<count {
        let year = 2000 + index % 20
        let month = (index / 20) % 13
        let commodity = 100_000 + (index / 260) % 800_000
        guard let reporter = try? AreaCode(areas[(index / 3) % 60]), let partner = try? AreaCode(areas[(index / 7) % 60]),
            let code = try? CommodityCode(String(commodity)), let period = try? Period(year: year, month: month),
            let key = try? TradeKey(reporter: reporter, partner: partner, flow: index % 2 == 0 ? .import : .export,
                                    commodity: code, period: period)
        else { continue }
        let values = TradeValues(
            valueUSD: ExactDecimal(Int64(rng.next() % 10_000_000)), netWeightKg: ExactDecimal(Int64(rng.next() % 100_000)),
            quantity: ExactDecimal(normalizingMantissa: Int64(rng.next() % 1_000_000), scale: 2), quantityUnit: "kg")
        writes.append((key: key, operation: .put(values)))
    }
    return writes
}

@Suite struct ReplicaMemoryTests {
    /// Builds a replica of 200,000 keys the way an import does and reports the resident
    /// memory it added per key (the daemon's RSS adds the process baseline). The bound
    /// guards against a regression to the old layout (~600 B/key; ~210 B/key now, growth garbage included).
    @Test("Replica memory: 200k imported keys: resident bytes per key within bound")
    func heapPerKey() throws {
        let count = 200_000
        let writes = generatedWrites(count)
        var unique = Set<TradeKey>()
        for write in writes { unique.insert(write.key) }
        let before = residentBytes()
        var replica = Replica(localID: NodeID(bytes: [UInt8](repeating: 5, count: 32)) ?? .zero)
        var start = 0
        while start < writes.count {  // bound: batches of 4,096
            let batch = Array(writes[start..<min(start + 4_096, writes.count)])
            replica.reserveKeys(batch.count)
            for entry in replica.prepare(batch, nowMs: 1_000) { try replica.apply(entry) }
            start += batch.count
        }
        let held = residentBytes() - before
        let perKey = Double(held) / Double(unique.count)
        print("Replica memory: \(unique.count) keys, \(held) resident bytes, \(Int(perKey)) B/key")
        #expect(replica.counts.keys == unique.count)
        #expect(perKey < 400)
        let restored = try Replica.decodeSnapshot(replica.encodeSnapshot(), localID: replica.localID)
        #expect(restored.digest() == replica.digest())
    }
}
#endif
