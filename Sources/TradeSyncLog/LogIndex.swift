import TradeSyncClock
import TradeSyncModel

/// The in-memory index of a segmented log, rebuilt by the scan on open (or loaded from a
/// checkpoint) and extended by each append. Pure: no I/O; `Sendable`, so a checkpoint can
/// encode a copy off the node's actor.
///
/// Shape: records are numbered 0, 1, 2, … in log order across segments. ``segments``
/// lists each segment's number, first record and end offset; record `n` starts at
/// ``recordOffsets``[n] inside its segment and ends where record `n + 1` starts, or at
/// its segment's end. Per origin, ``recordsByOrigin``[origin][s - 1] is the number of the
/// record holding seq `s` (seqs have no gaps, so the array position is the seq).
/// Memory: 4 bytes per record plus 4 per record in the per-origin arrays.
struct LogIndex: Sendable, Equatable {
    /// One segment as the index sees it.
    struct Segment: Sendable, Equatable {
        /// The number in the file name and header.
        var number: UInt64
        /// The number of the segment's first record (the records of all earlier segments).
        var firstRecord: Int
        /// The offset just past the segment's last record.
        var end: Int
    }

    /// The segments, ascending; never empty.
    private(set) var segments: [Segment]
    /// Offset of each record inside its segment, in log order (segments stay < 4 GiB).
    /// Chunked (``ChunkedArray``), as the per-origin arrays: a checkpoint holds a copy of
    /// the index while the log takes appends, which then copy a chunk, not the whole index.
    private(set) var recordOffsets = ChunkedArray<UInt32>()
    /// Per origin: record numbers, seq `s` at position `s - 1`.
    private(set) var recordsByOrigin: [NodeID: ChunkedArray<UInt32>] = [:]
    /// Origin → highest seq in the log.
    private(set) var vector = VersionVector()

    /// An index of one empty segment.
    init(firstSegment number: UInt64) {
        segments = [Segment(number: number, firstRecord: 0, end: LogFormat.headerBytes)]
    }

    /// An index rebuilt from its parts (a checkpoint); the caller has checked them with
    /// ``isConsistent``.
    init(segments: [Segment], recordOffsets: ChunkedArray<UInt32>, recordsByOrigin: [NodeID: ChunkedArray<UInt32>]) {
        self.segments = segments
        self.recordOffsets = recordOffsets
        self.recordsByOrigin = recordsByOrigin
        var vector = VersionVector()
        for (origin, numbers) in recordsByOrigin where !numbers.isEmpty {
            vector.add(Dot(origin: origin, seq: UInt64(numbers.count)))
        }
        self.vector = vector
    }

    /// True when the parts agree: segments ascending and contiguous in records, every
    /// record number in range and listed once (ascending per origin), offsets ascending within
    /// each segment. O(records).
    var isConsistent: Bool {
        guard let first = segments.first, first.firstRecord == 0 else { return false }
        for (position, segment) in segments.enumerated() {
            let next = position + 1 < segments.count ? segments[position + 1].firstRecord : recordOffsets.count
            guard segment.firstRecord <= next, next <= recordOffsets.count else { return false }
            if position > 0 && segment.number != segments[position - 1].number + 1 { return false }
            var minimum = LogFormat.headerBytes
            for number in segment.firstRecord..<next {
                let offset = Int(recordOffsets[number])
                let placed = number == segment.firstRecord ? offset == LogFormat.headerBytes : offset >= minimum
                guard placed, offset + LogFormat.recordHeaderBytes < segment.end else { return false }
                minimum = offset + LogFormat.recordHeaderBytes + 1
            }
            if next == segment.firstRecord && segment.end != LogFormat.headerBytes { return false }
        }
        var seen = [Bool](repeating: false, count: recordOffsets.count)
        for numbers in recordsByOrigin.values {
            for (position, number) in numbers.enumerated() {
                guard position == 0 || numbers[position - 1] < number else { return false }
                guard Int(number) < seen.count, !seen[Int(number)] else { return false }
                seen[Int(number)] = true
            }
        }
        return seen.allSatisfy { $0 }
    }

    /// The number of records.
    var count: Int { recordOffsets.count }

    /// The last segment: the one appended to.
    var last: Segment { segments[segments.count - 1] }

    /// The position of the segment holding record `number` in ``segments``.
    func segmentPosition(of number: Int) -> Int {
        precondition(number >= 0 && number < count, "record number outside the log")
        var lower = 0
        var upper = segments.count - 1
        while lower < upper {  // bound: halves the range each pass
            let middle = (lower + upper + 1) / 2
            if segments[middle].firstRecord <= number { lower = middle } else { upper = middle - 1 }
        }
        return lower
    }

