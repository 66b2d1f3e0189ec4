import Testing
import TradeSyncClock
@testable import TradeSyncLog

/// The per-run bookkeeping of the log index gives what the per-entry form gave.
@Suite struct RunBookkeepingTests {
    private func origin(_ byte: UInt8) -> NodeID { NodeID(bytes: [UInt8](repeating: byte, count: 32)) ?? .zero }

    @Test("LogIndex: add(contentsOf:) over runs of several origins equals one add per record")
    func indexRunsEqualSingles() {
        var random = SystemRandomNumberGenerator()
        for round in 0..<50 {
            var bulk = LogIndex(firstSegment: 1)
            var single = LogIndex(firstSegment: 1)
            var seqs: [NodeID: UInt64] = [:]
            var offset = LogFormat.headerBytes
            for _ in 0..<(1 + round % 7) {  // several appends, each of several runs
                var records: [(dot: Dot, offset: Int, bytes: Int)] = []
                for _ in 0..<Int.random(in: 1...5, using: &random) {
                    let node = origin(UInt8.random(in: 1...3, using: &random))
                    for _ in 0..<Int.random(in: 1...20, using: &random) {
                        let seq = (seqs[node] ?? 0) + 1
                        seqs[node] = seq
                        let bytes = Int.random(in: (LogFormat.recordHeaderBytes + 1)...300, using: &random)
                        records.append((Dot(origin: node, seq: seq), offset, bytes))
                        offset += bytes
                    }
                }
                bulk.add(contentsOf: records)
                for record in records { single.add(record.dot, offset: record.offset, bytes: record.bytes) }
            }
            #expect(bulk == single, "round \(round)")
            #expect(bulk.vector == VersionVector(seqs), "round \(round)")
            #expect(bulk.isConsistent, "round \(round)")
        }
    }
}
