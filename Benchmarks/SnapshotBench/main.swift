// Times Replica.encodeSnapshot / decodeSnapshot on a large synthetic state.
//
//   swift build -c release --product tradesync-snapshot-bench
//   .build/release/tradesync-snapshot-bench [KEYS]          (KEYS defaults to 1,000,000)
//
// The state: office A writes KEYS distinct keys (reporter × partner × flow × commodity ×
// period, every 10th with customs/transport breakdowns, every value field set); office B
// writes 1% of them concurrently (conflicts); A deletes 1% (tombstones). Prints wall time, the
// calling thread's CPU time (decode's critical path; the one to trust on a busy machine) and the
// process's (adds decode's helper thread). Asserts nothing.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

func node(_ byte: UInt8) -> NodeID { NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero }

func cpuMs(_ clock: clockid_t) -> Int {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return ts.tv_sec * 1_000 + ts.tv_nsec / 1_000_000
}

/// Runs `body`, returns "WALL ms wall, THREAD ms cpu (PROCESS ms process cpu)".
func timed(_ body: () throws -> Void) rethrows -> String {
    let clock = ContinuousClock()
    let (thread, process) = (cpuMs(CLOCK_THREAD_CPUTIME_ID), cpuMs(CLOCK_PROCESS_CPUTIME_ID))
    let wall = try clock.measure(body)
    let (s, atto) = wall.components
    return "\(Int(Double(s) * 1_000 + Double(atto) / 1e15)) ms wall, \(cpuMs(CLOCK_THREAD_CPUTIME_ID) - thread) ms cpu "
        + "(\(cpuMs(CLOCK_PROCESS_CPUTIME_ID) - process) ms process cpu)"
}

struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let keyCount = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000_000 : 1_000_000
let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
func area(_ n: Int) -> AreaCode { (try? AreaCode(String([letters[n / 26 % 26], letters[n % 26], "X"]))) ?? .world }

func makeKey(_ i: Int) throws -> TradeKey {
    var rest = i
    let reporter = rest % 120
    rest /= 120
    let partner = rest % 200
    rest /= 200
    let flow: Flow = rest % 2 == 0 ? .import : .export
    rest /= 2
    let commodity = rest % 500
    rest /= 500
    let breakdown = i % 10 == 0
    return try TradeKey(
        reporter: area(reporter), partner: area(partner + 7), flow: flow,
        commodity: CommodityCode(String(100_000 + commodity * 131)), period: Period(year: 1990 + rest % 40),
        customs: breakdown ? "C01" : "all", transport: breakdown ? "1000" : "all")
}

func values(_ rng: inout SplitMix64) -> Operation {
    .put(
        TradeValues(
            valueUSD: ExactDecimal(normalizingMantissa: Int64(rng.next() % 10_000_000_000_000), scale: 2),
            netWeightKg: ExactDecimal(Int64(rng.next() % 100_000_000)), quantity: ExactDecimal(Int64(rng.next() % 1_000_000)),
            quantityUnit: rng.next() % 4 == 0 ? "u" : "kg", flags: rng.next() % 20 == 0 ? [.estimated] : []))
}

func buildState() throws -> Replica {
    var rng = SplitMix64(state: 42)
    var a = Replica(localID: node(1))
    var b = Replica(localID: node(2))
    var fromB: [Entry] = []
    var ms: UInt64 = 1_700_000_000_000
    for start in stride(from: 0, to: keyCount, by: 1_000) {
        let writes = try (start..<min(keyCount, start + 1_000)).map { (key: try makeKey($0), operation: values(&rng)) }
        ms += 1
        for entry in a.prepare(writes, nowMs: ms) { try a.apply(entry) }
        let concurrent = writes.enumerated().filter { $0.offset % 100 == 7 }.map { (key: $0.element.key, operation: values(&rng)) }
        let entriesB = b.prepare(concurrent, nowMs: ms)
        for entry in entriesB { try b.apply(entry) }
        fromB += entriesB
        let deletes = writes.enumerated().filter { $0.offset % 100 == 3 }.map { (key: $0.element.key, operation: Operation.delete) }
        for entry in a.prepare(deletes, nowMs: ms) { try a.apply(entry) }
    }
    for entry in fromB { try a.apply(entry) }
    return a
}

var a = Replica(localID: node(1))
print("build (apply every entry, as a log replay would, minus reading the log): \(try timed { a = try buildState() })")
print("state: \(a.counts), \(a.vector.total) entries")
let withoutDigest = a
print("digest(): \(timed { _ = a.digest() }) (then cached into the snapshot)")
var snapshot: [UInt8] = []
for run in 1...3 {
    print("encode run \(run): \(timed { snapshot = a.encodeSnapshot() }), \(snapshot.count) bytes")
}
for run in 1...5 {
    var decoded: Replica?
    print("decode run \(run): \(timed { decoded = try? Replica.decodeSnapshot(snapshot, localID: node(1)) })" + (decoded == nil ? " FAILED" : ""))
}
// Floor: inserting the same keys into a reserved dictionary with 16-byte values, no parsing.
let keys = a.sortedKeys
var floor: [TradeKey: (Int, Int)] = [:]
print("floor, \(keys.count) keys into a reserved dictionary: \(timed { floor = Dictionary(minimumCapacity: keys.count); for (i, key) in keys.enumerated() { floor[key] = (i, i) } })")
var hashes = 0
print("hashValue of \(keys.count) keys: \(timed { for key in keys { hashes &+= key.hashValue } })")
// Check: a snapshot without the cached digest decodes to a state whose recomputed digest matches.
var restored = try Replica.decodeSnapshot(withoutDigest.encodeSnapshot(), localID: node(1))
print("recomputed digest matches: \(restored.digest() == a.digest()), counts match: \(restored.counts == a.counts)")
