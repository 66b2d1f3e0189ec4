import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

@Suite struct FileLogTests {
    @Test("Log: fresh directory: creates directory and a header-only file")
    func freshDirectory() throws {
        try withTempDirectory { temp in
            let directory = temp.sub("a/b/data")
            let log = try FileLog.open(directory: directory)
            defer { log.close() }
            #expect(log.entryCount == 0)
            #expect(log.vector.isEmpty)
            #expect(log.instanceID != 0)
            #expect(
                withoutCheckpointProblem(log.recovery)
                    == LogRecovery(
                        entriesRead: 0, truncatedTailBytes: 0, truncatedAtOffset: nil, file: logFile(directory),
                        segments: 1, checkpointEntries: nil, entriesScanned: 0))
            // No checkpoint file: reported as the reason none was used.
            #expect(log.recovery.checkpointProblem != nil)
            #expect(log.path == logFile(directory))
            #expect(log.segmentPaths == [logFile(directory)])
            #expect(try directoryNames(directory) == [segmentName(1)])
            #expect(try readBytes(logFile(directory)).count == headerBytes)
            #expect(try log.recent(limit: 10).isEmpty)
        }
    }

    @Test("Log: append, reopen, replay: same entries, vector and instance ID")
    func roundTrip() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let first = try makeEntries(a, 1...3) + makeEntries(b, 1...2)
            let second = try [makeEntry(b, 3), makeEntry(a, 4)] + makeEntries(b, 4...6)
            let log = try FileLog.open(directory: temp.path)
            try log.append(first)
            try log.append(second)
            try log.append([])
            let instanceID = log.instanceID
            #expect(log.vector == VersionVector([a: 4, b: 6]))
            #expect(log.entryCount == 10)
            #expect(try replayAll(log) == first + second)
            log.close()

            let reopened = try FileLog.open(directory: temp.path)
            defer { reopened.close() }
            #expect(reopened.instanceID == instanceID)
            #expect(reopened.vector == VersionVector([a: 4, b: 6]))
            #expect(reopened.entryCount == 10)
            #expect(try replayAll(reopened) == first + second)
            #expect(reopened.recovery.entriesRead == 10)
            #expect(reopened.recovery.truncatedTailBytes == 0)
            #expect(reopened.recovery.truncatedAtOffset == nil)
        }
    }

    @Test("Log: entries(origin:after:limit:): ranges per origin, before and after reopen")
    func entriesRanges() throws {
        try withTempDirectory { temp in
            let (a, b, c) = (try node(0x0A), try node(0x0B), try node(0x0C))
            let all =
                try makeEntries(a, 1...4) + makeEntries(b, 1...2) + makeEntries(a, 5...7) + makeEntries(b, 3...5)
                + makeEntries(a, 8...10)
            var log = try FileLog.open(directory: temp.path)
            try log.append(Array(all[0..<6]))
            try log.append(Array(all[6...]))
            for pass in 0..<2 {
                #expect(try log.entries(origin: a, after: 0, limit: 3) == makeEntries(a, 1...3), "pass \(pass)")
                #expect(try log.entries(origin: a, after: 3, limit: 4) == makeEntries(a, 4...7), "pass \(pass)")
                #expect(try log.entries(origin: a, after: 7, limit: 100) == makeEntries(a, 8...10), "pass \(pass)")
                #expect(try log.entries(origin: a, after: 0, limit: 10) == makeEntries(a, 1...10), "pass \(pass)")
                #expect(try log.entries(origin: a, after: 10, limit: 5).isEmpty, "pass \(pass)")
                #expect(try log.entries(origin: a, after: 99, limit: 5).isEmpty, "pass \(pass)")
                #expect(try log.entries(origin: a, after: 2, limit: 0).isEmpty, "pass \(pass)")
                #expect(try log.entries(origin: a, after: 2, limit: -1).isEmpty, "pass \(pass)")
                #expect(try log.entries(origin: b, after: 1, limit: 3) == makeEntries(b, 2...4), "pass \(pass)")
                #expect(try log.entries(origin: b, after: 4, limit: 3) == makeEntries(b, 5...5), "pass \(pass)")
                #expect(try log.entries(origin: c, after: 0, limit: 3).isEmpty, "pass \(pass)")
                #expect(try log.entries(origin: a, after: UInt64.max, limit: Int.max).isEmpty, "pass \(pass)")
                log.close()
                log = try FileLog.open(directory: temp.path)
            }
            log.close()
        }
    }

    @Test("Log: recent(limit:): the last entries in append order")
    func recentEntries() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let all = try makeEntries(a, 1...3) + makeEntries(b, 1...3) + [makeEntry(a, 4)]
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            try log.append(all)
            #expect(try log.recent(limit: 3) == Array(all.suffix(3)))
            #expect(try log.recent(limit: 1) == [all[6]])
            #expect(try log.recent(limit: 100) == all)
            #expect(try log.recent(limit: Int.max) == all)
            #expect(try log.recent(limit: 0).isEmpty)
            #expect(try log.recent(limit: -5).isEmpty)
        }
    }

    @Test("Log: batch holding several seqs of one origin: accepted in order")
    func batchWithRuns() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            try log.append(try makeEntries(a, 1...4))
            let batch = try makeEntries(a, 5...7) + [makeEntry(b, 1), makeEntry(a, 8), makeEntry(b, 2)]
            try log.append(batch)
            #expect(log.vector == VersionVector([a: 8, b: 2]))
            #expect(try log.entries(origin: a, after: 4, limit: 10) == makeEntries(a, 5...8))
        }
    }

    @Test("Log: non-contiguous seq: refused before writing, log unchanged")
    func contiguityRefusal() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try FileLog.open(directory: temp.path)
            try log.append(try makeEntries(a, 1...3))
            let before = try readBytes(logFile(temp.path))

            let gap = try makeEntry(a, 6)
            #expect(
                expectLogError { try log.append([try makeEntry(a, 4), gap]) }
                    == .notContiguous(dot: gap.dot, expectedSeq: 5))
            let repeated = try makeEntry(a, 2)
            #expect(expectLogError { try log.append([repeated]) } == .notContiguous(dot: repeated.dot, expectedSeq: 4))
            let late = try makeEntry(b, 2)
            #expect(expectLogError { try log.append([late]) } == .notContiguous(dot: late.dot, expectedSeq: 1))
            let twice = try makeEntry(b, 1)
            #expect(
                expectLogError { try log.append([twice, twice]) } == .notContiguous(dot: twice.dot, expectedSeq: 2))

            #expect(try readBytes(logFile(temp.path)) == before)
            #expect(log.vector == VersionVector([a: 3]))
            #expect(log.entryCount == 3)
            try log.append([try makeEntry(a, 4)])
            log.close()
            let reopened = try FileLog.open(directory: temp.path)
            defer { reopened.close() }
            #expect(try replayAll(reopened) == makeEntries(a, 1...4))
        }
    }

    @Test("Log: entry over the size limit or not decodable: refused, log unchanged")
    func entryRefusals() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let log = try FileLog.open(directory: temp.path)
            defer { log.close() }
            let key = try TradeKey(parsing: "CHN:DEU:X:850760:2022")
            let huge = Entry(
                dot: Dot(origin: a, seq: 1), hlc: .zero, context: VersionVector(), key: key,
                operation: .put(TradeValues(quantityUnit: String(repeating: "x", count: 20_000))))
            #expect(
                expectLogError { try log.append([huge]) }
                    == .entryTooLarge(bytes: huge.encoded().count, bytesMax: EntryLimits.entryBytesMax))
            // 300 context origins: small enough, but decoding allows only 256.
            var counters: [NodeID: UInt64] = [:]
            for index in 0..<300 { counters[try node(UInt8(index % 256)).with(tag: index)] = 1 }
            let wideContext = Entry(
                dot: Dot(origin: a, seq: 1), hlc: .zero, context: VersionVector(counters), key: key, operation: .delete)
            guard case .invalidEntry(let dot, _) = expectLogError({ try log.append([wideContext]) }) else {
                Issue.record("expected invalidEntry")
                return
            }
            #expect(dot == wideContext.dot)
            #expect(try readBytes(logFile(temp.path)).count == headerBytes)
            #expect(log.entryCount == 0)
        }
    }

    @Test("Log: second open of the same directory while open: locked; after close: opens")
    func lockedDirectory() throws {
        try withTempDirectory { temp in
            let log = try FileLog.open(directory: temp.path)
            #expect(expectLogError { _ = try FileLog.open(directory: temp.path) } == .locked(directory: temp.path))
            log.close()
            let again = try FileLog.open(directory: temp.path)
            again.close()
        }
    }

    @Test("Log: use after close: closed error")
    func useAfterClose() throws {
        try withTempDirectory { temp in
            let log = try FileLog.open(directory: temp.path)
            log.close()
            log.close()
            let file = logFile(temp.path)
            #expect(expectLogError { try log.append([try makeEntry(try node(1), 1)]) } == .closed(file: file))
            #expect(expectLogError { _ = try log.recent(limit: 1) } == .closed(file: file))
            #expect(throws: LogError.closed(file: file)) { try log.replay { _ in } }
        }
    }

    @Test("Log: stray bytes after the end while open: the next append cuts them")
    func strayBytesCutOnAppend() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let log = try FileLog.open(directory: temp.path)
            try log.append(try makeEntries(a, 1...2))
            let handle = try #require(FileHandle(forWritingAtPath: logFile(temp.path)))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data([1, 2, 3, 4, 5]))
            try handle.close()
            try log.append([try makeEntry(a, 3)])
            log.close()
            let reopened = try FileLog.open(directory: temp.path)
            defer { reopened.close() }
            #expect(reopened.recovery.truncatedTailBytes == 0)
            #expect(try replayAll(reopened) == makeEntries(a, 1...3))
        }
    }
}

extension NodeID {
    /// A distinct ID derived from `self` by writing `tag` into the last two bytes.
    func with(tag: Int) -> NodeID {
        var bytes = self.bytes
        bytes[30] = UInt8(tag >> 8)
        bytes[31] = UInt8(tag & 0xFF)
        return NodeID(bytes: bytes) ?? self
    }
}
