import TradeSyncClock

/// Bytes read per `pread` while scanning: 1 MiB, a few dozen syscalls for a log of
/// 100,000 entries, and far more than the largest record.
let scanWindowBytes = 1 << 20

/// The recovery scan of one log file (rules in the comment at the top of
/// `LogFormat.swift`): validates every record from the header on, builds the
/// ``LogIndex``, and tells a torn tail from corruption. Reads only; the caller truncates.
///
/// Complexity: O(file size) reads and CRC work; the resynchronising search that runs
/// after an invalid record is O(bytes after it), plus a CRC for each position whose
/// length field is in range.
struct LogScan {
    /// What the scan found.
    struct Outcome {
        var index: LogIndex
        /// Why the tail at `index.end` is torn; nil when the file ends on a record boundary.
        var tornReason: String?
    }

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

    /// Scans every record after the header.
    /// - Throws: `corrupt` (bad record before the tail, or a seq gap); `io` on read errors.
    mutating func run() throws(LogError) -> Outcome {
        var index = LogIndex(end: LogFormat.headerBytes)
        var offset = LogFormat.headerBytes
        while offset < size {  // bound: offset grows by at least one record header per pass
            switch try parse(at: offset) {
            case .valid(let entry, let recordBytes):
                let expected = index.nextSeq(entry.dot.origin)
                guard entry.dot.seq == expected else {
                    throw .corrupt(
                        file: file.path, offset: offset,
                        reason: "entry \(entry.dot) breaks the sequence of its origin: expected seq \(expected)")
                }
                index.add(entry.dot, offset: offset, bytes: recordBytes)
                offset += recordBytes
            case .invalid(let reason):
                if let later = try firstValidRecord(after: offset) {
                    throw .corrupt(
                        file: file.path, offset: offset,
                        reason: "\(reason); a valid record follows at byte offset \(later), so this is not a torn tail")
                }
                return Outcome(index: index, tornReason: reason)
            }
        }
        precondition(index.end == size, "scan must end at the end of the file")
        return Outcome(index: index, tornReason: nil)
    }

    /// Parses the record at `offset` (which is below ``size``).
    private mutating func parse(at offset: Int) throws(LogError) -> RecordParse {
        let start = try load(offset, min(size - offset, LogFormat.recordBytesMax))
        return LogFormat.parseRecord(window, at: start, end: window.count)
    }

    /// The offset of the first valid record that starts after `offset`, or nil.
    private mutating func firstValidRecord(after offset: Int) throws(LogError) -> Int? {
        let minimumRecordBytes = LogFormat.recordHeaderBytes + 1
        var candidate = offset + 1
        while size - candidate >= minimumRecordBytes {  // bound: one pass per byte after `offset`
            let available = min(size - candidate, LogFormat.recordBytesMax)
            let start = try load(candidate, available)
            // Cheap filter first: most positions fail on the length field.
            let length = Int(LogFormat.readU32(window, at: start))
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
