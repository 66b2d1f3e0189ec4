import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// Records under a checkpoint are not decoded at open, only their CRCs checked; every
/// read checks the CRC of what it reads again.
@Suite struct FileLogReadCheckTests {
    /// A byte of the length, the CRC, the hash and the payload of a record.
    static let deltas = [2, 5, 20, 60]

    @Test("Log: damaged record under the checkpoint: open throws corrupt at its offset, file untouched")
    func damageUnderCheckpointAtOpen() throws {
        try withTempDirectory { temp in
            let fixture = try CheckpointedLog(temp.sub("log"))
            let segment = logFile(fixture.directory)
            let offsets = recordOffsets(fixture.entries)
            let original = try readBytes(segment)
            for delta in Self.deltas {
                try flipByte(segment, at: offsets[5] + delta)
                let damaged = try readBytes(segment)
                for useCheckpoint in [true, false] {
                    let error = expectLogError { _ = try fixture.open(useCheckpoint: useCheckpoint) }
                    expectCorrupt(error, file: segment, offset: offsets[5], "+\(delta) checkpoint \(useCheckpoint)")
                    #expect(try readBytes(segment) == damaged, "+\(delta): file modified")
                }
                try writeBytes(original, to: segment)
            }
            #expect(try directoryNames(fixture.directory) == ["checkpoint", segmentName(1)])
        }
    }

    @Test(
        "Log: damaged last record of a checkpoint that covers the whole log: corrupt, not cut as a torn tail")
    func damagedLastRecordUnderCheckpoint() throws {
        try withTempDirectory { temp in
            // What a clean shutdown leaves: a final checkpoint over every entry.
            let batches = try makeBatches(try node(0x0A), try node(0x0B), count: 3, size: 10)
            let fixture = try CheckpointedLog(temp.sub("log"), batches: batches, coveredBatches: 3)
            let segment = logFile(fixture.directory)
            let last = recordOffsets(fixture.entries)[29]
            try flipByte(segment, at: last + 60)
            let damaged = try readBytes(segment)
            // The checkpoint vouches that record 29 was durable: losing it is not a torn write.
            expectCorrupt(expectLogError { _ = try fixture.open() }, file: segment, offset: last)
            #expect(try readBytes(segment) == damaged, "file modified")
            #expect(try directoryNames(fixture.directory) == ["checkpoint", segmentName(1)])
        }
    }

    @Test("Log: record damaged on disk while the log is open: reads of it throw corrupt at its offset")
    func damageWhileOpen() throws {
        try withTempDirectory { temp in
            let fixture = try CheckpointedLog(temp.sub("log"))
            let segment = logFile(fixture.directory)
            let offsets = recordOffsets(fixture.entries)
            let damaged = fixture.entries[5]
            let origin = damaged.dot.origin
            for delta in Self.deltas {
                let comment = "+\(delta)"
                let log = try fixture.open()
                #expect(log.recovery.checkpointEntries == 20, "\(comment)")
                #expect(log.recovery.entriesScanned == 7, "\(comment)")
                try flipByte(segment, at: offsets[5] + delta)
                expectCorrupt(
                    expectLogError { _ = try log.entries(origin: origin, after: damaged.dot.seq - 1, limit: 1) },
                    file: segment, offset: offsets[5], comment)
                expectCorrupt(
                    expectLogError { _ = try log.entries(origin: origin, after: 0, limit: 100) }, file: segment,
                    offset: offsets[5], comment)
                expectCorrupt(expectLogError { _ = try replayAll(log) }, file: segment, offset: offsets[5], comment)
                expectCorrupt(
                    expectLogError { _ = try log.recent(limit: 22) }, file: segment, offset: offsets[5], comment)
                // Reads that do not touch record 5 still work.
                #expect(try replayAll(log, from: 6) == Array(fixture.entries[6...]), "\(comment)")
                #expect(try log.recent(limit: 21) == Array(fixture.entries[6...]), "\(comment)")
                #expect(
                    try log.entries(origin: origin, after: damaged.dot.seq, limit: 100)
                        == fixture.entries.filter { $0.dot.origin == origin && $0.dot.seq > damaged.dot.seq },
                    "\(comment)")
                log.close()
                try flipByte(segment, at: offsets[5] + delta)
            }
        }
    }

    @Test("Log: damaged record in a sealed segment under a checkpoint: corrupt naming it, at open and on read")
    func damageInSealedSegment() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let batches = try makeBatches(a, b, count: 7, size: 10)
            let planned = plannedSegments(batches, segmentBytesMax: smallSegments)
            try #require(planned.count >= 3)
            let fixture = try CheckpointedLog(
                temp.sub("log"), batches: batches, coveredBatches: 6, segmentBytesMax: smallSegments)
            let path = segmentFile(fixture.directory, 2)
            let offsets = recordOffsets(planned[1])
            let record = 3
            let damaged = planned[1][record]
            let number = planned[0].count + record
            let position = offsets[record] + 40 + 10

            try flipByte(path, at: position)
            expectCorrupt(expectLogError { _ = try fixture.open() }, file: path, offset: offsets[record], "open")
            try flipByte(path, at: position)

            let log = try fixture.open()
            defer { log.close() }
            #expect(log.recovery.checkpointEntries == 60)
            #expect(log.recovery.entriesScanned == 10)
            try flipByte(path, at: position)
            expectCorrupt(
                expectLogError { _ = try log.entries(origin: damaged.dot.origin, after: 0, limit: 100) }, file: path,
                offset: offsets[record])
            expectCorrupt(expectLogError { _ = try replayAll(log) }, file: path, offset: offsets[record])
            #expect(try replayAll(log, from: number + 1) == Array(fixture.entries[(number + 1)...]))
        }
    }

    @Test("Log: segment file shrunk while open: reads past its end throw corrupt naming it")
    func shrunkWhileOpen() throws {
        try withTempDirectory { temp in
            let fixture = try CheckpointedLog(temp.sub("log"))
            let segment = logFile(fixture.directory)
            let offsets = recordOffsets(fixture.entries)
            let log = try fixture.open()
            defer { log.close() }
            try truncateFile(segment, to: offsets[25])
            expectCorrupt(expectLogError { _ = try log.recent(limit: 2) }, file: segment, offset: offsets[25], "read")
            #expect(try log.recent(limit: 0).isEmpty)
            #expect(try log.entries(origin: try node(0x0A), after: 0, limit: 5) == makeEntries(try node(0x0A), 1...5))
            // An append finds the log end gone and refuses, writing nothing.
            let next = try makeEntry(try node(0x0C), 5)
            expectCorrupt(expectLogError { _ = try log.write([next]) }, file: segment, offset: offsets[25], "write")
            #expect(try readBytes(segment).count == offsets[25])
        }
    }
}
