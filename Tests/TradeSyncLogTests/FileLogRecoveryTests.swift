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
                    log.recovery
                        == LogRecovery(
                            entriesRead: 2, truncatedTailBytes: cut - lastStart, truncatedAtOffset: lastStart,
                            file: logFile(directory), savedTail: logFile(directory) + ".torn-\(lastStart)"),
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
                log.recovery
                    == LogRecovery(
                        entriesRead: 3, truncatedTailBytes: 4096, truncatedAtOffset: bytes.count,
                        file: logFile(directory), savedTail: logFile(directory) + ".torn-\(bytes.count)"))
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

    @Test("Log: damaged header (magic, version, reserved, CRC): badHeader, file untouched")
    func badHeaders() throws {
        try withTempDirectory { temp in
            let (bytes, _) = try threeEntryLog(temp)
            // (byte, new value, recompute the header CRC so the field check itself is reached)
            let damages: [(Int, UInt8, Bool)] = [
                (0, 0x55, false), (9, 2, true), (11, 1, true), (21, 0, false), (15, 0x77, false),
            ]
            for (position, value, fixCRC) in damages {
                var damaged = bytes
                damaged[position] = value == damaged[position] ? value &+ 1 : value
                if fixCRC { damaged.replaceSubrange(20..<24, with: bigEndianBytes(CRC32C.checksum(damaged[0..<20]))) }
                let directory = try plant(damaged, in: temp, name: "header-\(position)")
                let error = expectLogError { _ = try FileLog.open(directory: directory) }
                guard case .badHeader(let file, _) = error else {
                    Issue.record("byte \(position): expected badHeader, got \(String(describing: error))")
                    continue
                }
                #expect(file == logFile(directory))
                #expect(try readBytes(logFile(directory)) == damaged)
            }
        }
    }

    @Test("Log: file shorter than the header: 0 bytes is a fresh log, anything else badHeader")
    func shortFiles() throws {
        try withTempDirectory { temp in
            let (bytes, _) = try threeEntryLog(temp)
            for (name, contents) in [("zeros", [UInt8](repeating: 0, count: 10)), ("prefix", Array(bytes[0..<23]))] {
                let directory = try plant(contents, in: temp, name: name)
                guard case .badHeader = expectLogError({ _ = try FileLog.open(directory: directory) }) else {
                    Issue.record("\(name): expected badHeader")
                    continue
                }
                #expect(try readBytes(logFile(directory)) == contents)
            }
            let directory = try plant([], in: temp, name: "empty")
            let log = try FileLog.open(directory: directory)
            defer { log.close() }
            #expect(log.entryCount == 0)
            #expect(log.instanceID != 0)
            #expect(try readBytes(logFile(directory)).count == headerBytes)
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
