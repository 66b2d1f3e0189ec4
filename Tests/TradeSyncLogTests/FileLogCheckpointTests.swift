import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// Opaque state bytes for a checkpoint.
let checkpointState: [UInt8] = (0..<64).map { UInt8(200 - $0) }

/// A log with a checkpoint over its first `covered` entries and more entries after it.
struct CheckpointedLog {
    let directory: String
    let entries: [Entry]
    let covered: Int
    let instanceID: UInt64
    let segmentBytesMax: Int

    /// Appends `batches` one by one, checkpoints after the first `coveredBatches`.
    init(
        _ directory: String, batches: [[Entry]], coveredBatches: Int, segmentBytesMax: Int = 64 << 20,
        state: [UInt8] = checkpointState
    ) throws {
        self.directory = directory
        self.segmentBytesMax = segmentBytesMax
        entries = batches.flatMap { $0 }
        covered = batches[0..<coveredBatches].map(\.count).reduce(0, +)
        let log = try openLog(directory, segmentBytesMax: segmentBytesMax)
        for batch in batches[0..<coveredBatches] { try log.append(batch) }
        let image = log.checkpointImage()
        #expect(image.entryCount == covered)
        let size = try image.write(state: state)
        #expect(try readBytes(checkpointFile(directory)).count == size)
        for batch in batches[coveredBatches...] { try log.append(batch) }
        instanceID = log.instanceID
        log.close()
    }

    /// 2 batches of 10 covered, then batches of 4 and 3: 27 entries in one segment.
    init(_ directory: String) throws {
        let batches = try makeBatches(try node(0x0A), try node(0x0B), count: 2, size: 10)
        let later = [
            try [makeEntry(try node(0x0A), 11), makeEntry(try node(0x0B), 11), makeEntry(try node(0x0A), 12)]
                + [makeEntry(try node(0x0C), 1)],
            try makeEntries(try node(0x0C), 2...4),
        ]
        try self.init(directory, batches: batches + later, coveredBatches: 2)
    }

    func open(readOnly: Bool = false, useCheckpoint: Bool = true) throws -> FileLog {
        try openLog(directory, segmentBytesMax: segmentBytesMax, readOnly: readOnly, useCheckpoint: useCheckpoint)
    }
}

