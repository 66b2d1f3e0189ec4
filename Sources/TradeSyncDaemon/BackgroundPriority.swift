#if canImport(Glibc)
import Glibc
#endif

/// The CPU priority of the checkpoint thread: below the threads that replicate.
///
/// A checkpoint encodes and writes the whole replica (at 5M keys, ~1.7 s of one core and
/// 240 MB). On a 2-core office server it used to compete as an equal with the session tasks
/// and the node actor: right after a large catch-up, while the receiver's checkpoint ran,
/// +100 records took 2.3–2.9 ms to reach it instead of ~1 ms (5 of 11 samples on a 5M base).
/// The checkpoint thread now runs at nice ``niceValue``, as RocksDB lowers the CPU priority
/// of its compaction threads (`Env::LowerThreadPoolCPUPriority`): under contention the
/// scheduler gives it about a tenth of a core's share against a nice-0 thread (CFS weights 110
/// against 1024), so it still finishes, and on an idle core it runs at full speed. A later
/// checkpoint waits for the one in flight, so a slower checkpoint also means fewer of them
/// during a long intake.
enum BackgroundPriority {
    /// The nice value of background threads (0 is the default, 19 the lowest priority).
    static let niceValue: Int32 = 10

    /// Lowers the calling thread's CPU priority to ``niceValue``. On Linux the nice value
    /// is per thread (`setpriority(2)`, NOTES: "under the current Linux/NPTL implementation
    /// of POSIX threads, the nice value is a per-thread attribute"), so with `who` 0 this
    /// changes only the caller. Lowering a priority needs no privilege; a failure leaves the
    /// thread as it was, which is harmless. Elsewhere a no-op.
    /// - Returns: the calling thread's nice value afterwards (0 where not supported).
    @discardableResult
    static func lowerCurrentThread() -> Int32 {
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceValue)
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        return 0
        #endif
    }
}
