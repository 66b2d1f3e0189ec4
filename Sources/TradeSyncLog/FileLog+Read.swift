import TradeSyncClock

/// Most bytes one `pread` of a read covers: 1 MiB (records lie back to back, so a run of
/// consecutive records is one read).
let readChunkBytesMax = 1 << 20

/// Entries decoded per step of ``FileLog/replay(_:)``, bounding its memory to about
/// 4096 entries at a time.
let replayChunkRecords = 4096

extension FileLog {
    /// Calls `visit` with every entry in append order (used at start to rebuild the replica).
    ///
    /// Every record is read again and its CRC checked (the read-side half of the pair of
    /// checks; the file was validated on open). Reads 1 MiB at a time.
    ///
    /// Complexity: O(file size).
    /// - Throws: whatever `visit` throws (replay stops there); ``LogError/corrupt(file:offset:reason:)``
    ///   when a record no longer matches what open validated; ``LogError/io(file:operation:errno:)``;
    ///   ``LogError/closed(file:)``.
    public func replay(_ visit: (Entry) throws -> Void) throws {
        try checkOpen()
        let count = index.count
        var lower = 0
        while lower < count {  // bound: lower grows by up to replayChunkRecords per pass
            let upper = min(count, lower + replayChunkRecords)
            for entry in try readRecords(lower..<upper) { try visit(entry) }
            lower = upper
        }
    }

    /// The entries of `origin` with seq in `(after, after + limit]`, ascending by seq.
    ///
    /// Shape: no gaps; fewer than `limit` (possibly none) when the log holds fewer.
    /// A `limit` of zero or less gives none. Served from the index with one `pread` per run
    /// of records that lie back to back in the file (one per 1 MiB for a single-origin log).
    ///
    /// Complexity: O(returned bytes) plus a dictionary lookup.
    /// - Throws: ``LogError/corrupt(file:offset:reason:)`` when a record read does not match
    ///   the index; ``LogError/io(file:operation:errno:)``; ``LogError/closed(file:)``.
    public func entries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [Entry] {
        try checkOpen()
        let numbers = index.records(origin: origin, after: seq, limit: limit)
        var result: [Entry] = []
        result.reserveCapacity(numbers.count)
        var runStart = numbers.startIndex
        while runStart < numbers.endIndex {  // bound: each pass consumes at least one record
            var runEnd = runStart + 1
            while runEnd < numbers.endIndex && numbers[runEnd] == numbers[runEnd - 1] + 1 { runEnd += 1 }
            result += try readRecords(numbers[runStart]..<(numbers[runEnd - 1] + 1))
            runStart = runEnd
        }
        for (position, entry) in result.enumerated() {
            let expected = Dot(origin: origin, seq: seq + UInt64(position) + 1)
            guard entry.dot == expected else {
                let offset = index.recordOffsets[numbers[numbers.startIndex + position]]
                throw .corrupt(
                    file: path, offset: offset, reason: "record holds \(entry.dot), the index says \(expected)")
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

    /// Reads and checks the records numbered `numbers` (consecutive, so back to back in
    /// the file), one `pread` per ``readChunkBytesMax`` bytes.
    func readRecords(_ numbers: Range<Int>) throws(LogError) -> [Entry] {
        precondition(numbers.lowerBound >= 0 && numbers.upperBound <= index.count, "record numbers outside the log")
        var entries: [Entry] = []
        entries.reserveCapacity(numbers.count)
        var lower = numbers.lowerBound
        while lower < numbers.upperBound {  // bound: each pass reads at least one record
            let base = index.recordOffsets[lower]
            var upper = lower + 1
            while upper < numbers.upperBound && index.recordEnd(upper) - base <= readChunkBytesMax { upper += 1 }
            let bytes = try file.read(at: base, count: index.recordEnd(upper - 1) - base)
            for number in lower..<upper {
                let offset = index.recordOffsets[number]
                let recordBytes = index.recordEnd(number) - offset
                switch LogFormat.parseRecord(bytes, at: offset - base, end: offset - base + recordBytes) {
                case .valid(let entry, let parsedBytes) where parsedBytes == recordBytes:
                    entries.append(entry)
                case .valid(_, let parsedBytes):
                    throw .corrupt(
                        file: path, offset: offset,
                        reason:
                            "record is \(parsedBytes) bytes, the index says \(recordBytes) (file changed since open)")
                case .invalid(let reason):
                    throw .corrupt(file: path, offset: offset, reason: "\(reason) (file changed since open)")
                }
            }
            lower = upper
        }
        return entries
    }
}
