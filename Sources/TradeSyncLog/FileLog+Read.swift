import TradeSyncClock
import TradeSyncModel

/// Most bytes one `pread` of a read covers: 1 MiB (records lie back to back, so a run of
/// consecutive records is one read).
let readChunkBytesMax = 1 << 20

/// Entries decoded per step of ``FileLog/replay(_:)``, bounding its memory to about
/// 4096 entries at a time.
let replayChunkRecords = 4096

extension FileLog {
    /// Calls `visit` with every entry from record number `first` on, in log order (used at
    /// start to rebuild the replica: from 0, or from a checkpoint's ``LogCheckpoint/entryCount``).
    ///
    /// Every record is read again and its CRC checked (the read-side half of the pair of
    /// checks). Reads 1 MiB at a time.
    ///
    /// Complexity: O(bytes from `first` on).
    /// - Throws: whatever `visit` throws (replay stops there); ``LogError/corrupt(file:offset:reason:)``
    ///   when a record no longer matches what open validated; ``LogError/io(file:operation:errno:)``;
    ///   ``LogError/closed(file:)``.
    public func replay(from first: Int = 0, _ visit: (Entry) throws -> Void) throws {
        try checkOpen()
        let count = index.count
        var lower = max(0, first)
        while lower < count {  // bound: lower grows by up to replayChunkRecords per pass
            let upper = min(count, lower + replayChunkRecords)
            for entry in try readRecords(lower..<upper) { try visit(entry) }
            lower = upper
        }
    }

    /// The entries of `origin` with seq in `(after, after + limit]`, ascending by seq.
    /// Same as ``sealedEntries(origin:after:limit:)`` without the seals.
    /// - Throws: as that does.
    public func entries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [Entry] {
        try sealedEntries(origin: origin, after: seq, limit: limit).map(\.entry)
    }

    /// The entries of `origin` with seq in `(after, after + limit]`, ascending by seq,
    /// each with its seal if its record carries one.
    ///
    /// Shape: no gaps; fewer than `limit` (possibly none) when the log holds fewer.
    /// A `limit` of zero or less gives none. Served from the index with one `pread` per run
    /// of records that lie back to back in the file (one per 1 MiB for a single-origin log).
    ///
    /// Complexity: O(returned bytes) plus a dictionary lookup.
    /// - Throws: ``LogError/corrupt(file:offset:reason:)`` when a record read does not match
    ///   the index; ``LogError/io(file:operation:errno:)``; ``LogError/closed(file:)``.
    public func sealedEntries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [SealedEntry] {
        try checkOpen()
        let numbers = index.records(origin: origin, after: seq, limit: limit)
        var result: [SealedEntry] = []
        result.reserveCapacity(numbers.count)
        var runStart = numbers.startIndex
        while runStart < numbers.endIndex {  // bound: each pass consumes at least one record
            var runEnd = runStart + 1
            while runEnd < numbers.endIndex && numbers[runEnd] == numbers[runEnd - 1] + 1 { runEnd += 1 }
            result += try readSealedRecords(Int(numbers[runStart])..<(Int(numbers[runEnd - 1]) + 1))
            runStart = runEnd
        }
        for (position, sealed) in result.enumerated() {
            let expected = Dot(origin: origin, seq: seq + UInt64(position) + 1)
            guard sealed.entry.dot == expected else {
                let (segment, offset, _) = index.location(of: Int(numbers[numbers.startIndex + position]))
                throw .corrupt(
                    file: files[segment].path, offset: offset,
                    reason: "record holds \(sealed.entry.dot), the index says \(expected)")
            }
        }
        return result
    }

    /// The last `limit` entries in append order (oldest first), for `tradesync log`.
    ///
    /// Shape: `min(limit, entryCount)` entries; none for a `limit` of zero or less.
    /// Complexity: O(returned bytes), one `pread` per MiB.
    /// - Throws: ``LogError/corrupt(file:offset:reason:)``, ``LogError/io(file:operation:errno:)``,
    ///   ``LogError/closed(file:)``.
    public func recent(limit: Int) throws(LogError) -> [Entry] {
        try checkOpen()
        let count = index.count
        return try readRecords(max(0, count - max(0, limit))..<count)
    }

    /// The entries at record numbers `first ..< first + limit` in append order (record 0
    /// is the first entry ever appended), clamped to the log: for `tradesync log --follow`,
    /// which asks for what came after the last entry it printed.
    ///
    /// Shape: none when `first` is at or past ``entryCount`` or `limit` is zero or less.
    /// Complexity: O(returned bytes), one `pread` per MiB.
    /// - Throws: as ``recent(limit:)``.
    public func entries(from first: Int, limit: Int) throws(LogError) -> [Entry] {
        try checkOpen()
        let count = index.count
        let lower = min(max(0, first), count)
        let upper = limit > 0 && lower < count ? lower + min(limit, count - lower) : lower
        return try readRecords(lower..<upper)
    }

    /// Reads and checks the records numbered `numbers`; see ``readSealedRecords(_:)``.
    func readRecords(_ numbers: Range<Int>) throws(LogError) -> [Entry] {
        try readSealedRecords(numbers).map(\.entry)
    }

    /// Reads and checks the records numbered `numbers` (consecutive, so back to back
    /// within each segment), one `pread` per ``readChunkBytesMax`` bytes per segment.
    /// Each record's CRC is checked (so its stored hash and seal are intact too) and it is
    /// decoded.
    func readSealedRecords(_ numbers: Range<Int>) throws(LogError) -> [SealedEntry] {
        precondition(numbers.lowerBound >= 0 && numbers.upperBound <= index.count, "record numbers outside the log")
        var entries: [SealedEntry] = []
        entries.reserveCapacity(numbers.count)
        var lower = numbers.lowerBound
        while lower < numbers.upperBound {  // bound: each pass reads at least one record
            let first = index.run(from: lower, below: numbers.upperBound, bytesMax: readChunkBytesMax)
            let (end, upper) = (first.end, first.upper)
            let file = files[first.segment]
            let bytes = try file.read(at: first.offset, count: end - first.offset)
            var recordStart = 0
            for number in lower..<upper {
                let recordEnd = number + 1 < upper ? Int(index.recordOffsets[number + 1]) - first.offset : bytes.count
                let offset = first.offset + recordStart
                switch LogFormat.parseRecord(bytes, at: recordStart, end: recordEnd, depth: .checksum) {
                case .valid(let entry, let seal, let parsedBytes) where parsedBytes == recordEnd - recordStart:
                    entries.append(SealedEntry(entry, seal: seal))
                case .valid(_, _, let parsedBytes):
                    throw .corrupt(
                        file: file.path, offset: offset,
                        reason: "record is \(parsedBytes) bytes, the index says \(recordEnd - recordStart)")
                case .invalid(let reason):
                    throw .corrupt(file: file.path, offset: offset, reason: reason)
                }
                recordStart = recordEnd
            }
            lower = upper
        }
        return entries
    }
}
