/// Knobs of a random run that the seed does not pick.
public struct SimulationOptions: Sendable {
    /// Check the per-key properties after every step.
    public var checkEveryStep = true
    /// Budget for the heal-to-convergence phase, in steps and in virtual ms.
    public var livenessStepsMax = 3_000_000
    public var livenessTimeMaxMs: UInt64 = 30 * 60_000
    /// The quiet period after convergence, in virtual ms (two idle timeouts and a bit).
    public var quietMs: UInt64 = 100_000
    /// Fault rates to use instead of the seed's (nil: the seed picks them).
    public var rates: FaultRates?
    /// Catch-up must average at least this many entries per BATCH once it moves at least
    /// ``catchUpEntriesMin`` entries (no round trip per entry).
    public var catchUpEntriesPerBatchMin = 2.0
    public var catchUpEntriesMin = 1_000

    public init() {}
}

/// One random run (TigerBeetle's VOPR shape): a faulty safety phase of `steps` events with
/// the random workload, then the liveness phase (faults off, every link healed, every node
/// up, no more writes) that must converge within a budget, then a quiet period in which
/// only keep-alives may flow, then the end-of-run properties. Everything follows from `seed`.
///
/// Steps are events taken from the queue (a delivery, a timer, a write, a chaos tick…).
public struct Simulation {
    public let seed: UInt64
    public let nodes: Int
    public let steps: Int
    public let options: SimulationOptions
    /// The fault rates of this run (picked by the seed unless given in the options).
    public let rates: FaultRates

    /// Sets up a run of `nodes` nodes (2 to 7; the issue asks for 3 to 7) for `steps` faulty steps.
    public init(seed: UInt64, nodes: Int, steps: Int, options: SimulationOptions = SimulationOptions()) {
        precondition(nodes >= 2 && nodes <= 7, "2 to 7 nodes")
        precondition(steps >= 0, "steps must not be negative")
        self.seed = seed
        self.nodes = nodes
        self.steps = steps
        self.options = options
        var rateRandom = SimRandom(seed: seed ^ 0x7261_7465_735F_5345)  // "rates_SE": a stream of its own
        rates = options.rates ?? FaultRates.pick(using: &rateRandom, nodes: nodes)
    }

    /// `seed=N nodes=K steps=S` and the rates: what a run prints first.
    public var header: String {
        "seed=\(seed) nodes=\(nodes) steps=\(steps)\n" + rates.description
    }

    /// Runs the simulation. `progress` is called every `progressEvery` steps with the step number.
    /// - Returns: the result when every property held, else the first failure (with the seed
    ///   and the replay command).
    /// - Throws: ``SimSetupError`` when the real trade files cannot be read.
    public func run(progressEvery: Int = 0, progress: (Int) -> Void = { _ in }) throws(SimSetupError)
        -> Result<SimResult, SimFailure>
    {
        let rows = try SimData.allRecords()
        let late = Array((nodes - rates.lateJoiners)..<nodes)
        let cluster = Cluster(seed: seed, nodeCount: nodes, rates: rates, absent: late)
        cluster.workload = Workload(rows: rows, hotKeys: rates.hotKeys, random: &cluster.random)
        cluster.checkEveryStep = options.checkEveryStep
        do throws(SimFailure) {
            return .success(try run(cluster, progressEvery: progressEvery, progress: progress))
        } catch {
            var failure = error
            failure.seed = seed
            failure.nodes = nodes
            failure.steps = steps
            return .failure(failure)
        }
    }

    private func run(_ cluster: Cluster, progressEvery: Int, progress: (Int) -> Void) throws(SimFailure) -> SimResult {
        cluster.faultsActive = true
        cluster.workloadActive = true
        cluster.start()
        for node in 0..<nodes where cluster.nodes[node].joined {
            cluster.schedule(.workload(node: node), inNs: cluster.nextWriteDelayNs())
        }
        cluster.schedule(.chaos, inNs: UInt64(rates.chaosIntervalMs) * 1_000_000)
        for index in 0..<steps {
            guard try cluster.runStep() else { break }
            if progressEvery > 0 && (index + 1) % progressEvery == 0 { progress(index + 1) }
        }
        // Liveness: heal everything, bring every node up, stop writing, and converge.
        cluster.faultsActive = false
        cluster.workloadActive = false
        cluster.healAll()
        for node in 0..<nodes {
            cluster.join(node: node)
            cluster.restart(node: node)
        }
        let (batchesBefore, entriesBefore) = (cluster.stats.batchesSent, cluster.stats.entriesSent)
        try cluster.runUntilConverged(stepsMax: options.livenessStepsMax, timeMaxMs: options.livenessTimeMaxMs)
        let batches = cluster.stats.batchesSent - batchesBefore
        let entries = cluster.stats.entriesSent - entriesBefore
        let perBatch = batches == 0 ? 0 : Double(entries) / Double(batches)
        if entries >= options.catchUpEntriesMin && perBatch < options.catchUpEntriesPerBatchMin {
            throw cluster.failure(
                .quiescence, "catch-up sent \(entries) entries in \(batches) batches (\(perBatch) per batch)")
        }
        try cluster.checkQuiet(quietMs: options.quietMs)
        try cluster.checkFinal()
        let digests = (0..<nodes).map { cluster.digest($0) ?? [] }
        return SimResult(
            seed: seed, nodes: nodes, steps: steps, totalSteps: cluster.step, timeMs: cluster.nowMs,
            traceHash: cluster.traceHash, digests: digests, stats: cluster.stats, catchUpEntriesPerBatch: perBatch)
    }
}

/// Shrinks a failing run: fewer steps (bisection on the faulty phase), then fewer nodes,
/// keeping the seed and the failure kind.
public enum Shrinker {
    /// Returns the smallest failing run found within `runsMax` extra runs; `log` hears each try.
    public static func shrink(
        _ failure: SimFailure, options: SimulationOptions = SimulationOptions(), runsMax: Int = 16,
        log: (String) -> Void = { _ in }
    ) -> SimFailure {
        var best = failure
        var runs = 0
        var passing = 0
        // A failure in the faulty phase at step k replays with k steps (the same prefix).
        if failure.step < failure.steps {
            runs += 1
            if let found = fails(seed: failure.seed, nodes: failure.nodes, steps: failure.step, kind: failure.kind, options: options) {
                best = found
                log("  still fails with \(failure.step) steps (the step it failed at)")
            }
        }
        while runs < runsMax && best.steps - passing > max(1, best.steps / 64) {
            let mid = passing + (best.steps - passing) / 2
            runs += 1
            if let found = fails(seed: failure.seed, nodes: best.nodes, steps: mid, kind: failure.kind, options: options) {
                best = found
                log("  still fails with \(mid) steps")
            } else {
                passing = mid
                log("  passes with \(mid) steps")
            }
        }
        var nodes = best.nodes - 1
        while runs < runsMax && nodes >= 2 {
            runs += 1
            guard let found = fails(seed: failure.seed, nodes: nodes, steps: best.steps, kind: failure.kind, options: options)
            else {
                log("  passes with \(nodes) nodes")
                break
            }
            best = found
            log("  still fails with \(nodes) nodes")
            nodes -= 1
        }
        return best
    }

    private static func fails(seed: UInt64, nodes: Int, steps: Int, kind: FailureKind, options: SimulationOptions)
        -> SimFailure?
    {
        let simulation = Simulation(seed: seed, nodes: nodes, steps: steps, options: options)
        guard case .success(.failure(let failure)) = Result(catching: { () throws(SimSetupError) in try simulation.run() }),
            failure.kind == kind
        else { return nil }
        return failure
    }
}
