import Testing
import TradeSyncClock
import TradeSyncLog

#if canImport(Glibc)
    import Glibc
#endif

/// Timings, opt-in: `TRADESYNC_LOG_PERF=1 swift test --filter FileLogPerformanceTests`.
/// The figures are printed; the assertions check only the outcome, since build mode
/// and machine load decide the times.
@Suite(.enabled(if: getenv("TRADESYNC_LOG_PERF") != nil, "set TRADESYNC_LOG_PERF=1 to run"))
struct FileLogPerformanceTests {
    @Test("Log: performance: append 10k entries in one call, reopen 100k entries")
    func appendAndReopen() throws {
        try withTempDirectory { temp in
            let clock = ContinuousClock()
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            let batch = try makeEntries(a, 1...10_000)
            let appendTime = try clock.measure { try log.append(batch) }
            var seq: UInt64 = 0
            var fillTime = Duration.zero
            for _ in 0..<9 {
                let more = try makeEntries(b, (seq + 1)...(seq + 10_000))
                fillTime += try clock.measure { try log.append(more) }
                seq += 10_000
            }
            log.close()
            let reopenClock = clock.now
            let reopened = try FileLog.open(directory: temp.path)
            let reopenTime = clock.now - reopenClock
            var count = 0
            let replayTime = try clock.measure { try reopened.replay { _ in count += 1 } }
            var rangeCount = 0
            let rangeTime = try clock.measure {
                rangeCount = try reopened.entries(origin: b, after: 40_000, limit: 1_000).count
            }
            #expect(rangeCount == 1_000)
            reopened.close()
            #expect(reopened.entryCount == 100_000)
            #expect(count == 100_000)
            print(
                """
                FileLog performance: append 10,000 entries in one call: \(appendTime); \
                9 more such appends: \(fillTime); reopen 100,000 entries: \(reopenTime); \
                replay 100,000: \(replayTime); entries(limit: 1000): \(rangeTime)
                """)
        }
    }
}
