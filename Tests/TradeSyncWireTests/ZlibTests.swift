import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

@Suite struct ZlibTests {
    /// Compressible but not trivial bytes.
    func sampleBytes(_ count: Int) -> [UInt8] {
        var state: UInt32 = 12345
        return (0..<count).map { index in
            state = state &* 1_103_515_245 &+ 12345
            return index % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 16) : UInt8(index % 17)
        }
    }

    @Test(
        "Wire: zlib: deflate then inflate with the exact length round-trips",
        arguments: [0, 1, 255, 4096, 65_535, 65_536, 65_537, 200_000])
    func roundTrip(count: Int) throws {
        let input = sampleBytes(count)
        let packed = try Zlib.deflate(input)
        #expect(packed.first == 0x78)  // RFC 1950 header: deflate, 32 KiB window
        #expect(try Zlib.inflate(packed, declaredBytes: count) == input)
    }

    @Test("Wire: zlib bomb: 10 MB of zeros declared as 10 MB is refused before inflating")
    func bombDeclaredHonestly() throws {
        let bomb = try Zlib.deflate([UInt8](repeating: 0, count: 10_000_000))
        #expect(bomb.count < 20_000)
        let batch = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 1, isDeflated: true, uncompressedLength: 10_000_000, payload: bomb)
        let expected = WireError.inflatedTooLarge(declaredBytes: 10_000_000, bytesMax: Limits.inflatedBytesMax)
        #expect(throws: expected) { try Message.decode(Message.batch(batch).frame()) }
        #expect(throws: expected) { try batch.decodeEntries() }
    }

    @Test("Wire: zlib bomb: 10 MB of zeros declared as 1000 bytes stops after 1001 bytes of output")
    func bombLyingDeclaration() throws {
        let bomb = try Zlib.deflate([UInt8](repeating: 0, count: 10_000_000))
        let batch = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 1, isDeflated: true, uncompressedLength: 1000, payload: bomb)
        let decoded = try Message.decode(Message.batch(batch).frame())
        guard case .batch(let received) = decoded else { return #expect(Bool(false), "not a batch") }
        #expect(throws: WireError.inflatedBeyondDeclared(declaredBytes: 1000, producedBytes: 1001)) {
            try received.decodeEntries()
        }
        #expect(throws: WireError.inflatedBeyondDeclared(declaredBytes: 1000, producedBytes: 1001)) {
            try Zlib.inflate(bomb, declaredBytes: 1000)
        }
    }

    @Test("Wire: zlib: exactly inflatedBytesMax inflates; a declaration one byte short is refused")
    func exactLimit() throws {
        let packed = try Zlib.deflate([UInt8](repeating: 7, count: Limits.inflatedBytesMax))
        #expect(try Zlib.inflate(packed, declaredBytes: Limits.inflatedBytesMax).count == Limits.inflatedBytesMax)
        let declared = Limits.inflatedBytesMax - 1
        #expect(throws: WireError.inflatedBeyondDeclared(declaredBytes: declared, producedBytes: declared + 1)) {
            try Zlib.inflate(packed, declaredBytes: Limits.inflatedBytesMax - 1)
        }
    }

    @Test("Wire: zlib: a stream shorter than declared is a length mismatch")
    func shortStream() throws {
        let packed = try Zlib.deflate(sampleBytes(500))
        #expect(throws: WireError.inflatedLengthMismatch(declaredBytes: 600, producedBytes: 500)) {
            try Zlib.inflate(packed, declaredBytes: 600)
        }
    }

    @Test("Wire: zlib: truncated, corrupt, dictionary and trailing-byte streams give distinct errors")
    func distinctErrors() throws {
        let input = sampleBytes(5000)
        let packed = try Zlib.deflate(input)
        let truncated = Array(packed.prefix(packed.count / 2))
        #expect {
            try Zlib.inflate(truncated, declaredBytes: input.count)
        } throws: { error in
            guard case WireError.zlibTruncated(let consumed, let produced) = error else { return false }
            return consumed == truncated.count && produced < input.count
        }
        var badHeader = packed
        badHeader[0] = 0x79
        #expect {
            try Zlib.inflate(badHeader, declaredBytes: input.count)
        } throws: { error in
            guard case WireError.zlibCorrupt(let reason) = error else { return false }
            return reason == "incorrect header check"
        }
        var badChecksum = packed
        badChecksum[badChecksum.count - 1] ^= 0xFF
        #expect(throws: WireError.zlibCorrupt(reason: "incorrect data check")) {
            try Zlib.inflate(badChecksum, declaredBytes: input.count)
        }
        // FDICT set (0x78bb passes the header check) and DICTID 1, which nobody offered.
        #expect(throws: WireError.zlibUnknownDictionary(dictionaryID: 1, offeredIDs: [])) {
            try Zlib.inflate([0x78, 0xBB, 0, 0, 0, 1, 0x03, 0x00], declaredBytes: 10)
        }
        #expect(throws: WireError.zlibTrailingBytes(count: 3)) {
            try Zlib.inflate(packed + [1, 2, 3], declaredBytes: input.count)
        }
        #expect {
            try Zlib.inflate([], declaredBytes: 0)
        } throws: { error in
            if case WireError.zlibTruncated(consumedBytes: 0, producedBytes: 0) = error { true } else { false }
        }
    }

    @Test("Wire: zlib bomb: 10 MB of zeros in about 10 KB, declared 1 KiB, is refused after 1025 bytes of output")
    func bombProducesAtMostDeclaredPlusOne() throws {
        let bomb = try Zlib.deflate([UInt8](repeating: 0, count: 10_000_000))
        #expect((5_000..<20_000).contains(bomb.count))
        #expect(throws: WireError.inflatedBeyondDeclared(declaredBytes: 1024, producedBytes: 1025)) {
            try Zlib.inflate(bomb, declaredBytes: 1024)
        }
        // The same bomb primed with a dictionary the receiver offers: no way around the bound.
        let primed = try Zlib.deflate([UInt8](repeating: 0, count: 10_000_000), dictionary: .trade1)
        #expect(throws: WireError.inflatedBeyondDeclared(declaredBytes: 1024, producedBytes: 1025)) {
            try Zlib.inflate(primed, declaredBytes: 1024, dictionaries: [.trade1])
        }
        // Declared at the batch limit, inflate stops one byte past it: 1 MiB + 1, not 10 MB.
        let batch = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 1, isDeflated: true, uncompressedLength: Limits.inflatedBytesMax,
            payload: bomb)
        #expect(
            throws: WireError.inflatedBeyondDeclared(
                declaredBytes: Limits.inflatedBytesMax, producedBytes: Limits.inflatedBytesMax + 1)
        ) { try batch.decodeEntries() }
    }

    @Test("Wire: zlib: a stream that ends far short of a large declaration is a mismatch naming what it produced")
    func lyingLongDeclaration() throws {
        let input = sampleBytes(100)
        let packed = try Zlib.deflate(input)
        #expect(throws: WireError.inflatedLengthMismatch(declaredBytes: Limits.inflatedBytesMax, producedBytes: 100)) {
            try Zlib.inflate(packed, declaredBytes: Limits.inflatedBytesMax)
        }
        // Output crossing 64 KiB steps: one byte past a step boundary is still caught.
        let step = try Zlib.deflate(sampleBytes(Zlib.inflateChunkBytes + 1))
        #expect(
            throws: WireError.inflatedBeyondDeclared(
                declaredBytes: Zlib.inflateChunkBytes, producedBytes: Zlib.inflateChunkBytes + 1)
        ) { try Zlib.inflate(step, declaredBytes: Zlib.inflateChunkBytes) }
    }
}
