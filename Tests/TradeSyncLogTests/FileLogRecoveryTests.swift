import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

@Suite struct FileLogRecoveryTests {
    /// A log of three entries of one origin, as file bytes, and the entries.
    func threeEntryLog(_ temp: TempDirectory) throws -> (bytes: [UInt8], entries: [Entry]) {
        let entries = try makeEntries(try node(0x0A), 1...3)
        let directory = temp.sub("source")
        let log = try FileLog.open(directory: directory)
        try log.append(Array(entries[0..<2]))
        try log.append([entries[2]])
        log.close()
        let bytes = try readBytes(logFile(directory))
        #expect(bytes.count == headerBytes + entries.map(recordBytes).reduce(0, +))
        return (bytes, entries)
    }

    /// Writes `bytes` as the log file of a new directory and returns the directory.
    func plant(_ bytes: [UInt8], in temp: TempDirectory, name: String) throws -> String {
        let directory = temp.sub(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeBytes(bytes, to: logFile(directory))
        return directory
    }

    @Test("Log: torn tail at every byte inside the last record: cut, 2 entries, next append durable")
    func tornTailEveryByte() throws {
        try withTempDirectory { temp in
            let (bytes, entries) = try threeEntryLog(temp)
            let lastStart = recordOffsets(entries)[2]
            let replacement = try makeEntry(try node(0x0A), 3, salt: 42)
            for cut in (lastStart + 1)..<bytes.count {
                let directory = try plant(Array(bytes[0..<cut]), in: temp, name: "cut-\(cut)")
                let log = try FileLog.open(directory: directory)
                #expect(log.entryCount == 2, "cut \(cut)")
                #expect(
                    withoutCheckpointProblem(log.recovery)
                        == LogRecovery(
                            entriesRead: 2, truncatedTailBytes: cut - lastStart, truncatedAtOffset: lastStart,
                            file: logFile(directory), savedTail: logFile(directory) + ".torn-\(lastStart)",
                            segments: 1, checkpointEntries: nil, entriesScanned: 2),
                    "cut \(cut)")
                #expect(try readBytes(logFile(directory)).count == lastStart, "cut \(cut)")
                // The cut bytes were kept, byte for byte.
                #expect(try readBytes(logFile(directory) + ".torn-\(lastStart)") == Array(bytes[lastStart..<cut]))
                #expect(try replayAll(log) == Array(entries[0..<2]), "cut \(cut)")
                try log.append([replacement])
                log.close()

                let reopened = try FileLog.open(directory: directory)
                #expect(try replayAll(reopened) == Array(entries[0..<2]) + [replacement], "cut \(cut)")
                #expect(reopened.recovery.truncatedTailBytes == 0, "cut \(cut)")
                reopened.close()
                try FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    @Test("Log: cut exactly at a record boundary: nothing to repair")
    func cutAtBoundary() throws {
        try withTempDirectory { temp in
            let (bytes, entries) = try threeEntryLog(temp)
            let directory = try plant(Array(bytes[0..<recordOffsets(entries)[2]]), in: temp, name: "boundary")
            let log = try FileLog.open(directory: directory)
            defer { log.close() }
            #expect(log.recovery.truncatedTailBytes == 0)
            #expect(log.recovery.truncatedAtOffset == nil)
            #expect(try replayAll(log) == Array(entries[0..<2]))
        }
    }

    @Test("Log: flipped byte anywhere in the middle record: corrupt at its offset, file untouched")
    func flippedByteMiddleRecord() throws {
        try withTempDirectory { temp in
            let (bytes, entries) = try threeEntryLog(temp)
            let offsets = recordOffsets(entries)
            for position in offsets[1]..<offsets[2] {
                var damaged = bytes
                damaged[position] ^= 0x5A
                let directory = try plant(damaged, in: temp, name: "flip-\(position)")
                let error = expectLogError { _ = try FileLog.open(directory: directory) }
                guard case .corrupt(let file, let offset, _) = error else {
                    Issue.record("byte \(position): expected corrupt, got \(String(describing: error))")
                    continue
                }
                #expect(file == logFile(directory), "byte \(position)")
                #expect(offset == offsets[1], "byte \(position)")
                #expect(try readBytes(logFile(directory)) == damaged, "byte \(position): file modified")
                try FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    @Test("Log: flipped byte anywhere in the last record: treated as a torn tail")
    func flippedByteLastRecord() throws {
        try withTempDirectory { temp in
            let (bytes, entries) = try threeEntryLog(temp)
            let lastStart = recordOffsets(entries)[2]
            for position in lastStart..<bytes.count {
                var damaged = bytes
                damaged[position] ^= 0x01
                let directory = try plant(damaged, in: temp, name: "flip-\(position)")
                let log = try FileLog.open(directory: directory)
                #expect(log.entryCount == 2, "byte \(position)")
                #expect(log.recovery.truncatedAtOffset == lastStart, "byte \(position)")
                #expect(log.recovery.truncatedTailBytes == bytes.count - lastStart, "byte \(position)")
                #expect(try replayAll(log) == Array(entries[0..<2]), "byte \(position)")
                log.close()
                try FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    @Test("Log: zero-filled garbage after the last record: cut as a torn tail")
    func zeroTail() throws {
        try withTempDirectory { temp in
            let (bytes, entries) = try threeEntryLog(temp)
            let directory = try plant(bytes + [UInt8](repeating: 0, count: 4096), in: temp, name: "zeros")
            let log = try FileLog.open(directory: directory)
            defer { log.close() }
            #expect(
                withoutCheckpointProblem(log.recovery)
                    == LogRecovery(
                        entriesRead: 3, truncatedTailBytes: 4096, truncatedAtOffset: bytes.count,
                        file: logFile(directory), savedTail: logFile(directory) + ".torn-\(bytes.count)",
                        segments: 1, checkpointEntries: nil, entriesScanned: 3))
            #expect(try readBytes(logFile(directory)) == bytes)
            #expect(try readBytes(logFile(directory) + ".torn-\(bytes.count)") == [UInt8](repeating: 0, count: 4096))
            #expect(try replayAll(log) == entries)
        }
    }

    @Test("Log: valid record that skips a seq: corrupt even as the last record")
    func seqGapOnDisk() throws {
        try withTempDirectory { temp in
            let (bytes, entries) = try threeEntryLog(temp)
            let gap = try makeEntry(try node(0x0A), 5)
            let directory = try plant(bytes + encodeRecord(gap), in: temp, name: "gap")
            let error = expectLogError { _ = try FileLog.open(directory: directory) }
            guard case .corrupt(let file, let offset, _) = error else {
                Issue.record("expected corrupt, got \(String(describing: error))")
                return
            }
            #expect(file == logFile(directory))
            #expect(offset == bytes.count)
            #expect(entries.count == 3)
        }
    }

    @Test("Log: damaged header (magic, version, reserved, CRC, instance, number, first record): badHeader")
    func badHeaders() throws {
        try withTempDirectory { temp in
            let (bytes, _) = try threeEntryLog(temp)
            // (name, damage, recompute the header CRC so the field check itself is reached)
            let damages: [(String, (inout [UInt8]) -> Void, Bool)] = [
                ("magic", { $0[0] = 0x55 }, false),
                ("version 4", { $0[9] = 4 }, true),
                ("version 2 (before seals)", { $0[9] = 2 }, true),
                ("version 1", { $0[9] = 1 }, true),
                ("reserved", { $0[11] = 1 }, true),
                ("CRC", { $0[37] ^= 0xFF }, false),
                ("instance ID without CRC", { $0[15] ^= 0x77 }, false),
                ("instance ID zero", { $0.replaceSubrange(12..<20, with: [UInt8](repeating: 0, count: 8)) }, true),
                ("segment number 2 in segment 1", { $0.replaceSubrange(20..<28, with: bigEndianBytes64(2)) }, true),
                ("first record 1 in segment 1", { $0.replaceSubrange(28..<36, with: bigEndianBytes64(1)) }, true),
            ]
            for (name, damage, fixCRC) in damages {
                var damaged = bytes
                damage(&damaged)
                #expect(damaged != bytes, "\(name)")
                if fixCRC { damaged.replaceSubrange(36..<40, with: bigEndianBytes(CRC32C.checksum(damaged[0..<36]))) }
                let directory = try plant(damaged, in: temp, name: "header-\(name)")
                let error = expectLogError { _ = try FileLog.open(directory: directory) }
                expectBadHeader(error, file: logFile(directory), name)
                #expect(try readBytes(logFile(directory)) == damaged, "\(name): file modified")
                #expect(try directoryNames(directory) == [segmentName(1)], "\(name)")
            }
        }
    }

    @Test("Log: segment file shorter than the header (0, 10 or 39 bytes): badHeader, file untouched")
    func shortFiles() throws {
        try withTempDirectory { temp in
            let (bytes, _) = try threeEntryLog(temp)
            let contents: [(String, [UInt8])] = [
                ("empty", []), ("zeros", [UInt8](repeating: 0, count: 10)), ("prefix", Array(bytes[0..<39])),
            ]
            // Segments are created atomically (temp file, rename), so even an empty one
            // is damage, not a log that was being created.
            for (name, contents) in contents {
                let directory = try plant(contents, in: temp, name: name)
                let error = expectLogError { _ = try FileLog.open(directory: directory) }
                expectBadHeader(error, file: logFile(directory), name)
                #expect(try readBytes(logFile(directory)) == contents, "\(name)")
            }
        }
    }

    @Test("Log: read-only open: reads, refuses appends, leaves a torn tail in place")
    func readOnlyOpen() throws {
        try withTempDirectory { temp in
            let (bytes, entries) = try threeEntryLog(temp)
            let torn = Array(bytes[0..<(bytes.count - 3)])
            let directory = try plant(torn, in: temp, name: "torn")
            let log = try FileLog.open(directory: directory, readOnly: true)
            defer { log.close() }
            #expect(log.isReadOnly)
            #expect(try replayAll(log) == Array(entries[0..<2]))
            #expect(log.recovery.truncatedTailBytes == recordBytes(entries[2]) - 3)
            #expect(expectLogError { try log.append([entries[2]]) } == .readOnly(file: logFile(directory)))
            #expect(try readBytes(logFile(directory)) == torn)
            // A writer may open alongside a read-only reader (readers take no lock).
            let writer = try FileLog.open(directory: directory)
            writer.close()
        }
    }

    @Test("Log: read-only open of a directory without a log: io ENOENT naming segment 1, nothing created")
    func readOnlyWithoutLog() throws {
        try withTempDirectory { temp in
            let directory = temp.sub("empty")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let error = expectLogError { _ = try FileLog.open(directory: directory, readOnly: true) }
            #expect(error == .io(file: logFile(directory), operation: "open", errno: ENOENT))
            #expect(try directoryNames(directory).isEmpty)
        }
    }

    @Test("Log: directory the process may not write: LogError, not a crash")
    func readOnlyDirectory() throws {
        try withTempDirectory { temp in
            let parent = temp.sub("locked")
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: parent)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: parent) }
            do {
                let log = try FileLog.open(directory: parent + "/data")
                log.close()
                // Root ignores permissions, so only "no crash" can be checked then.
                #expect(runningAsRoot, "opened a log inside a read-only directory")
            } catch let error as LogError {
                guard case .io(let path, let operation, let errno) = error else {
                    Issue.record("expected io, got \(error)")
                    return
                }
                #expect(path == parent + "/data")
                #expect(operation == "mkdir")
                #expect(errno == EACCES)
            }
        }
    }

    @Test("Log: directory path through a regular file: io error naming the path")
    func directoryThroughFile() throws {
        try withTempDirectory { temp in
            let file = temp.sub("plain")
            try writeBytes([1, 2, 3], to: file)
            let error = expectLogError { _ = try FileLog.open(directory: file + "/data") }
            guard case .io(let path, let operation, let errno) = error else {
                Issue.record("expected io, got \(String(describing: error))")
                return
            }
            #expect(path == file + "/data")
            #expect(operation == "mkdir")
            #expect(errno == ENOTDIR)
            #expect(error?.description.contains(file) == true)
        }
    }
}

/// A batch is one write; a crash inside it must not leave a part of it behind.
@Suite struct FileLogBatchAtomicityTests {
    @Test("Log: a batch whose last record never reached the disk is cut whole, at every cut point")
    func incompleteBatchCutWhole() throws {
        let a = try node(0x0A)
        let first = try makeEntries(a, 1...2)
        let batch = try makeEntries(a, 3...6)
        let firstEnd = headerBytes + first.map(recordBytes).reduce(0, +)
        let fullEnd = firstEnd + batch.map(recordBytes).reduce(0, +)
        // Whole records of the batch, or a record cut short: every end short of the last byte.
        for end in stride(from: firstEnd + 1, to: fullEnd, by: 37) {
            try withTempDirectory { temp in
                let log = try FileLog.open(directory: temp.path)
                try log.append(first)
                try log.append(batch)
                log.close()
                try truncateFile(logFile(temp.path), to: end)
                let reopened = try FileLog.open(directory: temp.path)
                defer { reopened.close() }
                #expect(reopened.entryCount == 2, "cut at \(end)")
                #expect(reopened.recovery.truncatedAtOffset == firstEnd, "cut at \(end)")
                #expect(try replayAll(reopened) == first, "cut at \(end)")
                #expect(try readBytes(logFile(temp.path)).count == firstEnd)
            }
        }
    }

    @Test("Log: records carry the continues flag on all but the last of their batch")
    func continuesFlagOnDisk() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let batch = try makeEntries(a, 1...3)
            let log = try FileLog.open(directory: temp.path)
            try log.append(batch)
            log.close()
            #expect(try readBytes(logFile(temp.path)) == encodeHeader(instanceID: log.instanceID, number: 1, firstRecord: 0) + encodeBatch(batch))
            let bytes = try readBytes(logFile(temp.path))
            #expect(bytes[headerBytes] & 0x80 == 0x80)
            #expect(bytes[headerBytes + recordBytes(batch[0]) + recordBytes(batch[1])] & 0x80 == 0)
        }
    }
}
