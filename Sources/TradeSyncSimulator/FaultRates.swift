/// Every fault rate and workload knob of one run. The seed picks them (``pick(using:nodes:)``)
/// and the runner prints them first, so a trap cannot hide them (STYLE.md, "The simulator").
///
/// Probabilities are in [0, 1]; times are virtual milliseconds. Rates of zero draw nothing
/// from the random stream.
public struct FaultRates: Sendable, Equatable, CustomStringConvertible {
    // Network.
    /// One-way base latency of a link, drawn per link in this range, in ms.
    public var latencyMs: ClosedRange<Int> = 1...5
    /// Extra delay drawn per chunk in `0...jitterMs`, in ms.
    public var jitterMs = 0
    /// Chance that a chunk takes the long tail: 10 to 50 times the link latency.
    public var tailProbability = 0.0
    /// Chance that a frame is cut into two or three chunks at random points.
    public var splitProbability = 0.0
    /// Message-level faults a TCP stream never delivers, per frame sent: the session must
    /// detect them (ERROR, close) and the driver reconnects.
    public var dropProbability = 0.0
    public var duplicateProbability = 0.0
    public var reorderProbability = 0.0
    /// Per chaos tick: cut links (a random split or one link), heal everything, reset one
    /// connection, or flip one link (a flapping link).
    public var partitionProbability = 0.0
    public var healProbability = 0.0
    public var resetProbability = 0.0
    public var flapProbability = 0.0

    // Disk and nodes.
    /// Chance that one log append crashes its node (prefix durable, torn tail, nothing acknowledged).
    public var crashPerAppendProbability = 0.0
    /// Per chaos tick: crash a random running node (nothing in flight on its disk).
    public var crashProbability = 0.0
    /// A crashed node restarts after a delay drawn in `100...restartDelayMsMax` ms.
    public var restartDelayMsMax = 2_000
    /// Nodes that start absent and join during the run (never node 0).
    public var lateJoiners = 0
    /// Per-node clock skew drawn in ±this, in ms (at most one hour).
    public var clockSkewMsMax: Int64 = 0

    // Workload and pacing.
    /// Mean time between one node's writes, in ms.
    public var writeIntervalMs = 1_000
    /// Relative weights of put, delete, resolve, multi-key put and batch import.
    public var weights: [Int] = [50, 8, 12, 10, 6]
    /// Size of the hot key set that puts, deletes and resolves draw from.
    public var hotKeys = 6
    /// Largest batch import, in rows of the real files.
    public var importRowsMax = 200
    /// Time between chaos ticks, in ms.
    public var chaosIntervalMs = 1_000

    /// Rates with no faults at all: links of 1 to 5 ms, no workload of its own (named scenarios).
    public static let none = FaultRates()

    /// Creates the fault-free rates (change fields to add faults).
    public init() {}

    /// Draws every rate from `random`. Message-level faults, crashes and partitions are
    /// each switched on for about half of the seeds, so some seeds explore one fault alone.
    public static func pick(using random: inout SimRandom, nodes: Int) -> FaultRates {
        var rates = FaultRates()
        let low = random.int(1...40)
        rates.latencyMs = low...(low + random.int(0...160))
        rates.jitterMs = random.int(0...50)
        rates.tailProbability = random.chance(0.5) ? Double(random.int(1...30)) / 1_000 : 0
        rates.splitProbability = Double(random.int(0...80)) / 100
        if random.chance(0.5) {
            rates.dropProbability = Double(random.int(0...20)) / 10_000
            rates.duplicateProbability = Double(random.int(0...20)) / 10_000
            rates.reorderProbability = Double(random.int(0...20)) / 10_000
        }
        if random.chance(0.7) {
            rates.partitionProbability = Double(random.int(1...10)) / 100
            // Down to 0.1 % per tick: some partitions outlast the idle timeout (45 s) by far.
            rates.healProbability = Double(random.int(1...300)) / 1_000
            rates.flapProbability = Double(random.int(0...5)) / 100
        }
        rates.resetProbability = Double(random.int(0...5)) / 100
        if random.chance(0.6) {
            rates.crashPerAppendProbability = Double(random.int(1...50)) / 10_000
            rates.crashProbability = Double(random.int(0...20)) / 1_000
        }
        rates.restartDelayMsMax = random.int(200...20_000)
        rates.lateJoiners = nodes > 2 ? random.int(0...min(2, nodes - 2)) : 0
        rates.clockSkewMsMax = Int64(random.int(0...3_600)) * 1_000
        rates.writeIntervalMs = random.int(100...3_000)
        rates.weights = [random.int(20...60), random.int(0...15), random.int(0...20), random.int(0...15), random.int(1...10)]
        rates.hotKeys = random.int(2...12)
        rates.importRowsMax = random.int(1...400)
        rates.chaosIntervalMs = random.int(200...3_000)
        return rates
    }

    /// One line per group, for the first lines a run prints.
    public var description: String {
        func pct(_ p: Double) -> String {
            let thousandths = Int((p * 100_000).rounded())
            let fraction = String(thousandths % 1_000 + 1_000).dropFirst()
            return "\(thousandths / 1_000).\(fraction)%"
        }
        return """
            network: latency \(latencyMs.lowerBound)-\(latencyMs.upperBound) ms, jitter \(jitterMs) ms, tail \(pct(tailProbability)), \
            split \(pct(splitProbability)), drop \(pct(dropProbability)), duplicate \(pct(duplicateProbability)), \
            reorder \(pct(reorderProbability))
            links: partition \(pct(partitionProbability)), heal \(pct(healProbability)), reset \(pct(resetProbability)), \
            flap \(pct(flapProbability)) per tick of \(chaosIntervalMs) ms
            disk and nodes: crash in append \(pct(crashPerAppendProbability)), crash \(pct(crashProbability)) per tick, \
            restart within \(restartDelayMsMax) ms, late joiners \(lateJoiners), clock skew up to ±\(clockSkewMsMax / 1_000) s
            workload: a write every \(writeIntervalMs) ms per node, weights put/delete/resolve/multi/import \
            \(weights.map(String.init).joined(separator: "/")), \(hotKeys) hot keys, imports up to \(importRowsMax) rows
            """
    }
}
