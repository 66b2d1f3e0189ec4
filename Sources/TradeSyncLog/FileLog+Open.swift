import SystemPackage
import TradeSyncClock

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the open sequence hands to ``FileLog``.
struct OpenedLog {
    var instanceID: UInt64
    var index: LogIndex
    var files: [LogFile]
    var recovery: LogRecovery
    var lastHash: [UInt8]
    var checkpoint: LogCheckpoint?
}

extension FileLog {
    /// Opens the log in `directory`, creating the directory (and parents) and a first,
    /// empty segment with a new ``instanceID`` when there is no log yet.
    ///
    /// Checks every segment header, loads a valid checkpoint (unless
    /// `options.useCheckpoint` is false), checks the CRC of every record it covers
    /// (no decoding: ``verifyChecksums(of:files:)``) and scans the records after it, or
    /// all records without one (rules at the top of `LogFormat.swift`). A torn tail of the last segment
    /// is copied aside to `SEGMENT.torn-OFFSET`, then cut (`ftruncate` + `fsync`), and
    /// reported in ``recovery``. Leftover `.tmp` files are removed. Read-only, nothing is
    /// created, locked or modified: a torn tail is only reported.
    ///
    /// Complexity: O(bytes after the checkpoint) for the scan (CRC, SHA-256, decode), plus
    /// O(bytes before it) for the CRC pass and O(records) to load the checkpoint's index.
    /// - Throws: ``LogError/corrupt(file:offset:reason:)`` for damage before the tail or
    ///   in a sealed segment (no file is modified); ``LogError/badHeader(file:reason:)``
    ///   for a header that is invalid or does not belong, a missing segment, or a
    ///   format-1 log; ``LogError/locked(directory:)``; ``LogError/io(file:operation:errno:)``,
    ///   e.g. `EACCES` or `EROFS` for a directory the process may not write, `ENOENT`
    ///   read-only when there is no log.
    public static func open(directory path: String, options: LogOptions) throws(LogError) -> FileLog {
        if !options.readOnly { try LogDirectory.create(path) }
        let directory = try LogDirectory.open(path)
        var handedOver = false
        defer { if !handedOver { directory.close() } }
        if !options.readOnly { try directory.lock() }
        var opener = LogOpener(directory: directory, options: options)
        defer { if !handedOver { for file in opener.files { file.close() } } }
        let opened = try opener.run()
        handedOver = true
        return FileLog(opened: opened, directory: directory, options: options)
    }
}

/// The open sequence: list, create or check segments, load the checkpoint, scan.
struct LogOpener {
    let directory: LogDirectory
    let options: LogOptions
    /// Every segment opened so far (closed by the caller on failure).
    var files: [LogFile] = []

    init(directory: LogDirectory, options: LogOptions) {
        self.directory = directory
        self.options = options
    }

    mutating func run() throws(LogError) -> OpenedLog {
        let names = try directory.names()
        if names.contains(LogFormat.legacyFileName) {
            throw .badHeader(
                file: directory.path(of: LogFormat.legacyFileName),
                reason: "a format-1 log (one file, no entry hashes); this build reads format-2 segments only")
        }
        if !options.readOnly {
            // Only the log's own temporaries: the data directory holds other files too.
            for name in names where Self.isLogTemporary(name) { _ = unlink(directory.path(of: name)) }
        }
        var numbers = names.compactMap(LogFormat.segmentNumber(fromName:)).sorted()
        if numbers.isEmpty {
            if options.readOnly { throw .io(file: directory.path(of: LogFormat.segmentName(1)), operation: "open", errno: ENOENT) }
            let header = LogFormat.SegmentHeader(
                instanceID: UInt64.random(in: 1...UInt64.max), number: 1, firstRecord: 0)
            files.append(try FileLog.createSegment(header, in: directory))
            numbers = [1]
        } else {
            for (position, number) in numbers.enumerated() {
                if position > 0 && number != numbers[position - 1] + 1 {
                    throw .badHeader(
                        file: directory.path(of: LogFormat.segmentName(numbers[position - 1] + 1)),
                        reason: "segment missing: the log has segments \(numbers[position - 1]) and \(number)")
                }
                let writable = !options.readOnly && position == numbers.count - 1
                let path = directory.path(of: LogFormat.segmentName(number))
                guard let file = try LogFile.openExisting(path, readOnly: !writable) else {
                    throw .io(file: path, operation: "open", errno: ENOENT)
                }
                files.append(file)
            }
        }
        var headers: [LogFormat.SegmentHeader] = []
        var sizes: [Int] = []
        for (position, file) in files.enumerated() {
            let (header, size) = try readHeader(file)
            guard header.number == numbers[position] else {
                throw .badHeader(file: file.path, reason: "header names segment \(header.number)")
            }
            if let first = headers.first, header.instanceID != first.instanceID {
                throw .badHeader(
                    file: file.path,
                    reason: "segment of another log (instance \(hex(header.instanceID)), expected \(hex(first.instanceID)))")
            }
            headers.append(header)
            sizes.append(size)
        }
        return try scan(headers: headers, sizes: sizes)
    }