@Suite struct FileLogCheckpointTests {
    @Test("Log: checkpoint, reopen: state and count loaded, only later entries scanned, reads cover everything")
    func checkpointRoundTrip() throws {
        try withTempDirectory { temp in
            let (a, b, c) = (try node(0x0A), try node(0x0B), try node(0x0C))
            let fixture = try CheckpointedLog(temp.sub("log"))
            #expect(try directoryNames(fixture.directory) == ["checkpoint", segmentName(1)])
            let log = try fixture.open()
            #expect(log.checkpoint?.entryCount == 20)
            #expect(log.checkpoint?.state == checkpointState)
            #expect(
                log.recovery
                    == LogRecovery(
                        entriesRead: 27, truncatedTailBytes: 0, truncatedAtOffset: nil,
                        file: logFile(fixture.directory),
                        segments: 1, checkpointEntries: 20, entriesScanned: 7, checkpointProblem: nil))
            #expect(log.instanceID == fixture.instanceID)
            #expect(log.entryCount == 27)
            #expect(log.durableCount == 27)
            #expect(log.vector == VersionVector([a: 12, b: 11, c: 4]))
            #expect(log.lastHash == fixture.entries[26].hash)
            #expect(try replayAll(log) == fixture.entries)
            #expect(try replayAll(log, from: 20) == Array(fixture.entries[20...]))
            #expect(try log.entries(origin: a, after: 7, limit: 100) == makeEntries(a, 8...12))
            #expect(try log.entries(origin: b, after: 0, limit: 11) == makeEntries(b, 1...11))
            #expect(try log.recent(limit: 9) == Array(fixture.entries[18...]))
            log.releaseCheckpoint()
            #expect(log.checkpoint?.entryCount == nil)
            // Appends after a checkpoint load extend the loaded index.
            try log.append(try makeEntries(b, 12...14))
            #expect(try log.entries(origin: b, after: 9, limit: 10) == makeEntries(b, 10...14))
            log.close()

            let again = try fixture.open()
            defer { again.close() }
            #expect(again.recovery.checkpointEntries == 20)
            #expect(again.recovery.entriesScanned == 10)
            #expect(try replayAll(again) == fixture.entries + makeEntries(b, 12...14))
            // A read-only open uses the checkpoint too.
            let reader = try fixture.open(readOnly: true)
            defer { reader.close() }
            #expect(reader.checkpoint?.entryCount == 20)
            #expect(reader.recovery.entriesScanned == 10)
        }
    }

    @Test("Log: checkpoint of an empty log with empty state: loaded, covers 0 entries")
    func emptyCheckpoint() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let fixture = try CheckpointedLog(
                temp.sub("log"), batches: [try makeEntries(a, 1...5)], coveredBatches: 0, state: [])
            let log = try fixture.open()
            defer { log.close() }
            #expect(log.checkpoint?.entryCount == 0)
            #expect(log.checkpoint?.state == [])
            #expect(log.recovery.checkpointEntries == 0)
            #expect(log.recovery.entriesScanned == 5)
            #expect(log.recovery.checkpointProblem == nil)
            #expect(try replayAll(log) == makeEntries(a, 1...5))
        }
    }

    @Test("Log: useCheckpoint false: no checkpoint, every record scanned")
    func checkpointNotAskedFor() throws {
        try withTempDirectory { temp in
            let fixture = try CheckpointedLog(temp.sub("log"))
            for readOnly in [false, true] {
                let log = try fixture.open(readOnly: readOnly, useCheckpoint: false)
                #expect(log.checkpoint?.entryCount == nil)
                #expect(
                    log.recovery
                        == LogRecovery(
                            entriesRead: 27, truncatedTailBytes: 0, truncatedAtOffset: nil,
                            file: logFile(fixture.directory), segments: 1, checkpointEntries: nil, entriesScanned: 27,
                            checkpointProblem: nil),
                    "read-only \(readOnly)")
                #expect(try replayAll(log) == fixture.entries)
                log.close()
            }
        }
    }

    /// Ways a checkpoint stops belonging to the log (ignored), or shows that the log lost
    /// records it had made durable (refused).
    enum Stale: String, CaseIterable, Sendable {
        case deleted, flippedByte, cutShort, otherInstance, logCutBelow, logTornBelow, hashMismatch

        /// True when the log, not the checkpoint, is what is damaged.
        var logLostRecords: Bool { [.logCutBelow, .logTornBelow, .hashMismatch].contains(self) }
    }

    @Test(
        "Log: checkpoint deleted, damaged or foreign: ignored with a reason, full scan; log lost records under it: corrupt",
        arguments: Stale.allCases)
    func staleCheckpoint(_ stale: Stale) throws {
        try withTempDirectory { temp in
            let fixture = try CheckpointedLog(temp.sub("log"))
            let segment = logFile(fixture.directory)
            let offsets = recordOffsets(fixture.entries)
            var expected = fixture.entries
            switch stale {
            case .deleted:
                try FileManager.default.removeItem(atPath: checkpointFile(fixture.directory))
            case .flippedByte:
                let size = try readBytes(checkpointFile(fixture.directory)).count
                try flipByte(checkpointFile(fixture.directory), at: size / 2, mask: 0x01)
            case .cutShort:
                let size = try readBytes(checkpointFile(fixture.directory)).count
                try truncateFile(checkpointFile(fixture.directory), to: size - 100)
            case .otherInstance:
                // The same entries and position, but another log's checkpoint.
                let other = try CheckpointedLog(temp.sub("other"))
                #expect(other.instanceID != fixture.instanceID)
                try FileManager.default.removeItem(atPath: checkpointFile(fixture.directory))
                try FileManager.default.copyItem(
                    atPath: checkpointFile(other.directory), toPath: checkpointFile(fixture.directory))
            case .logCutBelow:
                // At a record boundary: the log holds 15 records, the checkpoint covers 20.
                try truncateFile(segment, to: offsets[15])
                expected = Array(fixture.entries[0..<15])
            case .logTornBelow:
                try truncateFile(segment, to: offsets[15] + 30)
                expected = Array(fixture.entries[0..<15])
            case .hashMismatch:
                // The same dots and record sizes, other values: only the hash tells.
                expected = try fixture.entries.map { try makeEntry($0.dot.origin, $0.dot.seq, salt: 1) }
                try #require(expected.map(recordBytes) == fixture.entries.map(recordBytes))
                try writeBytes(
                    encodeHeader(instanceID: fixture.instanceID, number: 1, firstRecord: 0)
                        + expected.flatMap(encodeRecord), to: segment)
            }
            if stale.logLostRecords {
                // The checkpoint proves those records were durable (acknowledged): the log
                // lost or changed them, so open refuses, naming the segment, and cuts nothing.
                let before = try readBytes(segment)
                let error = expectLogError { _ = try fixture.open() }
                guard case .corrupt(let file, let offset, let reason) = error else {
                    Issue.record("expected corrupt, got \(String(describing: error))")
                    return
                }
                #expect(file == segment)
                #expect(reason.contains("acknowledged"))
                #expect(offset == (stale == .hashMismatch ? offsets[fixture.covered - 1] : before.count))
                #expect(try readBytes(segment) == before)
                #expect(!FileManager.default.fileExists(atPath: segment + ".torn-\(offsets[15])"))
                _ = expected
                return
            }
            let log = try fixture.open()
            defer { log.close() }
            #expect(log.checkpoint?.entryCount == nil)
            #expect(log.recovery.checkpointEntries == nil)
            #expect(log.recovery.checkpointProblem != nil)
            #expect(log.recovery.entriesScanned == expected.count)
            #expect(log.entryCount == expected.count)
            #expect(try replayAll(log) == expected)
        }
    }

    @Test("Log: cut at a record boundary above the checkpoint: checkpoint still used")
    func logCutAboveCheckpoint() throws {
        try withTempDirectory { temp in
            let fixture = try CheckpointedLog(temp.sub("log"))
            for kept in [24, 20] {
                try truncateFile(logFile(fixture.directory), to: recordOffsets(fixture.entries)[kept])
                let log = try fixture.open()
                #expect(log.recovery.checkpointEntries == 20, "kept \(kept)")
                #expect(log.recovery.entriesScanned == kept - 20, "kept \(kept)")
                #expect(try replayAll(log) == Array(fixture.entries[0..<kept]), "kept \(kept)")
                log.close()
            }
        }
    }

    @Test("Log: torn tail after the checkpoint: cut, checkpoint still used")
    func tornTailAfterCheckpoint() throws {
        try withTempDirectory { temp in
            let fixture = try CheckpointedLog(temp.sub("log"))
            let segment = logFile(fixture.directory)
            // Record 26 is the last of the batch 24…26: tearing it cuts the whole batch.
            let offsets = recordOffsets(fixture.entries)
            let (lastStart, batchStart) = (offsets[26], offsets[24])
            try truncateFile(segment, to: lastStart + 50)
            let log = try fixture.open()
            defer { log.close() }
            #expect(
                log.recovery
                    == LogRecovery(
                        entriesRead: 24, truncatedTailBytes: lastStart + 50 - batchStart, truncatedAtOffset: batchStart,
                        file: segment, savedTail: segment + ".torn-\(batchStart)", segments: 1, checkpointEntries: 20,
                        entriesScanned: 4, checkpointProblem: nil))
            #expect(try replayAll(log) == Array(fixture.entries[0..<24]))
        }
    }

    @Test("Log: checkpoint taken over 3 segments, more appended into a 4th: loaded, the rest scanned")
    func checkpointAcrossSegments() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let batches = try makeBatches(a, b, count: 9, size: 10)
            let planned = plannedSegments(batches, segmentBytesMax: smallSegments)
            try #require(planned.count >= 4)
            // Cover every batch up to the first one that makes segment 3.
            var covered = 0
            var coveredBatches = 0
            while plannedSegments(Array(batches[0..<coveredBatches]), segmentBytesMax: smallSegments).count < 3 {
                covered += batches[coveredBatches].count
                coveredBatches += 1
            }
            let fixture = try CheckpointedLog(
                temp.sub("log"), batches: batches, coveredBatches: coveredBatches, segmentBytesMax: smallSegments)
            #expect(fixture.covered == covered)
            let log = try fixture.open()
            #expect(log.recovery.segments == planned.count)
            #expect(log.recovery.checkpointEntries == covered)
            #expect(log.recovery.entriesScanned == 90 - covered)
            #expect(log.checkpoint?.state == checkpointState)
            #expect(log.segmentPaths == (1...planned.count).map { segmentFile(fixture.directory, $0) })
            #expect(try replayAll(log) == fixture.entries)
            #expect(try log.entries(origin: a, after: 2, limit: 40) == makeEntries(a, 3...42))
            #expect(try log.recent(limit: 50) == Array(fixture.entries[40...]))
            // Appending goes on; the next open still uses the checkpoint.
            let more = try makeEntries(b, 46...60)
            try log.append(more)
            log.close()
            let again = try fixture.open()
            defer { again.close() }
            #expect(again.recovery.checkpointEntries == covered)
            #expect(again.recovery.entriesScanned == 105 - covered)
            #expect(try replayAll(again) == fixture.entries + more)
        }
    }

    @Test("Log: checkpoint while the last segment holds no record (torn batch cut): loaded on the next open")
    func checkpointWithEmptyLastSegment() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let directory = temp.sub("log")
            let batches = [try makeEntries(a, 1...20), try makeEntries(a, 21...40)]
            let log = try SegmentedLog(directory, batches: batches)
            try #require(log.segments == batches)
            // The batch in segment 2 was torn by a crash: the next open cuts it away.
            try truncateFile(log.path(2), to: headerBytes + 9)
            let cut = try openLog(directory, segmentBytesMax: smallSegments)
            #expect(cut.entryCount == 20)
            #expect(cut.recovery.segments == 2)
            try cut.checkpointImage().write(state: checkpointState)
            cut.close()

            let reopened = try openLog(directory, segmentBytesMax: smallSegments)
            defer { reopened.close() }
            #expect(reopened.recovery.checkpointProblem == nil)
            #expect(reopened.recovery.checkpointEntries == 20)
            #expect(reopened.checkpoint?.state == checkpointState)
            #expect(reopened.recovery.entriesScanned == 0)
            #expect(try replayAll(reopened) == makeEntries(a, 1...20))
        }
    }
}
