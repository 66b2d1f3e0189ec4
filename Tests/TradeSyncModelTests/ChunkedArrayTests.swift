import Testing
@testable import TradeSyncModel

/// `ChunkedArray` behaves as an array, and a copy shares every chunk a write did not touch.
@Suite struct ChunkedArrayTests {
    private static let chunk = ChunkedArray<Int>.chunkCount

    @Test("ChunkedArray: appends, reads and writes across chunk boundaries match an array")
    func matchesArray() {
        var random = SystemRandomNumberGenerator()
        for round in 0..<20 {
            var model: [Int] = []
            var chunked = ChunkedArray<Int>()
            for _ in 0..<Int.random(in: 0...(3 * Self.chunk + 5), using: &random) {
                let value = Int.random(in: 0...1_000_000, using: &random)
                model.append(value)
                chunked.append(value)
            }
            for _ in 0..<200 where !model.isEmpty {
                let position = Int.random(in: 0..<model.count, using: &random)
                model[position] = -position
                chunked[position] = -position
            }
            #expect(chunked.count == model.count, "round \(round)")
            #expect(Array(chunked) == model, "round \(round)")
            #expect(chunked == ChunkedArray(model), "round \(round)")
        }
    }

    @Test("ChunkedArray: repeating and sequence initialisers at and around chunk sizes")
    func initialisers() {
        for count in [0, 1, Self.chunk - 1, Self.chunk, Self.chunk + 1, 2 * Self.chunk + 7] {
            var filled = ChunkedArray(repeating: 7, count: count)
            #expect(Array(filled) == [Int](repeating: 7, count: count), "\(count)")
            filled.append(8)  // the partly filled last chunk takes more
            #expect(filled.count == count + 1 && filled[count] == 8, "\(count)")
            #expect(filled.chunks.dropLast().allSatisfy { $0.count == Self.chunk }, "\(count): every chunk but the last full")
            #expect(Array(ChunkedArray(0..<count)) == Array(0..<count), "\(count)")
        }
    }

    @Test("ChunkedArray: after a copy, a write duplicates only its own chunk; the copy keeps its values")
    func copyOnWritePerChunk() {
        var original = ChunkedArray(0..<(4 * Self.chunk))
        let copy = original
        original[Self.chunk + 3] = -1  // in chunk 1
        original.append(-2)  // a new chunk 4
        #expect(copy[Self.chunk + 3] == Self.chunk + 3)
        #expect(copy.count == 4 * Self.chunk)
        #expect(original[Self.chunk + 3] == -1 && original[4 * Self.chunk] == -2)
        func base(_ array: ChunkedArray<Int>, _ chunk: Int) -> UnsafePointer<Int>? {
            array.chunks[chunk].withUnsafeBufferPointer { $0.baseAddress }
        }
        for chunk in 0..<4 {
            #expect((base(original, chunk) == base(copy, chunk)) == (chunk != 1), "chunk \(chunk) shared unless written")
        }
    }
}
