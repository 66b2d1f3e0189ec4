import FoundationEssentials
import TradeSyncFuzzTargets

#if canImport(Glibc)
import Glibc
#endif

/// `tradesync-fuzz`: fuzzes the frame decoder and the session state machine.
///
/// Normal build (a seeded mutation fuzzer, no instrumentation needed):
/// ```
/// tradesync-fuzz [--seed S] [--runs N] [--vectors DIR] [--corpus DIR] [--progress N]
/// tradesync-fuzz --replay FILE...            run each file once as an input
/// tradesync-fuzz --write-seeds DIR [--vectors DIR]   write the seed corpus as binary files
/// ```
/// Built with `-Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer` it is a libFuzzer binary:
/// every argument but `--write-seeds` goes to libFuzzer (`Fuzz/run.sh` shows the commands).
/// Both run the same ``FuzzTargets/run(_:)``. Exit codes: 0 clean, 1 an invariant broke,
/// 64 a usage error; a trap ends the process with its signal after printing the input.
@main
struct FuzzCommand {
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let index = arguments.firstIndex(of: "--write-seeds") {
            guard index + 1 < arguments.count else { usage("--write-seeds needs a directory") }
            let vectors = option("--vectors", in: &arguments) ?? "Protocol/vectors"
            writeSeeds(to: arguments[index + 1], vectors: vectors)
            return
        }
        #if FUZZING
        exit(LibFuzzerDriver.run())
        #else
        exit(MutationCommand.run(arguments))
        #endif
    }

    /// Removes `name VALUE` from `arguments` and returns VALUE.
    static func option(_ name: String, in arguments: inout [String]) -> String? {
        guard let index = arguments.firstIndex(of: name) else { return nil }
        guard index + 1 < arguments.count else { usage("\(name) needs a value") }
        let value = arguments[index + 1]
        arguments.removeSubrange(index...index + 1)
        return value
    }

    static func usage(_ message: String) -> Never {
        FileHandleOutput.error("tradesync-fuzz: \(message)\n"
            + "usage: tradesync-fuzz [--seed S] [--runs N] [--vectors DIR] [--corpus DIR] [--progress N]\n"
            + "       tradesync-fuzz --replay FILE...\n"
            + "       tradesync-fuzz --write-seeds DIR [--vectors DIR]\n")
        exit(64)
    }

    /// The golden frames of `directory/*.hex`, by file name.
    static func loadVectors(_ directory: String) -> [String: [UInt8]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var vectors: [String: [UInt8]] = [:]
        for name in names.sorted() where name.hasSuffix(".hex") {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name),
                let bytes = SeedCorpus.parseHex(String(decoding: data, as: UTF8.self))
            else { usage("cannot read golden vector \(directory)/\(name)") }
            vectors[name] = bytes
        }
        if vectors.isEmpty { usage("no golden vectors (*.hex) in \(directory)") }
        return vectors
    }

    static func writeSeeds(to directory: String, vectors: String) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let seeds = SeedCorpus.seeds(vectors: loadVectors(vectors))
            for seed in seeds {
                try Data(seed.input).write(to: URL(fileURLWithPath: directory + "/seed-" + seed.name))
            }
            FileHandleOutput.line("wrote \(seeds.count) seed inputs to \(directory)")
        } catch {
            usage("cannot write seeds to \(directory): \(error)")
        }
    }

    /// The binary inputs in `directory` (a libFuzzer corpus or a seed directory), by name.
    static func loadCorpus(_ directory: String) -> [[UInt8]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { FileManager.default.contents(atPath: directory + "/" + $0).map { [UInt8]($0) } }
    }
}

/// Unbuffered output, so that what was printed before a trap is not lost with it.
enum FileHandleOutput {
    /// Writes `text` and a newline to standard output.
    static func line(_ text: String) { write(text + "\n", to: 1) }

    /// Writes `text` to standard error.
    static func error(_ text: String) { write(text, to: 2) }

    private static func write(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard result > 0 else { return }
            written += result
        }
    }
}
