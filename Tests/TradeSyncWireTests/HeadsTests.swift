import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// HEADS (0x08): per origin, the highest seq held and the hash prefix of that entry.
@Suite struct HeadsTests {
    @Test("Wire: HEADS: round trip; the prefix is the first 8 bytes of the entry's SHA-256, big-endian")
    func roundTrip() throws {
        let entry = try makeEntry(try node(0x31), 4)
        let head = Head(dot: entry.dot, hash: entry.hash)
        var expected: UInt64 = 0
        for byte in entry.hash.prefix(8) { expected = expected << 8 | UInt64(byte) }
        #expect(head.hashPrefix == expected)
        #expect(head.dot == entry.dot)
        let other = Head(origin: try node(0x32), seq: 9, hashPrefix: 1)
        // Encoded in origin order whatever the input order.
        let message = Message.heads([other, head])
        #expect(try Message.decode(message.frame()) == .heads([head, other]))
        #expect(message.encoded().count == 4 + 1 + 1 + 2 * (32 + 1 + 8))
    }

    @Test("Wire: HEADS: origins out of order, repeated, seq 0 are malformed; more than vectorOriginsMax is limitExceeded")
    func refusals() throws {
        func body(_ heads: [(UInt8, UInt64)]) throws -> [UInt8] {
            var writer = ByteWriter()
            writer.writeVarint(UInt64(heads.count))
            for (byte, seq) in heads {
                try node(byte).encode(into: &writer)
                writer.writeVarint(seq)
                writer.writeU64(7)
            }
            return writer.bytes
        }
        for bad in [[(0x22, 1), (0x11, 1)], [(0x11, 1), (0x11, 2)], [(0x11, 0)]] as [[(UInt8, UInt64)]] {
            #expect {
                try Message.decode(Frame(type: 0x08, body: try body(bad)))
            } throws: { error in
                guard case WireError.malformed(0x08, _) = error else { return false }
                return true
            }
        }
        var tooMany = ByteWriter()
        tooMany.writeVarint(UInt64(Limits.vectorOriginsMax + 1))
        #expect {
            try Message.decode(Frame(type: 0x08, body: tooMany.bytes))
        } throws: { error in
            (error as? WireError)?.limit == Limits.vectorOrigins
        }
    }
}
