import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// The bytes on disk, checked against the format comment at the top of `LogFormat.swift`
/// with encoders written here, not with the log's own.
@Suite struct FileLogFormatTests {
    @Test("Test support: SHA-256 of the FIPS 180-2 example messages: known digests")
    func sha256KnownVectors() {
        func hex(_ bytes: [UInt8]) -> String {
            bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        #expect(hex(TestSHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            hex(TestSHA256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            hex(TestSHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("Log: on-disk bytes: segment header and record match the documented layout")
    func onDiskLayout() throws {
        try withTempDirectory { temp in
            let entry = try makeEntry(try node(0xA1), 1)
            let log = try FileLog.open(directory: temp.path)
            try log.append([entry])
            let instanceID = log.instanceID
            log.close()
            #expect(try directoryNames(temp.path) == ["segment-00000001.log"])
            let bytes = try readBytes(temp.sub("segment-00000001.log"))
            let payload = entry.encoded()
            #expect(bytes.count == 40 + 40 + payload.count)
            // Header: magic, version 3, reserved 0, instance ID, segment 1, first record 0, CRC.
            #expect(Array(bytes[0..<8]) == [0x54, 0x53, 0x4C, 0x4F, 0x47, 0x00, 0x00, 0x01])
            #expect(Array(bytes[8..<10]) == [0, 3])
            #expect(Array(bytes[10..<12]) == [0, 0])
            #expect(instanceID != 0)
            #expect(readU64(bytes, at: 12) == instanceID)
            #expect(readU64(bytes, at: 20) == 1)
            #expect(readU64(bytes, at: 28) == 0)
            #expect(readU32(bytes, at: 36) == CRC32C.checksum(bytes[0..<36]))
            // Record: length, CRC of everything but itself, SHA-256 of the payload, payload.
            #expect(readU32(bytes, at: 40) == UInt32(payload.count))
            #expect(readU32(bytes, at: 44) == CRC32C.checksum(Array(bytes[40..<44]) + Array(bytes[48...])))
            #expect(Array(bytes[48..<80]) == TestSHA256.hash(payload))
            #expect(Array(bytes[48..<80]) == entry.hash)
            #expect(Array(bytes[80...]) == payload)
            // The same bytes as this file's independent encoders make.
            #expect(bytes == encodeHeader(instanceID: instanceID, number: 1, firstRecord: 0) + encodeRecord(entry))
            let reopened = try FileLog.open(directory: temp.path)
            defer { reopened.close() }
            #expect(reopened.lastHash == entry.hash)
        }
    }

    @Test("Log: a log written by the test's own encoders: opens, replays, takes appends")
    func handWrittenLog() throws {
        try withTempDirectory { temp in
            let (a, b) = (try node(0x0A), try node(0x0B))
            let entries = try makeEntries(a, 1...3) + makeEntries(b, 1...2)
            let instanceID: UInt64 = 0x0123_4567_89AB_CDEF
            try writeBytes(
                encodeHeader(instanceID: instanceID, number: 1, firstRecord: 0) + entries.flatMap(encodeRecord),
                to: logFile(temp.path))
            let log = try FileLog.open(directory: temp.path)
            #expect(log.instanceID == instanceID)
            #expect(log.entryCount == 5)
            #expect(log.vector == VersionVector([a: 3, b: 2]))
            #expect(log.lastHash == TestSHA256.hash(entries[4].encoded()))
            #expect(try replayAll(log) == entries)
            let more = try makeEntry(b, 3)
            try log.append([more])
            log.close()
            #expect(
                try readBytes(logFile(temp.path))
                    == encodeHeader(instanceID: instanceID, number: 1, firstRecord: 0)
                    + (entries + [more]).flatMap(encodeRecord))
        }
    }

    @Test("Log: record whose CRC is good but whose stored hash is not the payload's: not valid")
    func hashMismatchRecord() throws {
        try withTempDirectory { temp in
            let entries = try makeEntries(try node(0x0A), 1...3)
            var middle = encodeRecord(entries[1])
            middle[50] ^= 0x01
            // Recompute the CRC over the damaged hash, so only the hash check can catch it.
            middle.replaceSubrange(
                4..<8, with: bigEndianBytes(CRC32C.checksum(Array(middle[0..<4]) + Array(middle[8...]))))
            let header = encodeHeader(instanceID: 7, number: 1, firstRecord: 0)
            try writeBytes(
                header + encodeRecord(entries[0]) + middle + encodeRecord(entries[2]), to: logFile(temp.path))
            let error = expectLogError { _ = try FileLog.open(directory: temp.path) }
            expectCorrupt(error, file: logFile(temp.path), offset: recordOffsets(entries)[1])

            // As the last record it is a torn tail: cut and saved.
            let tail = temp.sub("tail")
            try FileManager.default.createDirectory(atPath: tail, withIntermediateDirectories: true)
            try writeBytes(header + encodeRecord(entries[0]) + middle, to: logFile(tail))
            let log = try FileLog.open(directory: tail)
            defer { log.close() }
            #expect(log.entryCount == 1)
            #expect(log.recovery.truncatedAtOffset == recordOffsets(entries)[1])
            #expect(log.recovery.truncatedTailBytes == middle.count)
        }
    }

    @Test("Log: record length 0 or over 16384 in the middle: corrupt at that record")
    func lengthOutOfRange() throws {
        try withTempDirectory { temp in
            let entries = try makeEntries(try node(0x0A), 1...3)
            for (name, length) in [("zero", UInt32(0)), ("too long", UInt32(16_385))] {
                var middle = encodeRecord(entries[1])
                middle.replaceSubrange(0..<4, with: bigEndianBytes(length))
                middle.replaceSubrange(
                    4..<8, with: bigEndianBytes(CRC32C.checksum(Array(middle[0..<4]) + Array(middle[8...]))))
                let directory = temp.sub(name)
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let bytes =
                    encodeHeader(instanceID: 7, number: 1, firstRecord: 0) + encodeRecord(entries[0]) + middle
                    + encodeRecord(entries[2])
                try writeBytes(bytes, to: logFile(directory))
                let error = expectLogError { _ = try FileLog.open(directory: directory) }
                expectCorrupt(error, file: logFile(directory), offset: recordOffsets(entries)[1], name)
                #expect(try readBytes(logFile(directory)) == bytes, "\(name): file modified")
            }
        }
    }

    @Test("Log: unrelated files in the directory (not segment names): left alone, not read")
    func unrelatedFiles() throws {
        try withTempDirectory { temp in
            let a = try node(0x0A)
            let log = try FileLog.open(directory: temp.path)
            try log.append(try makeEntries(a, 1...2))
            log.close()
            let strays = ["segment-1.log", "segment-000000002.log", "segment-00000002.log.torn-40", "notes.txt"]
            for name in strays { try writeBytes([9, 9, 9], to: temp.sub(name)) }
            let reopened = try FileLog.open(directory: temp.path)
            defer { reopened.close() }
            #expect(reopened.recovery.segments == 1)
            #expect(try replayAll(reopened) == makeEntries(a, 1...2))
            #expect(try directoryNames(temp.path) == ([segmentName(1)] + strays).sorted())
        }
    }
}
