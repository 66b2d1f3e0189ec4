import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

@Suite struct MessageTests {
    @Test("Wire: every message type: encode then decode gives the same message")
    func roundTrips() throws {
        let origin = try node(0x41)
        let messages: [Message] = [
            .hello(Hello(versions: 1...7, nodeID: origin, logInstanceID: .max, features: 0x8000_0001)),
            .vector(VersionVector()),
            .vector(VersionVector([origin: 1, try node(0x01): UInt64.max])),
            .batch(BatchMessage(id: BatchID(rawValue: 300), entries: try makeEntries(origin, 1...40))),
            .ack(Ack(batchID: BatchID(rawValue: .max), vector: VersionVector([origin: 40]))),
            .ping(nonce: 0), .pong(nonce: .max),
            .error(ErrorMessage(code: ErrorCode(rawValue: 999), reason: "später ✓")),
        ]
        for message in messages {
            #expect(try Message.decode(message.frame()) == message)
            #expect(message.frame().type == message.type.rawValue)
        }
    }

    @Test("Wire: HELLO: bad magic, reversed range and trailing bytes are refused")
    func helloRefusals() throws {
        let good = Message.hello(Hello(versions: 1...1, nodeID: try node(1), logInstanceID: 5)).frame()
        var badMagic = good.body
        badMagic[0] = UInt8(ascii: "H")
        #expect(throws: WireError.badMagic(Array("HSYN".utf8))) { try Message.decode(Frame(type: 1, body: badMagic)) }
        #expect(throws: WireError.badMagic([0x54])) { try Message.decode(Frame(type: 1, body: [0x54])) }
        var reversed = good.body
        reversed[5] = 3  // versionMin = 3 > versionMax = 1
        #expect(throws: WireError.malformed(messageType: 1, reason: "versionMin 3 > versionMax 1")) {
            try Message.decode(Frame(type: 1, body: reversed))
        }
        #expect {
            try Message.decode(Frame(type: 1, body: good.body + [0]))
        } throws: { error in
            guard case WireError.malformed(1, let reason) = error else { return false }
            return reason.contains("trailing")
        }
        #expect(Hello.bodyBytes == 52)
        #expect(good.body.count == 52)
    }

    @Test("Wire: unknown message type: refused with its number")
    func unknownType() throws {
        #expect(throws: WireError.unknownMessageType(0x42)) { try Message.decode(Frame(type: 0x42, body: [1, 2])) }
        #expect(WireError.unknownMessageType(0x42).description == "unknown message type 0x42")
        #expect(WireError.unknownMessageType(0x42).errorCode == .unknownMessageType)
    }

    @Test("Wire: VECTOR: non-canonical order, zero counter and too many origins are malformed")
    func vectorRefusals() throws {
        var writer = ByteWriter()
        writer.writeVarint(2)
        try node(0x22).encode(into: &writer)
        writer.writeVarint(1)
        try node(0x11).encode(into: &writer)
        writer.writeVarint(1)
        #expect {
            try Message.decode(Frame(type: 2, body: writer.bytes))
        } throws: { error in
            guard case WireError.malformed(2, let reason) = error else { return false }
            return reason.contains("ascending")
        }
        var tooMany = ByteWriter()
        tooMany.writeVarint(UInt64(Limits.vectorOriginsMax + 1))
        #expect {
            try Message.decode(Frame(type: 2, body: tooMany.bytes))
        } throws: { error in
            // A limit, named: the ERROR sent says which one.
            guard let error = error as? WireError, case .limitExceeded(let limit, 4097, let context) = error else { return false }
            return limit == Limits.vectorOrigins && context == "VECTOR, byte 0" && error.errorCode == .limitExceeded
        }
    }

    @Test("Wire: ERROR: a long reason is cut at a character boundary to reasonBytesMax; a longer one on the wire is refused")
    func errorReasonLimit() throws {
        let long = String(repeating: "ä", count: 600)  // 1200 bytes of UTF-8
        let message = ErrorMessage(code: .internalError, reason: long)
        #expect(message.reason.utf8.count == 1024)
        #expect(message.reason == String(repeating: "ä", count: 512))
        var writer = ByteWriter()
        writer.writeU16(1)
        writer.writeString(String(repeating: "x", count: Limits.reasonBytesMax + 1))
        #expect {
            try Message.decode(Frame(type: 7, body: writer.bytes))
        } throws: { error in
            guard let error = error as? WireError, case .limitExceeded(let limit, 1025, _) = error else { return false }
            return limit.name == "reasonBytesMax" && error.description == "ERROR, byte 2: 1025 exceeds reasonBytesMax = 1024"
        }
    }

    @Test("Wire: BATCH: small payloads stay plain, larger compressible ones are deflated")
    func deflateDecision() throws {
        let origin = try node(0x51)
        let small = BatchMessage(id: BatchID(rawValue: 1), entries: [try makeEntry(origin, 1)])
        #expect(!small.isDeflated)
        #expect(small.uncompressedLength < Limits.deflateThresholdBytes)
        let large = BatchMessage(id: BatchID(rawValue: 2), entries: try makeEntries(origin, 1...100))
        #expect(large.isDeflated)
        #expect(large.payload.count * 2 < large.uncompressedLength)
        #expect(try large.decodeEntries() == makeEntries(origin, 1...100))
    }

    @Test("Wire: BATCH: exactly batchEntriesMax entries decode; one more is refused from the header")
    func entryCountLimit() throws {
        let origin = try node(0x52)
        let entries = try (1...UInt64(Limits.batchEntriesMax)).map { try makeEntry(origin, $0) }
        let full = BatchMessage(id: BatchID(rawValue: 1), entries: entries)
        guard case .batch(let decoded) = try Message.decode(Message.batch(full).frame()) else {
            return #expect(Bool(false), "not a batch")
        }
        #expect(try decoded.decodeEntries().count == Limits.batchEntriesMax)
        let over = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: Limits.batchEntriesMax + 1, isDeflated: false, uncompressedLength: 0,
            payload: [])
        #expect(throws: WireError.batchTooManyEntries(declaredEntries: 4097, entriesMax: 4096)) {
            try Message.decode(Message.batch(over).frame())
        }
    }

    @Test("Wire: BATCH: entries of one origin out of seq order are refused")
    func entryOrder() throws {
        let origin = try node(0x53)
        let entries = [try makeEntry(origin, 1), try makeEntry(try node(0x54), 7), try makeEntry(origin, 3)]
        let payload = plainPayload(entries)
        let batch = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 3, isDeflated: false, uncompressedLength: payload.count, payload: payload)
        #expect {
            try batch.decodeEntries()
        } throws: { error in
            guard case WireError.malformed(3, let reason) = error else { return false }
            return reason.contains("entry 3") && reason.contains("seq 1")
        }
    }

    @Test("Wire: BATCH: origins in several runs decode; a seq skipped inside a run or after another origin's run is refused")
    func entryOrderAcrossRuns() throws {
        let a = try node(0x56)
        let b = try node(0x57)
        func decode(_ entries: [Entry]) throws -> [Entry] {
            let payload = plainPayload(entries)
            return try BatchMessage(
                id: BatchID(rawValue: 1), entryCount: entries.count, isDeflated: false, uncompressedLength: payload.count,
                payload: payload
            ).decodeEntries()
        }
        let runs = [try makeEntry(a, 4), try makeEntry(a, 5), try makeEntry(b, 1), try makeEntry(a, 6), try makeEntry(b, 2)]
        #expect(try decode(runs) == runs)
        for (entries, fragment) in [
            ([try makeEntry(a, 1), try makeEntry(a, 2), try makeEntry(a, 4)], "entry 3"),
            ([try makeEntry(a, 1), try makeEntry(b, 1), try makeEntry(a, 1)], "entry 3"),
            ([try makeEntry(b, 3), try makeEntry(a, 1), try makeEntry(b, 5), try makeEntry(b, 6)], "entry 3"),
        ] {
            #expect {
                try decode(entries)
            } throws: { error in
                guard case WireError.malformed(3, let reason) = error else { return false }
                return reason.contains(fragment)
            }
        }
    }

    @Test("Wire: BATCH: wrong counts, reserved flags, bad signature section and plain length mismatch are malformed")
    func batchHeaderRefusals() throws {
        let origin = try node(0x55)
        let payload = plainPayload([try makeEntry(origin, 1), try makeEntry(origin, 2)])
        func body(id: UInt64, count: UInt64, flags: UInt8, length: Int) -> [UInt8] {
            var writer = ByteWriter()
            writer.writeVarint(id)
            writer.writeVarint(count)
            writer.writeU8(flags)
            writer.writeVarint(UInt64(length))
            writer.writeBytes(payload)
            return writer.bytes
        }
        let cases: [([UInt8], String)] = [
            (body(id: 0, count: 2, flags: 0, length: payload.count), "batchID 0"),
            (body(id: 1, count: 0, flags: 0, length: payload.count), "entryCount 0"),
            (body(id: 1, count: 2, flags: 8, length: payload.count), "reserved flag bits 8"),
            // Flag bit 1 with no signature section: the payload's first byte reads as the count.
            (body(id: 1, count: 2, flags: 2, length: payload.count), "signatureCount"),
            (body(id: 1, count: 2, flags: 0, length: payload.count + 1), "declared \(payload.count + 1)"),
        ]
        for (bytes, fragment) in cases {
            #expect {
                try Message.decode(Frame(type: 3, body: bytes))
            } throws: { error in
                guard case WireError.malformed(3, let reason) = error else { return false }
                return reason.contains(fragment)
            }
        }
        // Declaring 3 entries when 2 are present: found when decoding entries.
        guard case .batch(let short) = try Message.decode(Frame(type: 3, body: body(id: 1, count: 3, flags: 0, length: payload.count))) else {
            return #expect(Bool(false), "not a batch")
        }
        #expect {
            try short.decodeEntries()
        } throws: { error in
            guard case WireError.malformed(3, let reason) = error else { return false }
            return reason.hasPrefix("entry 3 of 3: truncated")
        }
    }

    @Test("Wire: version negotiation: highest common version, or both ranges in the error")
    func negotiation() throws {
        #expect(try ProtocolVersion.negotiate(ours: 1...3, theirs: 1...1) == 1)
        #expect(try ProtocolVersion.negotiate(ours: 1...1, theirs: 1...3) == 1)
        #expect(try ProtocolVersion.negotiate(ours: 2...5, theirs: 3...9) == 5)
        #expect(try ProtocolVersion.negotiate(ours: 4...4, theirs: 1...4) == 4)
        #expect(throws: WireError.versionMismatch(ours: 1...1, theirs: 2...2)) {
            try ProtocolVersion.negotiate(ours: 1...1, theirs: 2...2)
        }
        #expect(throws: WireError.versionMismatch(ours: 1...1, theirs: 0...0)) {
            try ProtocolVersion.negotiate(ours: 1...1, theirs: 0...0)
        }
        #expect(WireError.versionMismatch(ours: 1...1, theirs: 2...3).description
            == "no common protocol version: ours [1,1], theirs [2,3]")
    }
}
