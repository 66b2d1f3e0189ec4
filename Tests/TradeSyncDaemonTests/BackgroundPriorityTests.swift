import Foundation
import Synchronization
import Testing
@testable import TradeSyncDaemon

#if canImport(Glibc)
import Glibc
#endif

@Suite struct BackgroundPriorityTests {
    /// The nice value of the calling thread (Linux: per thread).
    static func currentNice() -> Int32 {
        #if os(Linux)
        getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        0
        #endif
    }

    @Test("The checkpoint thread's priority drops to nice 10, and only that thread's")
    func lowersOnlyTheCallingThread() {
        #if os(Linux)
        let before = Self.currentNice()
        let done = DispatchSemaphore(value: 0)
        let seen = Mutex<(returned: Int32, read: Int32)?>(nil)
        // A thread of its own, which ends afterwards: a pool thread would keep the priority.
        let thread = Thread {
            let returned = BackgroundPriority.lowerCurrentThread()
            seen.withLock { $0 = (returned, Self.currentNice()) }
            done.signal()
        }
        thread.start()
        done.wait()
        let result = seen.withLock { $0 }
        #expect(result?.returned == BackgroundPriority.niceValue)
        #expect(result?.read == BackgroundPriority.niceValue)
        #expect(Self.currentNice() == before, "the caller's own priority is unchanged")
        #endif
    }
}
