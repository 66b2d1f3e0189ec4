import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// The smallest segment size limit: a few batches of the test entries per segment.
let smallSegments = 4096

/// A log written with `smallSegments` by one append per batch, and what the format
/// says its segments hold.
struct SegmentedLog {
    let directory: String
    let batches: [[Entry]]
    let instanceID: UInt64
    /// The entries of each segment, as ``plannedSegments(_:segmentBytesMax:)`` lays them out.
    let segments: [[Entry]]

    var entries: [Entry] { batches.flatMap { $0 } }

    /// Segment `number` (1-based).
    func path(_ number: Int) -> String { segmentFile(directory, number) }

    /// The offset of each record of segment `number` inside that segment.
    func offsets(_ number: Int) -> [Int] { recordOffsets(segments[number - 1]) }

    /// Writes the log (7 batches of 10 entries of two origins unless told otherwise).
    init(_ directory: String, batches: [[Entry]]? = nil) throws {
        let batches = try batches ?? makeBatches(try node(0x0A), try node(0x0B), count: 7, size: 10)
        self.directory = directory
        self.batches = batches
        segments = plannedSegments(batches, segmentBytesMax: smallSegments)
        let log = try openLog(directory, segmentBytesMax: smallSegments)
        for batch in batches { try log.append(batch) }
        instanceID = log.instanceID
        #expect(log.segmentPaths == (1...segments.count).map { segmentFile(directory, $0) })
        log.close()
    }
}

