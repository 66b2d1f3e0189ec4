import Testing
import TradeSyncClock
import TradeSyncModel

private func node(_ byte: UInt8) -> NodeID { NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero }

@Suite struct VersionVectorTests {
    @Test("VersionVector: merge is the pointwise maximum; zero counters are not stored")
    func merge() {
        var a = VersionVector([node(1): 3, node(2): 0])
        let b = VersionVector([node(1): 1, node(3): 7])
        #expect(a.counters.count == 1)
        a.merge(b)
        #expect(a == VersionVector([node(1): 3, node(3): 7]))
        #expect(a.covers(Dot(origin: node(3), seq: 7)))
        #expect(!a.covers(Dot(origin: node(3), seq: 8)))
        #expect(b.isDominated(by: a))
        #expect(!a.isDominated(by: b))
        #expect(a.entriesAhead(of: b) == 2)
    }

    @Test("VersionVector: canonical encoding is sorted; unsorted or zero input is refused")
    func encoding() throws {
        let vector = VersionVector([node(9): 5, node(2): 300])
        var writer = ByteWriter()
        vector.encode(into: &writer)
        var reader = ByteReader(writer.bytes)
        #expect(try VersionVector.decode(from: &reader, originsMax: 4) == vector)
        // The first origin written is node(2): the order is by ID, not insertion.
        #expect(Array(writer.bytes[1..<33]) == [UInt8](repeating: 2, count: 32))
        var swapped = ByteWriter()
        swapped.writeVarint(2)
        node(9).encode(into: &swapped)
        swapped.writeVarint(1)
        node(2).encode(into: &swapped)
        swapped.writeVarint(1)
        var bad = ByteReader(swapped.bytes)
        #expect(throws: DecodeError.self) { try VersionVector.decode(from: &bad, originsMax: 4) }
        var tooMany = ByteReader(writer.bytes)
        #expect(throws: DecodeError.lengthTooLarge(offset: 0, length: 2, lengthMax: 1)) {
            try VersionVector.decode(from: &tooMany, originsMax: 1)
        }
        // The empty vector (most contexts) is one zero byte, read alone; what follows stays.
        var empty = ByteWriter()
        VersionVector().encode(into: &empty)
        empty.writeVarint(77)
        #expect(empty.bytes == [0, 77])
        var emptyReader = ByteReader(empty.bytes)
        let decoded = try VersionVector.decode(from: &emptyReader, originsMax: 0)
        #expect(decoded == VersionVector() && decoded.counters.isEmpty && emptyReader.offset == 1)
        #expect(try emptyReader.readVarint() == 77)
    }

    @Test("VersionVector: add(contentsOf:) over runs of several origins equals one add per dot")
    func addContentsOfRuns() {
        var random = SystemRandomNumberGenerator()
        for round in 0..<100 {
            var start = VersionVector([node(1): UInt64.random(in: 0...5, using: &random), node(4): 2])
            var single = start
            var dots: [Dot] = []
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                let origin = node(UInt8.random(in: 1...3, using: &random))
                var seq = UInt64.random(in: 1...10, using: &random)
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    dots.append(Dot(origin: origin, seq: seq))
                    seq = Bool.random(using: &random) ? seq + 1 : UInt64.random(in: 1...12, using: &random)
                }
            }
            for dot in dots { single.add(dot) }
            start.add(contentsOf: dots)
            #expect(start == single, "round \(round): \(dots)")
        }
    }

    @Test("NodeID: hex round-trips; order is byte order")
    func nodeID() throws {
        let id = try #require(NodeID(bytes: (0..<32).map { UInt8($0) }))
        #expect(NodeID(hex: id.hex) == id)
        #expect(id.short == "000102030405")
        #expect(NodeID(hex: "zz") == nil)
        #expect(node(1) < node(2))
        #expect(Dot(origin: id, seq: 17).description == "000102030405:17")
    }
}

@Suite struct HybridLogicalClockTests {
    @Test("HLC: strictly increasing even when the wall clock stalls or steps back")
    func monotonic() {
        var clock = HybridLogicalClock()
        let a = clock.tick(nowMs: 1_000)
        let b = clock.tick(nowMs: 1_000)
        let c = clock.tick(nowMs: 900)
        #expect(a < b && b < c)
        #expect(c.physicalMs == 1_000 && c.logical == 2)
        #expect(clock.tick(nowMs: 2_000) == HLCTimestamp(physicalMs: 2_000, logical: 0))
    }

    @Test("HLC: after observing a timestamp from a fast clock, local ticks exceed it")
    func observe() {
        var slow = HybridLogicalClock()
        let remote = HLCTimestamp(physicalMs: 5_000_000, logical: 7)
        slow.observe(remote)
        #expect(slow.tick(nowMs: 10) > remote)
    }
}
