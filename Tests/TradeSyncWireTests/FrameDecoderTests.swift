import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

@Suite struct FrameDecoderTests {
    /// Five messages of different types back to back, one of them a deflated batch.
    func sampleMessages() throws -> [Message] {
        let origin = try node(0x31)
        return [
            .hello(Hello(versions: 1...2, nodeID: origin, logInstanceID: 42)),
            .vector(VersionVector([origin: 9, try node(0x32): 200])),
            .batch(BatchMessage(id: BatchID(rawValue: 1), entries: try makeEntries(origin, 1...6))),
            .ping(nonce: 7),
            .error(ErrorMessage(code: .shutdown, reason: "bye")),
        ]
    }

    func drain(_ decoder: inout FrameDecoder, into frames: inout [Frame]) throws {
        while let frame = try decoder.next() { frames.append(frame) }
    }

    @Test("Wire: frame decoder: a stream split at every byte boundary yields the same frames")
    func everySplitPoint() throws {
        let messages = try sampleMessages()
        let stream = messages.flatMap { $0.encoded() }
        let expected = messages.map { $0.frame() }
        #expect(stream.count > 300)
        for split in 0...stream.count {
            var decoder = FrameDecoder()
            var got: [Frame] = []
            decoder.feed(Array(stream[..<split]))
            try drain(&decoder, into: &got)
            decoder.feed(Array(stream[split...]))
            try drain(&decoder, into: &got)
            #expect(got == expected, "split at \(split)")
            #expect(decoder.bufferedByteCount == 0)
            #expect(decoder.streamOffset == stream.count)
        }
    }

    @Test("Wire: frame decoder: one byte at a time yields the same frames and decodes the messages")
    func byteAtATime() throws {
        let messages = try sampleMessages()
        let stream = messages.flatMap { $0.encoded() }
        var decoder = FrameDecoder()
        var got: [Frame] = []
        for byte in stream {
            decoder.feed([byte])
            try drain(&decoder, into: &got)
            #expect(decoder.bufferedByteCount < Frame.headerBytes + Limits.frameBytesMax)
        }
        #expect(try got.map { try Message.decode($0) } == messages)
    }

    @Test("Wire: frame decoder: oversized length refused from the 4-byte header alone")
    func oversizeFromHeader() throws {
        var decoder = FrameDecoder()
        decoder.feed([0x00, 0x10, 0x00])
        #expect(try decoder.next() == nil)
        decoder.feed([0x01])  // 0x00100001 = 1 MiB + 1
        let expected = WireError.frameTooLarge(declaredBytes: 1_048_577, bytesMax: 1_048_576, streamOffset: 0)
        #expect(throws: expected) { try decoder.next() }
        // Sticky, and nothing more is buffered.
        decoder.feed([UInt8](repeating: 0, count: 1000))
        #expect(decoder.bufferedByteCount == 0)
        #expect(throws: expected) { try decoder.next() }
        #expect(expected.description == "frame at stream offset 0 declares 1048577 bytes, above frameBytesMax = 1048576")
    }

    @Test("Wire: frame decoder: oversized length after a valid frame names its stream offset")
    func oversizeOffset() throws {
        var decoder = FrameDecoder()
        let ping = Message.ping(nonce: 1).encoded()
        decoder.feed(ping + [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try decoder.next() == Message.ping(nonce: 1).frame())
        #expect(throws: WireError.frameTooLarge(declaredBytes: 0xFFFF_FFFF, bytesMax: Limits.frameBytesMax, streamOffset: 13)) {
            try decoder.next()
        }
    }

    @Test("Wire: frame decoder: a zero length is refused")
    func zeroLength() throws {
        var decoder = FrameDecoder()
        decoder.feed([0, 0, 0, 0, 0x05])
        #expect(throws: WireError.frameEmpty(streamOffset: 0)) { try decoder.next() }
    }

    @Test("Wire: frame decoder: a frame of exactly frameBytesMax is accepted, one byte more is not")
    func exactLimit() throws {
        let body = [UInt8](repeating: 0xAB, count: Limits.frameBytesMax - 1)
        let frame = Frame(type: 0x42, body: body)
        #expect(frame.length == Limits.frameBytesMax)
        var decoder = FrameDecoder()
        decoder.feed(frame.encoded())
        #expect(try decoder.next() == frame)
        #expect(decoder.bufferedByteCount == 0)
        var strict = FrameDecoder(frameBytesMax: Limits.frameBytesMax - 1)
        strict.feed(Array(frame.encoded().prefix(4)))
        #expect(throws: WireError.frameTooLarge(
            declaredBytes: UInt32(Limits.frameBytesMax), bytesMax: Limits.frameBytesMax - 1, streamOffset: 0)) {
            try strict.next()
        }
    }

    @Test("Wire: frame decoder: a partial frame is held, never more than one frame")
    func partialHeld() throws {
        var decoder = FrameDecoder()
        let bytes = Message.ping(nonce: 99).encoded() + Message.pong(nonce: 99).encoded()
        decoder.feed(Array(bytes.prefix(20)))
        #expect(try decoder.next() == Message.ping(nonce: 99).frame())
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedByteCount == 7)
        decoder.feed(Array(bytes.dropFirst(20)))
        #expect(try decoder.next() == Message.pong(nonce: 99).frame())
        #expect(try decoder.next() == nil)
    }
}