@Suite struct FileLogSegmentTests {
    @Test("Log: segments: names, headers, sizes and bytes as the format lays them out")
    func segmentLayout() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            try #require(log.segments.count >= 3, "the test batches should fill at least 3 segments")
            #expect(try directoryNames(log.directory) == (1...log.segments.count).map(segmentName))
            var firstRecord = 0
            for (position, entries) in log.segments.enumerated() {
                let number = position + 1
                let bytes = try readBytes(log.path(number))
                #expect(readU64(bytes, at: 12) == log.instanceID, "segment \(number)")
                #expect(readU64(bytes, at: 20) == UInt64(number), "segment \(number)")
                #expect(readU64(bytes, at: 28) == UInt64(firstRecord), "segment \(number)")
                let expected =
                    encodeHeader(instanceID: log.instanceID, number: UInt64(number), firstRecord: UInt64(firstRecord))
                    + encodeRecords(entries, batches: log.batches)
                #expect(bytes == expected, "segment \(number)")
                // Only a single batch may take a segment past the limit.
                if position < log.segments.count - 1 { #expect(bytes.count <= smallSegments, "segment \(number)") }
                firstRecord += entries.count
            }
            #expect(firstRecord == 70)
        }
    }

    @Test("Log: segments: reopen replays every entry; vector, ranges and recent() cross segment boundaries")
    func segmentReads() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let log = try SegmentedLog(temp.sub("log"))
            let reopened = try openLog(log.directory, segmentBytesMax: smallSegments)
            defer { reopened.close() }
            #expect(reopened.instanceID == log.instanceID)
            #expect(reopened.recovery.segments == log.segments.count)
            #expect(reopened.recovery.entriesRead == 70)
            #expect(reopened.recovery.truncatedTailBytes == 0)
            #expect(reopened.entryCount == 70)
            #expect(reopened.vector == VersionVector([a: 35, b: 35]))
            #expect(try replayAll(reopened) == log.entries)
            #expect(try replayAll(reopened, from: 15) == Array(log.entries[15...]))
            // Each origin's 35 entries spread over every segment.
            #expect(try reopened.entries(origin: a, after: 0, limit: 100) == makeEntries(a, 1...35))
            #expect(try reopened.entries(origin: b, after: 3, limit: 25) == makeEntries(b, 4...28))
            let firstOfSecond = log.segments[0].count
            #expect(try reopened.recent(limit: 70 - firstOfSecond + 3) == Array(log.entries[(firstOfSecond - 3)...]))
            #expect(try reopened.recent(limit: 100) == log.entries)
            // Appends go on into the last segment or a new one, and read back.
            let more = try makeEntries(a, 36...45)
            try reopened.append(more)
            #expect(try reopened.entries(origin: a, after: 30, limit: 15) == makeEntries(a, 31...45))
            let planned = plannedSegments(log.batches + [more], segmentBytesMax: smallSegments)
            #expect(reopened.segmentPaths.count == planned.count)
        }
    }

    @Test("Log: a batch larger than the segment limit: goes whole into one segment")
    func oversizedBatch() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let batches = [try makeEntries(a, 1...40), try makeEntries(a, 41...42), try makeEntries(a, 43...82)]
            try #require(batches[0].map(recordBytes).reduce(0, +) > smallSegments)
            let log = try SegmentedLog(temp.sub("log"), batches: batches)
            #expect(log.segments == batches)
            for (position, batch) in batches.enumerated() {
                #expect(try readBytes(log.path(position + 1)).count == segmentSize(batch), "segment \(position + 1)")
            }
            #expect(try readBytes(log.path(1)).count > smallSegments)
            let reopened = try openLog(log.directory, segmentBytesMax: smallSegments)
            defer { reopened.close() }
            #expect(try replayAll(reopened) == log.entries)
            #expect(try reopened.entries(origin: a, after: 39, limit: 4) == makeEntries(a, 40...43))
        }
    }

    @Test("Log: missing middle segment: badHeader naming the missing file, nothing modified")
    func missingMiddleSegment() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            try FileManager.default.removeItem(atPath: log.path(2))
            let names = try directoryNames(log.directory)
            let error = expectLogError { _ = try openLog(log.directory, segmentBytesMax: smallSegments) }
            expectBadHeader(error, file: log.path(2))
            #expect(try directoryNames(log.directory) == names)
            expectBadHeader(
                expectLogError { _ = try openLog(log.directory, readOnly: true) }, file: log.path(2), "read-only")
        }
    }

    @Test("Log: missing first segment: badHeader, nothing modified")
    func missingFirstSegment() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            try FileManager.default.removeItem(atPath: log.path(1))
            let names = try directoryNames(log.directory)
            let error = expectLogError { _ = try openLog(log.directory, segmentBytesMax: smallSegments) }
            guard case .badHeader = error else {
                Issue.record("expected badHeader, got \(String(describing: error))")
                return
            }
            #expect(try directoryNames(log.directory) == names)
        }
    }

    @Test("Log: segment of another log instance copied in: badHeader naming it")
    func foreignSegment() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            let other = try SegmentedLog(temp.sub("other"), batches: log.batches)
            #expect(other.instanceID != log.instanceID)
            // Same entries, same layout: only the instance ID differs.
            try FileManager.default.removeItem(atPath: log.path(2))
            try FileManager.default.copyItem(atPath: other.path(2), toPath: log.path(2))
            let before = try readBytes(log.path(2))
            let error = expectLogError { _ = try openLog(log.directory, segmentBytesMax: smallSegments) }
            expectBadHeader(error, file: log.path(2))
            #expect(try readBytes(log.path(2)) == before)
        }
    }

    @Test("Log: sealed segment cut inside its last record: corrupt naming it and the offset, not a torn tail")
    func sealedSegmentCutMidRecord() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            let size = segmentSize(log.segments[1])
            for cut in [size - 1, size - 10, log.offsets(2).last! + 1] {
                try truncateFile(log.path(2), to: cut)
                let names = try directoryNames(log.directory)
                let error = expectLogError { _ = try openLog(log.directory, segmentBytesMax: smallSegments) }
                expectCorrupt(error, file: log.path(2), offset: log.offsets(2).last!, "cut \(cut)")
                #expect(try readBytes(log.path(2)).count == cut, "cut \(cut): file modified")
                #expect(try directoryNames(log.directory) == names, "cut \(cut)")
            }
        }
    }

    @Test("Log: sealed segment cut at a record boundary: the next header's first record no longer fits: badHeader")
    func sealedSegmentCutAtBoundary() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            // Cut at the start of its last batch (batches hold 10 records).
            try truncateFile(log.path(2), to: log.offsets(2)[log.segments[1].count - 10])
            let error = expectLogError { _ = try openLog(log.directory, segmentBytesMax: smallSegments) }
            expectBadHeader(error, file: log.path(3))
        }
    }

    @Test("Log: torn tail in the last segment: cut and saved; earlier segments untouched")
    func tornTailLastSegment() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let log = try SegmentedLog(temp.sub("log"))
            let last = log.segments.count
            // Tearing the last record tears its batch (the last 10 records): cut whole.
            let lastStart = log.offsets(last)[log.segments[last - 1].count - 10]
            let size = segmentSize(log.segments[last - 1])
            let sealed = try (1..<last).map { try readBytes(log.path($0)) }
            try truncateFile(log.path(last), to: size - 10)
            let reopened = try openLog(log.directory, segmentBytesMax: smallSegments)
            #expect(
                withoutCheckpointProblem(reopened.recovery)
                    == LogRecovery(
                        entriesRead: 60, truncatedTailBytes: size - 10 - lastStart, truncatedAtOffset: lastStart,
                        file: log.path(last), savedTail: log.path(last) + ".torn-\(lastStart)", segments: last,
                        checkpointEntries: nil, entriesScanned: 60))
            #expect(try readBytes(log.path(last)).count == lastStart)
            #expect(try (1..<last).map { try readBytes(log.path($0)) } == sealed)
            #expect(try replayAll(reopened) == Array(log.entries.dropLast(10)))
            // The lost batch held a's and b's seqs 31…35; a's next append lands in the last segment.
            try reopened.append([try makeEntry(a, 31)])
            #expect(reopened.segmentPaths.count == last)
            reopened.close()
            let again = try openLog(log.directory, segmentBytesMax: smallSegments)
            defer { again.close() }
            #expect(try replayAll(again) == Array(log.entries.dropLast(10)) + [try makeEntry(a, 31)])
        }
    }

    @Test("Log: torn tail that empties the last segment: header kept, appends go into it")
    func tornTailEmptiesLastSegment() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let batches = [try makeEntries(a, 1...20), try makeEntries(a, 21...40)]
            let log = try SegmentedLog(temp.sub("log"), batches: batches)
            try #require(log.segments == batches)
            try truncateFile(log.path(2), to: headerBytes + 7)
            let reopened = try openLog(log.directory, segmentBytesMax: smallSegments)
            #expect(reopened.entryCount == 20)
            #expect(reopened.recovery.segments == 2)
            #expect(reopened.recovery.truncatedAtOffset == headerBytes)
            #expect(try readBytes(log.path(2)) == encodeHeader(instanceID: log.instanceID, number: 2, firstRecord: 20))
            try reopened.append(try makeEntries(a, 21...22))
            #expect(reopened.segmentPaths.count == 2)
            reopened.close()
            let again = try openLog(log.directory, segmentBytesMax: smallSegments)
            defer { again.close() }
            #expect(try replayAll(again) == makeEntries(a, 1...22))
        }
    }

    @Test("Log: flipped byte in a sealed segment (middle or last record): corrupt naming it and the offset")
    func flippedByteSealedSegment() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            let offsets = log.offsets(2)
            let original = try readBytes(log.path(2))
            // A byte of the length, the CRC, the hash and the payload of two records.
            for record in [offsets.count / 2, offsets.count - 1] {
                for delta in [1, 5, 20, 60] {
                    let position = offsets[record] + delta
                    try flipByte(log.path(2), at: position)
                    let damaged = try readBytes(log.path(2))
                    let error = expectLogError { _ = try openLog(log.directory, segmentBytesMax: smallSegments) }
                    expectCorrupt(error, file: log.path(2), offset: offsets[record], "record \(record) +\(delta)")
                    #expect(try readBytes(log.path(2)) == damaged, "record \(record) +\(delta): file modified")
                    try writeBytes(original, to: log.path(2))
                }
            }
            #expect(try directoryNames(log.directory) == (1...log.segments.count).map(segmentName))
        }
    }

    @Test("Log: format-1 entries.log in the directory: badHeader naming it, nothing created")
    func formatOneLog() throws {
        try withTempDirectory { temp in
            // A format-1 header: magic, version 1, then instance ID and CRC.
            let legacy: [UInt8] =
                [0x54, 0x53, 0x4C, 0x4F, 0x47, 0x00, 0x00, 0x01, 0, 1, 0, 0] + [UInt8](repeating: 7, count: 12)
            let directory = temp.sub("v1")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try writeBytes(legacy, to: directory + "/entries.log")
            for readOnly in [false, true] {
                let error = expectLogError { _ = try openLog(directory, readOnly: readOnly) }
                expectBadHeader(error, file: directory + "/entries.log", "read-only \(readOnly)")
                #expect(try directoryNames(directory) == ["entries.log"], "read-only \(readOnly)")
                #expect(try readBytes(directory + "/entries.log") == legacy)
            }
            // Beside format-2 segments too.
            let log = try SegmentedLog(temp.sub("log"))
            try writeBytes(legacy, to: log.directory + "/entries.log")
            expectBadHeader(
                expectLogError { _ = try openLog(log.directory) }, file: log.directory + "/entries.log", "mixed")
        }
    }

    @Test("Log: leftover .tmp files of the log: removed by a writable open, kept by a read-only one; others kept")
    func leftoverTemporaryFiles() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            let last = log.segments.count
            let leftovers = [segmentName(last + 1) + ".tmp", "checkpoint.tmp", segmentName(last) + ".torn.tmp"]
            for name in leftovers { try writeBytes([1, 2, 3], to: log.directory + "/" + name) }
            try writeBytes([4, 5], to: log.directory + "/keep.torn-40")
            // Not the log's: the data directory also holds the node key and more.
            try writeBytes([6], to: log.directory + "/node.key.tmp")
            let segments = (1...last).map(segmentName) + ["node.key.tmp"]

            let reader = try openLog(log.directory, readOnly: true)
            #expect(try replayAll(reader) == log.entries)
            reader.close()
            #expect(try directoryNames(log.directory) == (segments + leftovers + ["keep.torn-40"]).sorted())

            let writer = try openLog(log.directory, segmentBytesMax: smallSegments)
            defer { writer.close() }
            #expect(try directoryNames(log.directory) == (segments + ["keep.torn-40"]).sorted())
            #expect(try replayAll(writer) == log.entries)
            #expect(writer.recovery.segments == last)
        }
    }

    @Test("Log: read-only open of a segmented log with a torn tail: reported, not cut, appends refused")
    func readOnlyTornTail() throws {
        try withTempDirectory { temp in
            let log = try SegmentedLog(temp.sub("log"))
            let last = log.segments.count
            let size = segmentSize(log.segments[last - 1])
            try truncateFile(log.path(last), to: size - 3)
            let reader = try openLog(log.directory, readOnly: true)
            defer { reader.close() }
            #expect(reader.isReadOnly)
            let batchStart = log.offsets(last)[log.segments[last - 1].count - 10]
            #expect(reader.recovery.truncatedAtOffset == batchStart)
            #expect(reader.recovery.truncatedTailBytes == size - 3 - batchStart)
            #expect(reader.recovery.savedTail == nil)
            #expect(try replayAll(reader) == Array(log.entries.dropLast(10)))
            let next = try makeEntry(try node(0x0A), 36)
            #expect(expectLogError { try reader.append([next]) } == .readOnly(file: log.path(last)))
            #expect(try readBytes(log.path(last)).count == size - 3)
            #expect(try directoryNames(log.directory) == (1...last).map(segmentName))
        }
    }
}