    /// Record `number`'s segment position, start offset and end offset.
    func location(of number: Int) -> (segment: Int, offset: Int, end: Int) {
        let segment = segmentPosition(of: number)
        let nextInSegment =
            number + 1 < count && (segment + 1 == segments.count || number + 1 < segments[segment + 1].firstRecord)
        let end = nextInSegment ? Int(recordOffsets[number + 1]) : segments[segment].end
        return (segment, Int(recordOffsets[number]), end)
    }

    /// The longest run of records from `lower` (below `upper`) that lie back to back in
    /// one segment within `bytesMax` bytes (at least one record): what one `pread` reads.
    /// - Returns: the segment's position, the run's start and end offsets, and the
    ///   number just past its last record.
    func run(from lower: Int, below upper: Int, bytesMax: Int) -> (segment: Int, offset: Int, end: Int, upper: Int) {
        let first = location(of: lower)
        let segmentEnd = first.segment + 1 < segments.count ? segments[first.segment + 1].firstRecord : count
        var next = lower + 1
        var end = first.end
        while next < min(upper, segmentEnd) {  // bound: upper
            let nextEnd = next + 1 < segmentEnd ? Int(recordOffsets[next + 1]) : segments[first.segment].end
            guard nextEnd - first.offset <= bytesMax else { break }
            end = nextEnd
            next += 1
        }
        return (first.segment, first.offset, end, next)
    }

    /// The seq the next entry of `origin` must carry.
    func nextSeq(_ origin: NodeID) -> UInt64 { vector[origin] &+ 1 }

    /// Records an entry written at `offset` (the last segment's current end) with `bytes`
    /// record bytes.
    /// - Precondition: the record starts at the end of the last segment and its seq is
    ///   ``nextSeq(_:)``.
    mutating func add(_ dot: Dot, offset: Int, bytes: Int) {
        add(contentsOf: CollectionOfOne((dot: dot, offset: offset, bytes: bytes)))
    }

    /// Records entries written one after another, as ``add(_:offset:bytes:)`` of each in
    /// turn. The per-origin arrays and the vector are touched once per run of one origin's
    /// entries (an append is mostly one run), not per entry: hashing a 32-byte origin three
    /// times per entry was a tenth of a catch-up's hashing.
    /// - Precondition: as ``add(_:offset:bytes:)``, for each record in order.
    mutating func add(contentsOf records: some Collection<(dot: Dot, offset: Int, bytes: Int)>) {
        var runOrigin: NodeID?
        var runNumbers: [UInt32] = []
        var expected: UInt64 = 0  // the next seq of the run's origin
        for record in records {
            if record.dot.origin != runOrigin {
                if let origin = runOrigin { appendRun(origin, runNumbers, lastSeq: expected - 1) }
                runOrigin = record.dot.origin
                runNumbers.removeAll(keepingCapacity: true)
                expected = nextSeq(record.dot.origin)
            }
            precondition(record.offset == last.end, "log index: record must start at the end")
            precondition(record.dot.seq == expected, "log index: seq must be contiguous")
            precondition(
                record.bytes > LogFormat.recordHeaderBytes && record.bytes <= LogFormat.recordBytesMax, "log index: record size")
            precondition(record.offset + record.bytes <= Int(UInt32.max), "log index: segment over 4 GiB")
            expected += 1
            runNumbers.append(UInt32(recordOffsets.count))
            recordOffsets.append(UInt32(record.offset))
            segments[segments.count - 1].end = record.offset + record.bytes
        }
        if let origin = runOrigin { appendRun(origin, runNumbers, lastSeq: expected - 1) }
    }

    private mutating func appendRun(_ origin: NodeID, _ numbers: [UInt32], lastSeq: UInt64) {
        recordsByOrigin[origin, default: ChunkedArray()].append(contentsOf: numbers)
        vector.advance(origin, to: lastSeq)
    }

    /// Starts segment `number` (the last one's number + 1) holding no record yet.
    mutating func startSegment() {
        segments.append(Segment(number: last.number + 1, firstRecord: count, end: LogFormat.headerBytes))
    }

    /// The record numbers holding seqs `after + 1 … after + limit` of `origin` (fewer when
    /// the log holds fewer), ascending by seq.
    func records(origin: NodeID, after seq: UInt64, limit: Int) -> Slice<ChunkedArray<UInt32>> {
        guard let numbers = recordsByOrigin[origin], limit > 0, seq < UInt64(numbers.count) else {
            return ChunkedArray()[...]
        }
        let lower = Int(seq)
        let upper = lower + min(limit, numbers.count - lower)
        return numbers[lower..<upper]
    }
}
