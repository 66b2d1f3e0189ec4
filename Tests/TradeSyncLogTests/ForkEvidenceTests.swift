import Testing
import TradeSyncClock
import TradeSyncModel

@testable import TradeSyncLog

/// Evidence of a fork of `origin` at `seq`: two puts whose values differ by their salt.
private func evidence(_ origin: NodeID, _ seq: UInt64) throws -> ForkEvidence {
    try #require(ForkEvidence(held: try makeEntry(origin, seq), received: try makeEntry(origin, seq, salt: 1)))
}

@Suite struct ForkEvidenceTests {
    @Test("Fork evidence: bytes round trip, and the layout is magic | version | reserved | dot | held | received | CRC")
    func roundTrip() throws {
        let origin = try node(0xA7)
        let fork = try evidence(origin, 42)
        let bytes = fork.encoded()
        #expect(try ForkEvidence.decode(bytes) == fork)
        let held = fork.held.encoded()
        let received = fork.received.encoded()
        #expect(bytes.count == 8 + 2 + 2 + 32 + 8 + 4 + held.count + 4 + received.count + 4)
        #expect(Array(bytes[0..<8]) == Array("TSFORK".utf8) + [0, 1])
        #expect(Array(bytes[8..<12]) == [0, 1, 0, 0])
        #expect(Array(bytes[12..<44]) == origin.bytes)
        #expect(readU64(bytes, at: 44) == 42)
        #expect(Int(readU32(bytes, at: 52)) == held.count)
        #expect(Array(bytes[56..<(56 + held.count)]) == held)
        #expect(Int(readU32(bytes, at: 56 + held.count)) == received.count)
        #expect(readU32(bytes, at: bytes.count - 4) == CRC32C.checksum(Array(bytes.dropLast(4))))
    }

    @Test("Fork evidence: every flipped byte and every truncation is refused, never trapping")
    func damageRefused() throws {
        let bytes = try evidence(try node(0x11), 3).encoded()
        for offset in bytes.indices {
            var damaged = bytes
            damaged[offset] ^= 0x20
            #expect(throws: DecodeError.self, "byte \(offset)") { try ForkEvidence.decode(damaged) }
        }
        for length in 0..<bytes.count {
            let truncated = Array(bytes.prefix(length))
            #expect(throws: DecodeError.self, "length \(length)") { try ForkEvidence.decode(truncated) }
        }
    }

    @Test("Fork evidence: a file whose entries are equal, or carry another dot, is not evidence")
    func notAFork() throws {
        let origin = try node(0x22)
        let entry = try makeEntry(origin, 5)
        #expect(ForkEvidence(held: entry, received: entry) == nil)
        #expect(ForkEvidence(held: entry, received: try makeEntry(origin, 6)) == nil)
        // Hand-made: equal entries with a valid CRC.
        var writer = ByteWriter()
        writer.writeBytes(ForkEvidence.magic)
        writer.writeU16(1)
        writer.writeU16(0)
        origin.encode(into: &writer)
        writer.writeU64(5)
        for _ in 0..<2 {
            writer.writeU32(UInt32(entry.encoded().count))
            writer.writeBytes(entry.encoded())
        }
        writer.writeU32(CRC32C.checksum(writer.bytes))
        #expect(throws: DecodeError.self) { try ForkEvidence.decode(writer.bytes) }
    }

    @Test("Fork evidence store: writes DIR/forks/fork-<origin hex>-<seq>.bin, loads it, ignores a second copy of the dot")
    func storeAndLoad() throws {
        try withTempDirectory { directory in
            let store = ForkEvidenceStore(dataDirectory: directory.path)
            #expect(try store.loadAll().isEmpty)  // no forks/ yet
            let origin = try node(0x3C)
            let first = try evidence(origin, 7)
            let path = directory.sub("forks/fork-\(origin.hex)-7.bin")
            #expect(store.path(for: first.dot) == path)
            #expect(try store.store(first))
            #expect(try readBytes(path) == first.encoded())
            let second = try #require(ForkEvidence(held: first.held, received: try makeEntry(origin, 7, salt: 9)))
            #expect(try !store.store(second))
            #expect(try readBytes(path) == first.encoded())
            let other = try evidence(try node(0x01), 2)
            #expect(try store.store(other))
            try writeBytes([1, 2, 3], to: directory.sub("forks/fork-\(origin.hex)-9.bin.tmp"))  // a crash's leftover
            #expect(try store.loadAll() == [other, first])
            #expect(try directoryNames(directory.sub("forks")).filter { !$0.hasSuffix(".tmp") }.count == 2)
        }
    }

    @Test("Fork evidence store: a corrupt, misnamed or misplaced file is an error naming the file")
    func corruptFileNamed() throws {
        try withTempDirectory { directory in
            let store = ForkEvidenceStore(dataDirectory: directory.path)
            let origin = try node(0x5D)
            let fork = try evidence(origin, 4)
            try store.store(fork)
            let path = store.path(for: fork.dot)
            try flipByte(path, at: 70)
            let error = expectLogError { _ = try store.loadAll() }
            guard case .corrupt(let file, _, let reason)? = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(file == path)
            #expect(reason.contains("fork evidence does not decode"))
            #expect(error?.description.contains(path) == true)

            try writeBytes(fork.encoded(), to: path)
            let moved = directory.sub("forks/fork-\(origin.hex)-5.bin")
            try writeBytes(fork.encoded(), to: moved)
            guard case .corrupt(let movedFile, _, _)? = expectLogError({ _ = try store.loadAll() }) else {
                Issue.record("a file named for another dot was accepted")
                return
            }
            #expect(movedFile == moved)
        }
        try withTempDirectory { directory in
            let store = ForkEvidenceStore(dataDirectory: directory.path)
            try store.store(try evidence(try node(0x5E), 1))
            let bad = directory.sub("forks/fork-nothex-1.bin")
            try writeBytes([0], to: bad)
            guard case .corrupt(let file, _, _)? = expectLogError({ _ = try store.loadAll() }) else {
                Issue.record("a misnamed file was accepted")
                return
            }
            #expect(file == bad)
        }
    }

    @Test("Fork evidence store: file names parse back to their dot, and only the canonical form")
    func names() throws {
        let origin = try node(0xE4)
        let dot = Dot(origin: origin, seq: 123)
        #expect(ForkEvidenceStore.dot(fromName: ForkEvidenceStore.fileName(for: dot)) == dot)
        #expect(ForkEvidenceStore.dot(fromName: "fork-\(origin.hex)-0123.bin") == nil)
        #expect(ForkEvidenceStore.dot(fromName: "fork-\(origin.hex)-0.bin") == nil)
        #expect(ForkEvidenceStore.dot(fromName: "fork-\(origin.hex.uppercased())-123.bin") == nil)
        #expect(ForkEvidenceStore.dot(fromName: "fork-\(origin.hex)123.bin") == nil)
    }
}
