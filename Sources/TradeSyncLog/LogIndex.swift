import TradeSyncClock

/// The in-memory index of one log file, rebuilt by the scan on open and extended by
/// each append. Pure: no I/O.
///
/// Shape: records are numbered 0, 1, 2, … in append order (= file order); record `n`
/// starts at ``recordOffsets``[n] and ends where record `n + 1` starts (or at ``end``),
/// because records lie back to back. Per origin, ``recordsByOrigin``[origin][s - 1] is the
/// number of the record holding seq `s`: seqs have no gaps, so the array position is the
/// seq. Memory: 8 bytes per record plus 8 per record in the per-origin arrays.
struct LogIndex {
    /// File offset of each record, in append order.
    private(set) var recordOffsets: [Int] = []
    /// Per origin: record numbers, seq `s` at position `s - 1`.
    private(set) var recordsByOrigin: [NodeID: [Int]] = [:]
    /// Origin → highest seq in the log.
    private(set) var vector = VersionVector()
    /// The offset just past the last record: where the next append goes.
    private(set) var end: Int

    init(end: Int) { self.end = end }

    /// The number of records.
    var count: Int { recordOffsets.count }

    /// The offset just past record `number`.
    func recordEnd(_ number: Int) -> Int {
        number + 1 < recordOffsets.count ? recordOffsets[number + 1] : end
    }

    /// The seq the next entry of `origin` must carry.
    func nextSeq(_ origin: NodeID) -> UInt64 { vector[origin] &+ 1 }

    /// Records an entry written at `offset` (the current ``end``) with `bytes` record bytes.
    /// - Precondition: the record starts at ``end`` and its seq is ``nextSeq(_:)``.
    mutating func add(_ dot: Dot, offset: Int, bytes: Int) {
        precondition(offset == end, "log index: record must start at the end")
        precondition(dot.seq == nextSeq(dot.origin), "log index: seq must be contiguous")
        precondition(bytes > LogFormat.recordHeaderBytes && bytes <= LogFormat.recordBytesMax, "log index: record size")
        recordsByOrigin[dot.origin, default: []].append(recordOffsets.count)
        recordOffsets.append(offset)
        vector.add(dot)
        end = offset + bytes
    }

    /// The record numbers holding seqs `after + 1 … after + limit` of `origin` (fewer when
    /// the log holds fewer), ascending by seq.
    func records(origin: NodeID, after seq: UInt64, limit: Int) -> ArraySlice<Int> {
        guard let numbers = recordsByOrigin[origin], limit > 0, seq < UInt64(numbers.count) else { return [] }
        let lower = Int(seq)
        let upper = lower + min(limit, numbers.count - lower)
        return numbers[lower..<upper]
    }
}
