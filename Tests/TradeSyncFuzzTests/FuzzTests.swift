import Foundation
import Testing
import TradeSyncFuzzTargets

/// The package root, found from this file's path (Tests/TradeSyncFuzzTests/…).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The golden frames of Protocol/vectors, by file name.
func goldenVectors() throws -> [String: [UInt8]] {
    let directory = packageRoot.appendingPathComponent("Protocol/vectors")
    var vectors: [String: [UInt8]] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".hex") {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        vectors[name] = try #require(SeedCorpus.parseHex(text), "bad hex in \(name)")
    }
    return vectors
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite struct FuzzTests {
    /// Executions of the CI fuzz run: about 20 s in a debug build on 2 cores.
    static let ciExecutions = 50_000

    @Test("Fuzz: seed corpus: every seed from Protocol/vectors passes every check of its target")
    func seedsPass() throws {
        let seeds = SeedCorpus.seeds(vectors: try goldenVectors())
        #expect(seeds.count >= 20)
        for target in FuzzTarget.allCases {
            #expect(seeds.contains { FuzzTarget.selected(by: $0.input) == target }, "no seed for \(target)")
        }
        for seed in seeds {
            #expect(throws: Never.self, "\(seed.name)") { try FuzzTargets.run(seed.input) }
        }
    }

    @Test("Fuzz: mutation fuzzer: 50,000 executions over the golden-vector corpus break no invariant")
    func mutationRun() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["TRADESYNC_FUZZ_SEED"].flatMap { UInt64($0) }
            ?? UInt64(Date().timeIntervalSince1970) % 1_000_000
        let executions = environment["TRADESYNC_FUZZ_RUNS"].flatMap { Int($0) } ?? Self.ciExecutions
        print("fuzz: seed \(seed), \(executions) executions (replay: tradesync-fuzz --seed \(seed) --runs \(executions))")
        let corpus = SeedCorpus.seeds(vectors: try goldenVectors()).map(\.input)
        var fuzzer = MutationFuzzer(seed: seed, corpus: corpus)
        let started = Date()
        let report = fuzzer.run(executions: executions)
        let seconds = Date().timeIntervalSince(started)
        print("fuzz: seed \(seed): \(report.executions) executions in \(Int(seconds)) s, corpus \(report.corpusCount), "
            + "outcomes \(report.outcomeCount), failures \(report.failures.count)")
        #expect(report.executions == executions || !report.failures.isEmpty)
        for failure in report.failures {
            Issue.record("fuzz seed \(seed), execution \(failure.execution): \(failure.failure)\ninput: \(hex(failure.input))")
        }
    }

    @Test("Fuzz: mutation fuzzer: the same seed gives the same run")
    func deterministic() throws {
        let corpus = SeedCorpus.seeds(vectors: try goldenVectors()).map(\.input)
        var first = MutationFuzzer(seed: 42, corpus: corpus)
        var second = MutationFuzzer(seed: 42, corpus: corpus)
        let a = first.run(executions: 1_000)
        let b = second.run(executions: 1_000)
        #expect(a.corpusCount == b.corpusCount && a.outcomeCount == b.outcomeCount)
        #expect(a.corpusCount > corpus.count, "no mutant reached a new outcome in 1,000 executions")
    }

    @Test("Fuzz: mutator: frame-aware mutations keep most inputs within the input limit and framed")
    func mutatorShapes() throws {
        let corpus = SeedCorpus.seeds(vectors: try goldenVectors()).map(\.input)
        var mutator = Mutator(seed: 7)
        var changed = 0
        for round in 0..<2_000 {
            let input = corpus[round % corpus.count]
            let mutant = mutator.mutate(input, corpus: corpus)
            #expect(mutant.count <= Mutator.inputBytesMax && mutant.count >= FuzzTarget.headerBytes)
            if mutant != input { changed += 1 }
        }
        #expect(changed > 1_800)
    }
}
