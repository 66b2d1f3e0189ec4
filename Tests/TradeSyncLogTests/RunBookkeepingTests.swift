import Crypto
import Testing
import TradeSyncClock
@testable import TradeSyncLog

/// The per-run bookkeeping of the log index and the inline digests give what the
/// per-entry forms gave.
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

    @Test("Digest32: holds SHA-256's 32 bytes in order; the chain step on digests equals the one on arrays")
    func digestMatchesArrays() {
        let payload = Array("TSCHAIN1 test payload".utf8)
        let digest = payload.withUnsafeBytes { Digest32.sha256($0) }
        #expect(digest.bytes == Array(SHA256.hash(data: payload)))
        #expect(Digest32(digest.bytes) == digest)
        #expect(Digest32(EntryChain.genesis) != digest)
        var arrayHead = EntryChain.genesis
        var inlineHead = Digest32(EntryChain.genesis)
        for step in 0..<5 {
            let hash = (payload + [UInt8(step)]).withUnsafeBytes { Digest32.sha256($0) }
            arrayHead = EntryChain.next(arrayHead, entryHash: hash.bytes)
            inlineHead = EntryChain.next(inlineHead, entryHash: hash)
            #expect(inlineHead.bytes == arrayHead, "step \(step)")
        }
    }
}
