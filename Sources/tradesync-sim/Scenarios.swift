import ArgumentParser
import TradeSyncSimulator

/// Runs a named scenario (a to f) from the command line and prints its figures.
/// Exit code: the failure kind's, as for random runs.
func runScenario(_ name: String, entries: Int, seed: UInt64) throws {
    let start = ContinuousClock.now
    let report: ScenarioReport
    do {
        switch name {
        case "a": report = try Scenarios.sameFileTwoOffices(seed: seed)
        case "b": report = try Scenarios.writeSyncRepeat(seed: seed)
        case "c": report = try Scenarios.longOfflineEdit(seed: seed)
        case "d": report = try Scenarios.clockSkew(seed: seed)
        case "e": report = try Scenarios.reconnectAfterLargeSync(seed: seed, entries: entries, checkAll: entries <= 200_000)
        case "f": report = try Scenarios.twoPairsMerge(seed: seed)
        default: throw ValidationError("--scenario wants a, b, c, d, e or f")
        }
    } catch let failure as SimFailure {
        say("FAILED: scenario \(name), seed \(seed): \(failure.kind.rawValue) at step \(failure.step): \(failure.message)")
        throw ExitCode(failure.kind.exitCode)
    } catch let error as SimSetupError {
        say("tradesync-sim: \(error)")
        throw ExitCode(1)
    }
    let seconds = max(1e-9, secondsSince(start))
    say(report.description)
    say("ok in \(format(seconds)) s = \(Int(Double(report.steps) / seconds)) steps/s")
}