    /// True for a temporary file the log writes: `segment-N.log.tmp` (a new segment),
    /// `segment-N.log.torn.tmp` (a torn tail being saved) or `checkpoint.tmp`.
    static func isLogTemporary(_ name: String) -> Bool {
        if name == CheckpointFormat.temporaryFileName { return true }
        for suffix in [".tmp", ".torn.tmp"] where name.hasSuffix(suffix) {
            if LogFormat.segmentNumber(fromName: String(name.dropLast(suffix.count))) != nil { return true }
        }
        return false
    }

    /// Loads the checkpoint if it belongs, then scans every record after it.
    private mutating func scan(headers: [LogFormat.SegmentHeader], sizes: [Int]) throws(LogError) -> OpenedLog {
        let instanceID = headers[0].instanceID
        var checkpointProblem: String?
        var loaded: (index: LogIndex, lastHash: [UInt8], state: [UInt8])?
        if options.useCheckpoint {
            switch try loadCheckpoint(instanceID: instanceID, headers: headers, sizes: sizes) {
            case .success(let value): loaded = value
            case .failure(let problem): checkpointProblem = problem.reason
            }
        }
        if let loaded { try verifyChecksums(of: loaded.index, files: files) }
        var index = loaded?.index ?? LogIndex(firstSegment: headers[0].number)
        var lastHash = loaded?.lastHash ?? [UInt8](repeating: 0, count: LogFormat.hashBytes)
        let covered = index.count
        var position = index.segments.count - 1
        var tornReason: String?
        while true {  // bound: one pass per segment
            let file = files[position]
            guard headers[position].firstRecord == UInt64(index.last.firstRecord) else {
                throw .badHeader(
                    file: file.path,
                    reason: "header says the segment starts at record \(headers[position].firstRecord), "
                        + "the earlier segments hold \(index.last.firstRecord)")
            }
            var scanner = LogScan(file: file, size: sizes[position])
            let before = index.count
            tornReason = try scanner.run(into: &index, sealed: position < files.count - 1)
            if index.count > before, let hash = try lastRecordHash(index) { lastHash = hash }
            position += 1
            if position == files.count { break }
            index.startSegment()
        }
        let last = files[files.count - 1]
        let size = sizes[sizes.count - 1]
        var savedTail: String?
        if tornReason != nil && !options.readOnly {
            // Like etcd's WAL repair: copy the tail aside (durably) before cutting it.
            let cut = index.last.end
            savedTail = last.path + ".torn-\(cut)"
            try LogFile.createAtomically(
                last.path + ".torn-\(cut)", temporaryPath: last.path + ".torn.tmp",
                contents: try last.read(at: cut, count: size - cut), directory: directory)
            try last.truncate(to: cut)
            try last.sync()
        }
        let recovery = LogRecovery(
            entriesRead: index.count, truncatedTailBytes: size - index.last.end,
            truncatedAtOffset: tornReason == nil ? nil : index.last.end, file: last.path, savedTail: savedTail,
            segments: files.count, checkpointEntries: loaded == nil ? nil : covered,
            entriesScanned: index.count - covered, checkpointProblem: checkpointProblem)
        return OpenedLog(
            instanceID: instanceID, index: index, files: files, recovery: recovery, lastHash: lastHash,
            checkpoint: loaded.map { LogCheckpoint(entryCount: covered, state: $0.state) })
    }

