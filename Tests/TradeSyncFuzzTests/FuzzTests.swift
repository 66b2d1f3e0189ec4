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

    /// Inputs the mutation fuzzer found breaking the canonical round trip (an accepted
    /// encoding that re-encodes to other bytes), minimised with `tradesync-fuzz --minimize`.
    /// Fixed in ByteReader.readVarint (shortest form only) and BatchMessage.decodeEntries
    /// (an entry must re-encode to its own bytes); CanonicalEncodingTests checks the refusals.
    static let regressions: [(name: String, hex: String)] = [
        ("entry commodity '85076 ' (trailing space, trimmed by the decoder)",
         "001f020000005c03020100575601000000000000000000000000000000000000000000000000000000000000000001000000000000000000"
            + "034445550346524101580638353037362007e60003616c6c03616c6c0107a0cb980000c200000000010000"),
        ("entry reporter 'DEu' (upper-cased by the decoder)",
         "0040000000005c03020100575601000000000000000000000000000000000000000000000000000000000000000001000000000000000000"
            + "034445750346524101580638353037363007e60003616c6c03616c6c0107a0cb980000c200000000010000"),
        ("entry customs 'alL' (read as 'all')",
         "0040000000005c03020100575601000000000000000000000000000000000000000000000000000000000000000001000000000000000000"
            + "034445550346524101580638353037363007e60003616c4c03616c6c0107a0cb980000c200000000010000"),
        ("VECTOR seq as the two-byte varint c7 00",
         "0040000000004502020000000000000000000000000000000000000000000000000000000000000000050000000000000000000000000000"
            + "000000000000000000000000000000000200c700"),
        ("ACK vector seq as the two-byte varint ac 00",
         "0040000000004604010200000000000000000000000000000000000000000000000000000000000000000800000000000000000000000000"
            + "00000000000000000000000000000000000022ac00"),
        ("ERROR reason length 0 as an eight-byte varint", "001f020000000b0700008080808080808000"),
        ("BATCH uncompressedLength 0 as 80 00",
         "001f020000008b0301030180" + String(repeating: "00", count: 134)),
    ]

    @Test("Fuzz: regressions: inputs that once broke an invariant pass every check")
    func regressionsPass() throws {
        for regression in Self.regressions {
            let input = try #require(SeedCorpus.parseHex(regression.hex), "\(regression.name)")
            #expect(throws: Never.self, "\(regression.name)") { try FuzzTargets.run(input) }
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
