import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#endif

/// write() / sync() / syncRequest() + perform() + completeSync(): what is durable when.
@Suite struct FileLogGroupCommitTests {
    @Test("Log: write() returns the entry count as ticket; durableCount and durableVector lag until sync()")
    func ticketsAndDurableLag() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            #expect(log.durableCount == 0)
            #expect(log.syncRequest()?.entryCount == nil)
            #expect(try log.write(try makeEntries(a, 1...3)) == 3)
            #expect(try log.write(try makeEntries(b, 1...2)) == 5)
            #expect(try log.write([]) == 5)
            #expect(log.entryCount == 5)
            #expect(log.vector == VersionVector([a: 3, b: 2]))
            #expect(log.durableCount == 0)
            #expect(log.durableVector.isEmpty)
            // Written entries are readable before they are durable.
            #expect(try log.entries(origin: b, after: 0, limit: 5) == makeEntries(b, 1...2))
            try log.sync()
            #expect(log.durableCount == 5)
            #expect(log.durableVector == VersionVector([a: 3, b: 2]))
            #expect(log.syncRequest()?.entryCount == nil)
            try log.sync()
            #expect(log.durableCount == 5)
            // append() is write + sync.
            try log.append(try makeEntries(a, 4...4))
            #expect(log.durableCount == 6)
            #expect(log.durableVector == VersionVector([a: 4, b: 2]))
        }
    }

    @Test("Log: syncRequest() + perform() + completeSync(): makes durable what was written before the request")
    func requestCoversOnlyEarlierWrites() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            #expect(try log.write(try makeEntries(a, 1...3)) == 3)
            let first = try #require(log.syncRequest())
            #expect(first.entryCount == 3)
            #expect(try log.write(try makeEntries(b, 1...2)) == 5)
            #expect(try log.write(try makeEntries(a, 4...5)) == 7)
            #expect(first.perform() == 0)
            try log.completeSync(first, errno: 0)
            #expect(log.durableCount == 3)
            #expect(log.durableVector == VersionVector([a: 3]))
            let second = try #require(log.syncRequest())
            #expect(second.entryCount == 7)
            #expect(second.perform() == 0)
            try log.completeSync(second, errno: 0)
            #expect(log.durableCount == 7)
            #expect(log.durableVector == VersionVector([a: 5, b: 2]))
            #expect(log.syncRequest()?.entryCount == nil)
        }
    }

    @Test("Log: completeSync of an older request after a newer one: durable count never goes back")
    func completionsOutOfOrder() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            _ = try log.write(try makeEntries(a, 1...2))
            let older = try #require(log.syncRequest())
            _ = try log.write(try makeEntries(b, 1...3))
            let newer = try #require(log.syncRequest())
            #expect((older.entryCount, newer.entryCount) == (2, 5))
            try log.completeSync(newer, errno: newer.perform())
            #expect(log.durableCount == 5)
            try log.completeSync(older, errno: older.perform())
            #expect(log.durableCount == 5)
            #expect(log.durableVector == VersionVector([a: 2, b: 3]))
        }
    }

    @Test("Log: completeSync with an errno: syncFailed; every later write refused, nothing more written")
    func failedSyncStopsWrites() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            try log.append(try makeEntries(a, 1...3))
            #expect(try log.write(try makeEntries(b, 1...2)) == 5)
            let request = try #require(log.syncRequest())
            let failure = LogError.syncFailed(file: logFile(temp.path), errno: EIO)
            #expect(expectLogError { try log.completeSync(request, errno: EIO) } == failure)
            #expect(log.durableCount == 3)
            #expect(log.durableVector == VersionVector([a: 3]))
            let bytes = try readBytes(logFile(temp.path))
            #expect(expectLogError { _ = try log.write(try makeEntries(a, 4...4)) } == failure)
            #expect(expectLogError { try log.append(try makeEntries(b, 3...3)) } == failure)
            #expect(expectLogError { _ = try log.write([]) } == failure)
            #expect(try readBytes(logFile(temp.path)) == bytes)
            #expect(log.entryCount == 5)
            #expect(log.vector == VersionVector([a: 3, b: 2]))
            // Reads still work.
            #expect(try replayAll(log) == makeEntries(a, 1...3) + makeEntries(b, 1...2))
        }
    }

    @Test(
        "Log: after a failed fsync, a later fsync that succeeds does not make the earlier writes durable")
    func noDurabilityAfterFailedSync() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            try log.append(try makeEntries(a, 1...3))
            _ = try log.write(try makeEntries(b, 1...2))
            let request = try #require(log.syncRequest())
            _ = expectLogError { try log.completeSync(request, errno: EIO) }
            // The page cache may have dropped the failed pages and marked them clean, so a
            // retried fsync can succeed without them on disk ("fsyncgate"): entries 4 and 5
            // must never count as durable (they would be acknowledged).
            _ = try? log.sync()
            #expect(log.durableCount == 3)
            #expect(log.durableVector == VersionVector([a: 3]))
            if let retry = log.syncRequest() { try? log.completeSync(retry, errno: retry.perform()) }
            #expect(log.durableCount == 3)
            #expect(log.durableVector == VersionVector([a: 3]))
        }
    }

    @Test("Log: a new segment makes every earlier write durable (the sealed segment is fsynced)")
    func rolloverMakesDurable() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let batches = try makeBatches(a, b, count: 7, size: 10)
            let log = try openLog(temp.path, segmentBytesMax: smallSegments)
            defer { log.close() }
            var written = 0
            var vectorBefore = VersionVector()
            var rollovers = 0
            for batch in batches {
                let segmentsBefore = log.segmentPaths.count
                let countBefore = log.entryCount
                let durableBefore = log.durableCount
                #expect(try log.write(batch) == written + batch.count)
                written += batch.count
                if log.segmentPaths.count > segmentsBefore {
                    rollovers += 1
                    #expect(log.durableCount == countBefore, "batch ending at \(written)")
                    #expect(log.durableVector == vectorBefore, "batch ending at \(written)")
                } else {
                    #expect(log.durableCount == durableBefore, "batch ending at \(written)")
                }
                vectorBefore = log.vector
            }
            let planned = plannedSegments(batches, segmentBytesMax: smallSegments)
            #expect(rollovers == planned.count - 1)
            #expect(log.durableCount == 70 - planned[planned.count - 1].count)
            try log.sync()
            #expect(log.durableCount == 70)
            #expect(log.durableVector == VersionVector([a: 35, b: 35]))
        }
    }

    @Test("Log: a sync request made before a rollover: completing it later changes nothing")
    func requestBeforeRollover() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let log = try openLog(temp.path, segmentBytesMax: smallSegments)
            defer { log.close() }
            _ = try log.write(try makeEntries(a, 1...20))
            let request = try #require(log.syncRequest())
            _ = try log.write(try makeEntries(a, 21...40))
            #expect(log.segmentPaths.count == 2)
            #expect(request.entryCount == 20)
            #expect(log.durableCount == 20)
            try log.completeSync(request, errno: request.perform())
            #expect(log.durableCount == 20)
            try log.sync()
            #expect(log.durableCount == 40)
            #expect(log.durableVector == VersionVector([a: 40]))
        }
    }

    @Test("Log: open: everything found on disk counts as durable; closed log: no sync request")
    func durableAfterOpen() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            _ = try log.write(try makeEntries(a, 1...4) + makeEntries(b, 1...1))
            log.close()
            #expect(log.syncRequest()?.entryCount == nil)
            #expect(expectLogError { try log.sync() } == .closed(file: logFile(temp.path)))
            let reopened = try FileLog.open(directory: temp.path)
            defer { reopened.close() }
            #expect(reopened.durableCount == 5)
            #expect(reopened.durableVector == VersionVector([a: 4, b: 1]))
            #expect(reopened.syncRequest()?.entryCount == nil)
        }
    }
}