    /// The checkpoint, if there is one and it belongs to this log.
    ///
    /// A checkpoint that is absent, unreadable, damaged (CRC) or of another log instance
    /// is a `.failure` with the reason: ignored, the log is scanned in full. One that
    /// belongs to this log but covers records the log no longer holds intact (a segment
    /// missing or shorter than its position, a changed sealed segment, a last covered
    /// record that fails its CRC or carries another hash) means durable, acknowledged
    /// entries were lost or altered on disk: that throws, naming the file and offset.
    /// - Throws: `corrupt` or `badHeader` as above; `io` on read errors of the log.
    private func loadCheckpoint(instanceID: UInt64, headers: [LogFormat.SegmentHeader], sizes: [Int])
        throws(LogError) -> Result<(index: LogIndex, lastHash: [UInt8], state: [UInt8]), HeaderProblem>
    {
        let path = directory.path(of: CheckpointFormat.fileName)
        let bytes: [UInt8]
        do {
            guard let file = try LogFile.openExisting(path, readOnly: true) else {
                return .failure(HeaderProblem(reason: "no checkpoint"))
            }
            defer { file.close() }
            bytes = try file.read(at: 0, count: try file.size())
        } catch {
            return .failure(HeaderProblem(reason: "\(path) unreadable: \(error)"))
        }
        let decoded: CheckpointFormat.Decoded
        switch CheckpointFormat.decode(bytes) {
        case .success(let value): decoded = value
        case .failure(let problem): return .failure(HeaderProblem(reason: "\(path): \(problem.reason)"))
        }
        guard decoded.instanceID == instanceID else {
            return .failure(HeaderProblem(reason: "\(path) belongs to log instance \(hex(decoded.instanceID))"))
        }
        let segments = decoded.index.segments
        let lost = "; the checkpoint proves these records were durable: the log lost or changed acknowledged entries"
        guard segments.count <= headers.count else {
            throw .badHeader(
                file: directory.path(of: LogFormat.segmentName(segments[segments.count - 1].number)),
                reason: "missing: \(path) covers records in it" + lost)
        }
        for (position, segment) in segments.enumerated() {
            let file = files[position]
            guard segment.number == headers[position].number,
                UInt64(segment.firstRecord) == headers[position].firstRecord
            else {
                throw .badHeader(
                    file: file.path,
                    reason: "\(path) records segment \(segment.number) from record \(segment.firstRecord) here" + lost)
            }
            let sealed = position < segments.count - 1
            guard segment.end <= sizes[position] else {
                throw .corrupt(
                    file: file.path, offset: sizes[position],
                    reason: "the file ends before byte \(segment.end), where \(path) says its records end" + lost)
            }
            guard !sealed || segment.end == sizes[position] else {
                throw .corrupt(
                    file: file.path, offset: segment.end,
                    reason: "bytes after the end of a sealed segment (\(path) says it ends here)")
            }
        }
        if let hash = try lastRecordHash(decoded.index), hash != decoded.lastHash {
            let (segment, offset, _) = decoded.index.location(of: decoded.index.count - 1)
            throw .corrupt(
                file: files[segment].path, offset: offset,
                reason: "this record's hash differs from the one \(path) recorded for it" + lost)
        }
        return .success((decoded.index, decoded.lastHash, decoded.state))
    }

    /// The stored hash of the index's last record, after checking its CRC; nil when the
    /// index holds no record.
    /// - Throws: `corrupt` naming the record's segment and offset.
    private func lastRecordHash(_ index: LogIndex) throws(LogError) -> [UInt8]? {
        guard index.count > 0 else { return nil }
        let (segment, offset, end) = index.location(of: index.count - 1)
        let file = files[segment]
        let bytes = try file.read(at: offset, count: end - offset)
        guard case .valid = LogFormat.parseRecord(bytes, at: 0, end: bytes.count, depth: .checksum) else {
            throw .corrupt(
                file: file.path, offset: offset, reason: "the last record the checkpoint covers fails its check")
        }
        return LogFormat.storedHash(bytes, at: 0)
    }

    /// Validates a segment's header and returns it with the file's size.
    private func readHeader(_ file: LogFile) throws(LogError) -> (LogFormat.SegmentHeader, Int) {
        let size = try file.size()
        guard size >= LogFormat.headerBytes else {
            throw .badHeader(
                file: file.path, reason: "file is \(size) bytes, shorter than the \(LogFormat.headerBytes)-byte header")
        }
        switch LogFormat.parseHeader(try file.read(at: 0, count: LogFormat.headerBytes)) {
        case .success(let header): return (header, size)
        case .failure(let problem): throw .badHeader(file: file.path, reason: problem.reason)
        }
    }

    private func hex(_ value: UInt64) -> String { String(value, radix: 16) }
}
