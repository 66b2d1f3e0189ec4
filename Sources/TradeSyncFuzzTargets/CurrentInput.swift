/// The input being run, kept where a signal handler can read it without allocating, so a
/// trap (which no `catch` sees) can still print the input that caused it.
///
/// Off by default; `tradesync-fuzz` turns it on in mutation and replay mode. Not
/// thread-safe: one fuzzing thread per process.
public enum CurrentInput {
    /// Bytes kept: inputs longer than this are kept cut to it.
    public static let capacity = Mutator.inputBytesMax
    /// Whether ``MutationFuzzer`` copies each input here before running it.
    nonisolated(unsafe) public static var isRecording = false
    /// The kept bytes; the first ``count`` are valid.
    nonisolated(unsafe) public static let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    /// Valid bytes at ``bytes``.
    nonisolated(unsafe) public private(set) static var count = 0

    /// Keeps `input` (when recording).
    public static func record(_ input: [UInt8]) {
        guard isRecording else { return }
        let kept = min(input.count, capacity)
        count = 0
        input.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { bytes.update(from: base, count: kept) }
        }
        count = kept
    }
}
