import TradeSyncClock
import TradeSyncModel

/// Bytes read per `pread` while scanning: 1 MiB, a few dozen syscalls for a log of
/// 100,000 entries, and far more than the largest record.
let scanWindowBytes = 1 << 20

/// The recovery scan of one segment (rules in the comment at the top of
/// `LogFormat.swift`): validates every record from `start` on, extends the ``LogIndex``,
/// and tells a torn tail from corruption. Reads only; the caller truncates.
///
/// Complexity: O(bytes scanned) reads, CRC, SHA-256 and decode work; the resynchronising
/// search that runs after an invalid record is O(bytes after it), plus a CRC for each
/// position whose length field is in range.
struct LogScan {
    let file: LogFile
    let size: Int
    private var window: [UInt8] = []
    private var windowStart = 0

    init(file: LogFile, size: Int) {
        precondition(scanWindowBytes >= LogFormat.recordBytesMax, "scan window must hold a whole record")
        precondition(size >= LogFormat.headerBytes, "scan needs a file with a header")
        self.file = file
        self.size = size
    }

    /// Scans the records of the index's last segment from its current end to the end of
    /// the file, adding each to `index`.
    ///
    /// - Parameter sealed: true for a segment that is not the last: it must end on a
    ///   record boundary, so any invalid record is corruption.
    /// - Returns: why the bytes after `index.last.end` are a torn tail; nil when the file
    ///   ends on a record boundary.
    /// - Throws: `corrupt` (bad record before the tail, in a sealed segment, or a seq
    ///   gap); `io` on read errors.
    mutating func run(into index: inout LogIndex, sealed: Bool) throws(LogError) -> String? {
        var offset = index.last.end
        // The records of a batch whose last record has not been read yet: they enter the
        // index only with it, so an incomplete batch is cut whole.
        var batch: [(dot: Dot, offset: Int, bytes: Int)] = []
        var batchSeqs: [NodeID: UInt64] = [:]
        while offset < size {  // bound: offset grows by at least one record header per pass
            let (parsed, continues) = try parse(at: offset)
            switch parsed {
            case .valid(let entry, _, let recordBytes):
                let origin = entry.dot.origin
                let expected = (batchSeqs[origin] ?? index.vector[origin]) &+ 1
                guard entry.dot.seq == expected else {
                    throw .corrupt(
                        file: file.path, offset: offset,
                        reason: "entry \(entry.dot) breaks the sequence of its origin: expected seq \(expected)")
                }
                batch.append((entry.dot, offset, recordBytes))
                batchSeqs[origin] = entry.dot.seq
                offset += recordBytes
                if !continues {
                    index.add(contentsOf: batch)
                    batch.removeAll(keepingCapacity: true)
                    batchSeqs.removeAll(keepingCapacity: true)
                }
            case .invalid(let reason):
                if sealed {
                    throw .corrupt(
                        file: file.path, offset: offset,
                        reason: "\(reason); the segment is sealed (a later segment exists), so this is not a torn tail")
                }
                if let later = try firstValidRecord(after: offset) {
                    throw .corrupt(
                        file: file.path, offset: offset,
                        reason: "\(reason); a valid record follows at byte offset \(later), so this is not a torn tail")
                }
                return batch.isEmpty ? reason : "\(reason), after \(batch.count) record(s) of a batch that has no last record"
            }
        }
        if !batch.isEmpty {
            let reason = "the last batch ends without its last record (\(batch.count) record(s) of it were written)"
            if sealed {
                throw .corrupt(file: file.path, offset: batch[0].offset, reason: reason + "; the segment is sealed")
            }
            return reason
        }
        precondition(index.last.end == size, "scan must end at the end of the file")
        return nil
    }

    /// Parses the record at `offset` (which is below ``size``); also says whether its
    /// batch continues after it.
    private mutating func parse(at offset: Int) throws(LogError) -> (RecordParse, Bool) {
        let start = try load(offset, min(size - offset, LogFormat.recordBytesMax))
        let continues = size - offset >= 4 && LogFormat.continuesBatch(window, at: start)
        return (LogFormat.parseRecord(window, at: start, end: window.count), continues)
    }

    /// The offset of the first valid record that starts after `offset`, or nil.
    private mutating func firstValidRecord(after offset: Int) throws(LogError) -> Int? {
        let minimumRecordBytes = LogFormat.recordHeaderBytes + 1
        var candidate = offset + 1
        while size - candidate >= minimumRecordBytes {  // bound: one pass per byte after `offset`
            let available = min(size - candidate, LogFormat.recordBytesMax)
            let start = try load(candidate, available)
            // Cheap filter first: most positions fail on the length field.
            let length = LogFormat.payloadLength(window, at: start)
            if length >= 1 && length <= LogFormat.payloadBytesMax && length <= available - LogFormat.recordHeaderBytes {
                if case .valid = LogFormat.parseRecord(window, at: start, end: window.count) { return candidate }
            }
            candidate += 1
        }
        return nil
    }

    /// Makes file bytes `offset..<offset + count` available in ``window`` and returns the
    /// index of `offset` in it. Reads a new window (up to ``scanWindowBytes``) when needed.
    private mutating func load(_ offset: Int, _ count: Int) throws(LogError) -> Int {
        precondition(count <= scanWindowBytes && offset + count <= size, "scan read outside the file")
        if offset >= windowStart && offset + count <= windowStart + window.count { return offset - windowStart }
        window = try file.read(at: offset, count: min(scanWindowBytes, size - offset))
        windowStart = offset
        return 0
    }
}

/// The checksum pass over records a checkpoint covers: each record's CRC-32C (which
/// covers its length, hash, payload and seal) is checked, nothing is decoded. Cheap enough to
/// run at every start (about 1 GB/s in an optimised build), so corruption under a
/// checkpoint stops the node at start, as corruption in the scanned tail does.
///
/// Complexity: O(covered bytes), one `pread` per MiB.
/// - Throws: `corrupt` naming the segment and the record's offset; `io` on read errors.
func verifyChecksums(of index: LogIndex, files: [LogFile]) throws(LogError) {
    var number = 0
    while number < index.count {  // bound: each pass checks at least one record
        let first = index.run(from: number, below: index.count, bytesMax: scanWindowBytes)
        let upper = first.upper
        let file = files[first.segment]
        let bytes = try file.read(at: first.offset, count: first.end - first.offset)
        for record in number..<upper {
            let start = Int(index.recordOffsets[record]) - first.offset
            let recordEnd = record + 1 < upper ? Int(index.recordOffsets[record + 1]) - first.offset : bytes.count
            let body = recordEnd - start - LogFormat.recordHeaderBytes
            let stored = LogFormat.readU32(bytes, at: start + 4)
            guard body >= 1, LogFormat.bodyLength(bytes, at: start) == body,
                stored == LogFormat.recordCRC(bytes, at: start, bodyBytes: body)
            else {
                throw .corrupt(
                    file: file.path, offset: first.offset + start,
                    reason: "record under the checkpoint fails its CRC-32C check (length or checksum damaged)")
            }
        }
        number = upper
    }
}
