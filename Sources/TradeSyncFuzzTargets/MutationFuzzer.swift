/// The seeded mutation fuzzer: replays a corpus, then mutates it for a number of executions.
///
/// Deterministic: the same seed and corpus give the same inputs in the same order. It has
/// no coverage instrumentation; as feedback it keeps a mutant whose outcome summary (see
/// ``FuzzTargets/run(_:)``: message types seen, error codes, batches, ACKs, close reason)
/// has not been seen before, up to ``corpusMax`` inputs.
public struct MutationFuzzer: Sendable {
    /// One broken invariant and the input that broke it.
    public struct Failure: Sendable {
        /// The execution (0-based, corpus replay first) that failed.
        public let execution: Int
        /// The input.
        public let input: [UInt8]
        /// What went wrong.
        public let failure: FuzzFailure
    }

    /// What a run did.
    public struct Report: Sendable {
        /// Inputs run, corpus replay included.
        public var executions = 0
        /// Inputs in the corpus at the end (seeds and kept mutants).
        public var corpusCount = 0
        /// Distinct outcome summaries seen.
        public var outcomeCount = 0
        /// Failures, at most `failuresMax` of them.
        public var failures: [Failure] = []
    }

    /// Most inputs the corpus grows to.
    public static let corpusMax = 4096

    private var mutator: Mutator
    private var random: FuzzRandom
    private(set) var corpus: [[UInt8]]
    private var outcomes: Set<UInt64> = []

    /// Creates a fuzzer over `corpus` (at least one input; an empty input stands in for none).
    public init(seed: UInt64, corpus: [[UInt8]]) {
        mutator = Mutator(seed: seed)
        random = FuzzRandom(seed: seed ^ 0x5EED_F022)
        self.corpus = corpus.isEmpty ? [[]] : corpus
    }

    /// Runs the corpus once, then mutants until `executions` inputs have run in all, or
    /// `failuresMax` failures were found. `progress` is called every `progressEvery` executions.
    public mutating func run(
        executions: Int, failuresMax: Int = 1, progressEvery: Int = 0, progress: (Report) -> Void = { _ in }
    ) -> Report {
        var report = Report()
        var replay = corpus
        replay.reverse()
        while report.executions < executions && report.failures.count < failuresMax {
            let input: [UInt8]
            let isMutant: Bool
            if let next = replay.popLast() {
                input = next
                isMutant = false
            } else {
                input = mutator.mutate(corpus[random.below(corpus.count)], corpus: corpus)
                isMutant = true
            }
            CurrentInput.record(input)
            do throws(FuzzFailure) {
                let outcome = try FuzzTargets.run(input)
                if outcomes.insert(outcome).inserted, isMutant, corpus.count < Self.corpusMax { corpus.append(input) }
            } catch {
                report.failures.append(Failure(execution: report.executions, input: input, failure: error))
            }
            report.executions += 1
            if progressEvery > 0 && report.executions % progressEvery == 0 {
                report.corpusCount = corpus.count
                report.outcomeCount = outcomes.count
                progress(report)
            }
        }
        report.corpusCount = corpus.count
        report.outcomeCount = outcomes.count
        return report
    }
}
