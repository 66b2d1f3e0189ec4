import ArgumentParser
import TradeSyncSimulator

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one line to stdout unbuffered, so that what was printed survives a trap.
func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { buffer in _ = write(1, buffer.baseAddress, buffer.count) }
}

/// `tradesync-sim`: the deterministic simulation of TradeSync nodes over a faulty WAN.
///
/// Exit codes: 0 every property held; 2 convergence; 3 durability; 4 false conflict;
/// 5 silent loss; 6 siblings; 7 quiescence; 8 invariant (harness or core); 1 setup
/// (trade data missing); 64 usage.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradesync-sim",
        abstract: "Run TradeSync's pure core (Replica, SyncSession) on simulated nodes, network, disks and clocks.",
        discussion: """
            Everything follows from the seed. A failure prints the seed and the command that replays it,
            then shrinks the run to fewer steps and nodes where it still fails.
            Exit codes: 2 convergence, 3 durability, 4 false conflict, 5 silent loss, 6 siblings,
            7 quiescence, 8 invariant, 1 setup.
            """)

    /// Steps of the long mode.
    static let longSteps = 1_000_000

    @Option(help: "The seed of the run.")
    var seed: UInt64 = 1

    @Option(help: "Nodes, 2 to 7 (3 to 7 as the issue asks; 2 is allowed for shrinking). Default 5; with --seeds, 3 + seed % 5.")
    var nodes: Int?

    @Option(help: "Steps (events) of the faulty phase.")
    var steps = 100_000

    @Option(help: "Run every seed in A..B (inclusive), e.g. 1..100; nodes cycle 3 to 7 unless --nodes is given.")
    var seeds: String?

    @Flag(help: "Long mode: at least \(longSteps) steps.")
    var long = false

    @Option(help: "Run a named scenario instead: a, b, c, d, e or f.")
    var scenario: String?

    @Option(help: "Entries synced before the link drops in scenario e.")
    var entries = 1_000_000

    @Flag(help: "Do not shrink a failing run.")
    var noShrink = false

    func validate() throws {
        if let nodes, !(2...7).contains(nodes) { throw ValidationError("--nodes must be 2 to 7") }
        guard steps >= 0 else { throw ValidationError("--steps must not be negative") }
        if let seeds, parseRange(seeds) == nil { throw ValidationError("--seeds wants A..B, e.g. 1..100") }
    }

    func run() throws {
        if let scenario {
            try runScenario(scenario, entries: entries, seed: seed)
            return
        }
        let stepCount = long ? max(steps, Self.longSteps) : steps
        guard let seeds, let range = parseRange(seeds) else {
            let code = runOne(seed: seed, nodes: nodes ?? 5, steps: stepCount)
            if code != 0 { throw ExitCode(code) }
            return
        }
        var failures: [(UInt64, Int32)] = []
        for seed in range {
            let nodeCount = nodes ?? 3 + Int(seed % 5)
            let code = runOne(seed: seed, nodes: nodeCount, steps: stepCount)
            if code != 0 { failures.append((seed, code)) }
        }
        say("seeds \(range.lowerBound)..\(range.upperBound): \(range.count - failures.count) passed, \(failures.count) failed")
        if let first = failures.first { throw ExitCode(first.1) }
    }

    /// Runs one seed; returns the exit code.
    func runOne(seed: UInt64, nodes: Int, steps: Int) -> Int32 {
        let simulation = Simulation(seed: seed, nodes: nodes, steps: steps)
        say(simulation.header)
        let start = ContinuousClock.now
        let outcome: Result<SimResult, SimFailure>
        do {
            outcome = try simulation.run(progressEvery: 100_000) { step in say("  step \(step)") }
        } catch {
            say("tradesync-sim: \(error)")
            return 1
        }
        let seconds = max(1e-9, secondsSince(start))
        switch outcome {
        case .success(let result):
            say(result.stats.summary)
            say(
                "ok: seed \(seed), \(result.totalSteps) steps (\(steps) faulty) in \(format(seconds)) s = "
                    + "\(Int(Double(result.totalSteps) / seconds)) steps/s; \(result.timeMs / 1000) s virtual; "
                    + "catch-up \(format(result.catchUpEntriesPerBatch)) entries/batch; trace \(String(result.traceHash, radix: 16))")
            return 0
        case .failure(let failure):
            say("FAILED: \(failure)")
            if !noShrink {
                say("shrinking…")
                let smallest = Shrinker.shrink(failure, log: say)
                say("smallest failing: \(smallest.replayCommand)")
            }
            return failure.kind.exitCode
        }
    }
}

func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let (whole, atto) = (ContinuousClock.now - start).components
    return Double(whole) + Double(atto) / 1e18
}

func format(_ value: Double) -> String {
    String(Double(Int(value * 100)) / 100)
}

/// Parses `A..B` or `A...B` into an inclusive range.
func parseRange(_ text: String) -> ClosedRange<UInt64>? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: true)
    guard parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]), low <= high else { return nil }
    return low...high
}

SimCommand.main()
