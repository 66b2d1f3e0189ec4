import Testing
import TradeSyncSimulator

/// The fixed seeds CI runs: each a full random run (faulty phase, heal, convergence, quiet
/// period, end-of-run properties) on 3 to 7 nodes. A failure names the seed and the command
/// that replays it; `tradesync-sim` shrinks it.
@Suite struct SeedTests {
    /// Faulty steps per seed: sized so that the set fits CI's budget in a debug build.
    static let steps = 5_000
    static let seeds: [UInt64] = Array(1...48)

    @Test("Sim: fixed seed: every property holds through faults, heal and quiet", arguments: seeds)
    func seed(_ seed: UInt64) throws {
        let simulation = Simulation(seed: seed, nodes: 3 + Int(seed % 5), steps: Self.steps)
        switch try simulation.run() {
        case .success(let result):
            #expect(result.totalSteps > Self.steps, "seed \(seed): \(SimFailure.command(seed: seed, nodes: simulation.nodes, steps: Self.steps))")
            #expect(Set(result.digests).count == 1, "seed \(seed): digests differ")
        case .failure(let failure):
            Issue.record("seed \(seed): \(failure)")
        }
    }

    @Test("Sim: determinism: the same seed twice gives the same trace hash, digests and counts")
    func determinism() throws {
        let first = try Simulation(seed: 424_242, nodes: 5, steps: 2_000).run().get()
        let second = try Simulation(seed: 424_242, nodes: 5, steps: 2_000).run().get()
        #expect(first.traceHash == second.traceHash)
        #expect(first.digests == second.digests)
        #expect(first.stats == second.stats)
        #expect(first.totalSteps == second.totalSteps)
        let other = try Simulation(seed: 424_243, nodes: 5, steps: 2_000).run().get()
        #expect(other.traceHash != first.traceHash)
    }

    @Test("Sim: failure: the message names the seed and the replay command")
    func failureMessage() {
        var failure = SimFailure(kind: .durability, step: 17, timeMs: 900, message: "lost")
        failure.seed = 99
        failure.nodes = 4
        failure.steps = 1_000
        #expect(failure.description.contains("seed 99"))
        #expect(failure.replayCommand == "swift run tradesync-sim --seed 99 --nodes 4 --steps 1000")
        #expect(FailureKind.allCases.map(\.exitCode) == [2, 3, 4, 5, 6, 7, 8])
    }
}
