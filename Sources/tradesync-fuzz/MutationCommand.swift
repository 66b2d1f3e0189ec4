import FoundationEssentials
import TradeSyncFuzzTargets

#if canImport(Glibc)
import Glibc
#endif

/// The mutation-fuzzer mode of `tradesync-fuzz`.
enum MutationCommand {
    static func run(_ arguments: [String]) -> Int32 {
        var arguments = arguments
        if let index = arguments.firstIndex(of: "--replay") {
            return replay(Array(arguments[(index + 1)...]))
        }
        if let file = FuzzCommand.option("--minimize", in: &arguments) {
            return minimize(file)
        }
        let seed = FuzzCommand.option("--seed", in: &arguments).map { UInt64($0) ?? 0 }
            ?? UInt64(Date().timeIntervalSince1970 * 1000) % 1_000_000
        guard let runs = Int(FuzzCommand.option("--runs", in: &arguments) ?? "100000"), runs > 0 else {
            FuzzCommand.usage("--runs needs a positive number")
        }
        let vectors = FuzzCommand.option("--vectors", in: &arguments) ?? "Protocol/vectors"
        let extra = FuzzCommand.option("--corpus", in: &arguments).map(FuzzCommand.loadCorpus) ?? []
        let failuresMax = Int(FuzzCommand.option("--failures", in: &arguments) ?? "1") ?? 1
        let progressEvery = Int(FuzzCommand.option("--progress", in: &arguments) ?? "") ?? max(runs / 20, 1)
        guard arguments.isEmpty else { FuzzCommand.usage("unknown arguments \(arguments)") }

        let seeds = SeedCorpus.seeds(vectors: FuzzCommand.loadVectors(vectors)).map(\.input) + extra
        FileHandleOutput.line("tradesync-fuzz: mutation mode, seed \(seed), runs \(runs), corpus \(seeds.count) inputs")
        FileHandleOutput.line("replay: tradesync-fuzz --seed \(seed) --runs \(runs) --vectors \(vectors)")
        CrashReporter.install()
        let started = MonotonicClock.now
        var fuzzer = MutationFuzzer(seed: seed, corpus: seeds)
        let report = fuzzer.run(executions: runs, failuresMax: failuresMax, progressEvery: progressEvery) { report in
            let seconds = MonotonicClock.seconds(since: started)
            FileHandleOutput.line("#\(report.executions) corpus: \(report.corpusCount) outcomes: \(report.outcomeCount) "
                + "time: \(tenths(seconds)) s exec/s: \(Int(Double(report.executions) / max(seconds, 1e-9)))")
        }
        let seconds = MonotonicClock.seconds(since: started)
        FileHandleOutput.line("done: \(report.executions) executions in \(tenths(seconds)) s "
            + "(\(Int(Double(report.executions) / max(seconds, 1e-9))) exec/s), corpus \(report.corpusCount), "
            + "outcomes \(report.outcomeCount), failures \(report.failures.count)")
        for (index, failure) in report.failures.prefix(10).enumerated() {
            FileHandleOutput.line("FAILURE at execution \(failure.execution) (seed \(seed)): \(failure.failure)")
            FileHandleOutput.line("input (\(failure.input.count) bytes): \(hex(failure.input))")
            let file = "fuzz-failure-\(seed)-\(index).bin"
            if (try? Data(failure.input).write(to: URL(fileURLWithPath: file))) != nil {
                FileHandleOutput.line("written to \(file) (tradesync-fuzz --minimize \(file))")
            }
        }
        return report.failures.isEmpty ? 0 : 1
    }

    static func replay(_ files: [String]) -> Int32 {
        CrashReporter.install()
        var failed = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { FuzzCommand.usage("cannot read \(file)") }
            do throws(FuzzFailure) {
                CurrentInput.record([UInt8](data))
                try FuzzTargets.run([UInt8](data))
                FileHandleOutput.line("\(file): ok")
            } catch {
                failed += 1
                FileHandleOutput.line("\(file): FAILURE \(error)")
            }
        }
        return failed == 0 ? 0 : 1
    }

    /// Shrinks a failing input file; prints the result in hex and writes it to FILE.min.
    static func minimize(_ file: String) -> Int32 {
        guard let data = FileManager.default.contents(atPath: file) else { FuzzCommand.usage("cannot read \(file)") }
        let input = [UInt8](data)
        guard let kind = Minimizer.failureKind(input) else {
            FileHandleOutput.line("\(file): passes; nothing to minimise")
            return 1
        }
        let smallest = Minimizer.minimize(input)
        FileHandleOutput.line("\(file): \(kind)")
        FileHandleOutput.line("minimised \(input.count) -> \(smallest.count) bytes: \(hex(smallest))")
        do {
            try Data(smallest).write(to: URL(fileURLWithPath: file + ".min"))
        } catch {
            FuzzCommand.usage("cannot write \(file).min: \(error)")
        }
        return 0
    }

    /// `12.3`: one decimal place.
    static func tenths(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(scaled % 10)"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

/// Monotonic seconds for exec/s figures.
enum MonotonicClock {
    static var now: timespec {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return time
    }

    static func seconds(since start: timespec) -> Double {
        let end = now
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    }
}
