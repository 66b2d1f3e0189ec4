#if FUZZING
import TradeSyncFuzzTargets

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry point: one input, any invariant failure is a crash (libFuzzer then
/// saves the input as `crash-…`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do throws(FuzzFailure) {
        try FuzzTargets.run(input)
    } catch {
        fatalError("tradesync-fuzz: \(error)")
    }
    return 0
}

/// `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size))`,
/// libFuzzer's main loop, for programs that have a `main` of their own (SwiftPM gives every
/// executable one, and links libFuzzer's `main` away).
@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Hands the command line to libFuzzer.
enum LibFuzzerDriver {
    static func run() -> Int32 {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        return llvmFuzzerRunDriver(&argc, &argv, fuzzTestOneInput)
    }
}
#endif
