import TradeSyncFuzzTargets

#if canImport(Glibc)
import Glibc

/// Prints the input being run (``CurrentInput``) in hex when the process traps, then lets
/// the signal end the process as usual. Swift prints its own fatal-error message first.
enum CrashReporter {
    static func install() {
        CurrentInput.isRecording = true
        for signal in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = crashHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = Int32(truncatingIfNeeded: SA_RESETHAND)
            sigaction(signal, &action, nil)
        }
    }
}

/// Async-signal-safe: only `write` and `raise`, no allocation.
private func crashHandler(_ signal: Int32) {
    let header: StaticString = "\ntradesync-fuzz: crashed; input in hex (replay: save it to a file, then --replay FILE):\n"
    _ = write(2, header.utf8Start, header.utf8CodeUnitCount)
    let digits: StaticString = "0123456789abcdef"
    var pair: (UInt8, UInt8) = (0, 0)
    for index in 0..<CurrentInput.count {
        let byte = CurrentInput.bytes[index]
        pair = (digits.utf8Start[Int(byte >> 4)], digits.utf8Start[Int(byte & 0x0F)])
        _ = withUnsafeBytes(of: &pair) { write(2, $0.baseAddress, 2) }
    }
    let newline: StaticString = "\n"
    _ = write(2, newline.utf8Start, newline.utf8CodeUnitCount)
    raise(signal)
}
#else
enum CrashReporter {
    static func install() {}
}
#endif
