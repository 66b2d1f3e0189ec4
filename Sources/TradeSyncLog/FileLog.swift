import SystemPackage
import TradeSyncClock
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The durable, append-only log of entries in one directory (`DIR/entries.log`; the
/// file format is described at the top of `LogFormat.swift` and in ARCHITECTURE.md,
/// section Storage).
///
/// Shape: entries in append order; per origin, seqs 1, 2, 3, … without gaps (enforced on
/// append and checked on open). An in-memory index (file offset per record, record per
/// (origin, seq)) serves ranged reads with `pread`.
///
/// Durability: ``append(_:)`` returns only after `fsync`; a crash can tear only a write
/// whose fsync had not returned, and ``open(directory:readOnly:)`` cuts such a torn tail.
///
/// Threading: **not thread-safe and not `Sendable`**. One actor (the daemon) owns the
/// instance and serialises calls. A writable log holds an exclusive `flock` on its
/// directory, so a second writer (process or instance) gets ``LogError/locked(directory:)``.
public final class FileLog {
    /// Random, non-zero ID made when the log file was created and stored in its header.
    /// It changes only when the log is recreated (the amnesia guard uses this).
    public let instanceID: UInt64
    /// What ``open(directory:readOnly:)`` found: entries read and any torn tail cut.
    public let recovery: LogRecovery
    /// The log file's path.
    public let path: String
    /// True when opened with `readOnly: true`: appends throw and nothing is modified.
    public let isReadOnly: Bool

    var index: LogIndex
    let file: LogFile
    let directory: LogDirectory
    var isClosed = false

    /// Origin → highest seq in the log. Since seqs have no gaps, the log holds exactly
    /// seqs `1...vector[origin]` of each origin.
    public var vector: VersionVector { index.vector }

    /// The number of entries in the log.
    public var entryCount: Int { index.count }

    private init(
        file: LogFile, directory: LogDirectory, instanceID: UInt64, index: LogIndex, recovery: LogRecovery,
        readOnly: Bool
    ) {
        self.file = file
        self.directory = directory
        self.instanceID = instanceID
        self.index = index
        self.recovery = recovery
        self.path = file.path
        self.isReadOnly = readOnly
    }

    deinit {
        if !isClosed {
            file.close()
            directory.close()
        }
    }

    /// Opens the log in `directory`, creating the directory (and parents) and an empty log
    /// file with a new ``instanceID`` when absent.
    ///
    /// Scans and validates every record and builds the index. A torn tail (see the format
    /// notes) is cut with `ftruncate` + `fsync` and reported in ``recovery``. With
    /// `readOnly`, nothing is created, locked or modified: a torn tail is only ignored and
    /// reported, and ``append(_:)`` throws ``LogError/readOnly(file:)``.
    ///
    /// Complexity: O(file size), dominated by `Entry.decode`; 100,000 entries (13 MB) take
    /// about 0.25–0.45 s in an optimised build on a loaded 2-core machine.
    /// - Throws: ``LogError/corrupt(file:offset:reason:)`` for damage before the tail (the
    ///   file is left untouched); ``LogError/badHeader(file:reason:)``;
    ///   ``LogError/locked(directory:)``; ``LogError/io(file:operation:errno:)``, e.g.
    ///   `EACCES` for a directory the process may not write.
    public static func open(directory path: String, readOnly: Bool = false) throws(LogError) -> FileLog {
        if !readOnly { try LogDirectory.create(path) }
        let directory = try LogDirectory.open(path)
        var handedOver = false
        defer { if !handedOver { directory.close() } }
        if !readOnly { try directory.lock() }
        let file = try openFile(in: directory, readOnly: readOnly)
        defer { if !handedOver { file.close() } }

        let instanceID = try readOrWriteHeader(file, readOnly: readOnly)
        var scan = LogScan(file: file, size: try file.size())
        let outcome = try scan.run()
        let fileSize = scan.size
        var cutAt: Int?
        var savedTail: String?
        if outcome.tornReason != nil {
            cutAt = outcome.index.end
            if !readOnly {
                // Like etcd's WAL repair: copy the tail aside (durably) before cutting it.
                savedTail = try saveTail(of: file, from: outcome.index.end, size: fileSize, in: directory)
                try file.truncate(to: outcome.index.end)
                try file.sync()
            }
        }
        let recovery = LogRecovery(
            entriesRead: outcome.index.count, truncatedTailBytes: fileSize - outcome.index.end,
            truncatedAtOffset: cutAt, file: file.path, savedTail: savedTail)
        handedOver = true
        return FileLog(
            file: file, directory: directory, instanceID: instanceID, index: outcome.index, recovery: recovery,
            readOnly: readOnly)
    }

    /// Copies bytes `offset..<size` of the log to `entries.log.torn-OFFSET` (written
    /// atomically and fsynced) and returns that path.
    private static func saveTail(of file: LogFile, from offset: Int, size: Int, in directory: LogDirectory)
        throws(LogError) -> String
    {
        let path = directory.path(of: "\(LogFormat.fileName).torn-\(offset)")
        try LogFile.createAtomically(
            path, temporaryPath: directory.path(of: "\(LogFormat.fileName).torn.tmp"),
            contents: try file.read(at: offset, count: size - offset), directory: directory)
        return path
    }

    /// Opens `entries.log`, creating it atomically (header only) when absent and writable.
    private static func openFile(in directory: LogDirectory, readOnly: Bool) throws(LogError) -> LogFile {
        let path = directory.path(of: LogFormat.fileName)
        if let file = try LogFile.openExisting(path, readOnly: readOnly) { return file }
        if readOnly { throw .io(file: path, operation: "open", errno: ENOENT) }
        try LogFile.createAtomically(
            path, temporaryPath: directory.path(of: LogFormat.temporaryFileName),
            contents: LogFormat.header(instanceID: newInstanceID()), directory: directory)
        guard let file = try LogFile.openExisting(path, readOnly: false) else {
            throw .io(file: path, operation: "open", errno: ENOENT)
        }
        return file
    }

    /// Validates the header and returns the instance ID; writes a header into a 0-byte
    /// writable file first.
    private static func readOrWriteHeader(_ file: LogFile, readOnly: Bool) throws(LogError) -> UInt64 {
        let size = try file.size()
        if size == 0 {
            if readOnly {
                throw .badHeader(file: file.path, reason: "file is empty (0 bytes); open it writable to start a log")
            }
            try file.append(LogFormat.header(instanceID: newInstanceID()))
            try file.sync()
        } else if size < LogFormat.headerBytes {
            throw .badHeader(
                file: file.path, reason: "file is \(size) bytes, shorter than the \(LogFormat.headerBytes)-byte header")
        }
        switch LogFormat.instanceID(fromHeader: try file.read(at: 0, count: LogFormat.headerBytes)) {
        case .success(let instanceID): return instanceID
        case .failure(let problem): throw .badHeader(file: file.path, reason: problem.reason)
        }
    }

    private static func newInstanceID() -> UInt64 { UInt64.random(in: 1...UInt64.max) }

    /// Appends `entries` in order and returns once they are durable: one `write` of all
    /// records, then one `fsync`.
    ///
    /// Every entry is checked before anything is written: its seq must be one above the
    /// log's (or the batch's earlier entries') highest seq of its origin, so one batch may
    /// carry seq 5, 6, 7 of one origin. All-or-nothing: on a write or fsync error the file
    /// is truncated back to its previous end (best effort; the next append checks and
    /// repeats this) and the index and ``vector`` are unchanged. An empty batch does nothing.
    ///
    /// Complexity: O(total bytes) to encode, check and checksum; one `write`, one `fsync`.
    /// - Throws: ``LogError/notContiguous(dot:expectedSeq:)``,
    ///   ``LogError/entryTooLarge(bytes:bytesMax:)``, ``LogError/invalidEntry(dot:reason:)``,
    ///   ``LogError/readOnly(file:)``, ``LogError/closed(file:)`` (nothing written);
    ///   ``LogError/io(file:operation:errno:)`` for write, fsync, lseek or ftruncate;
    ///   ``LogError/corrupt(file:offset:reason:)`` when the file shrank under the log.
    public func append(_ entries: [Entry]) throws(LogError) {
        try checkOpen()
        guard !isReadOnly else { throw .readOnly(file: path) }
        guard !entries.isEmpty else { return }
        let batch = try encode(entries)
        try restoreEnd()
        let start = index.end
        do throws(LogError) {
            try file.append(batch.bytes)
            try file.sync()
        } catch {
            try? file.truncate(to: start)
            _ = fsyncRetryingInterrupts(file.descriptor.rawValue)
            throw error
        }
        for (position, entry) in entries.enumerated() {
            let offset = start + batch.recordStarts[position]
            let next =
                position + 1 < entries.count ? start + batch.recordStarts[position + 1] : start + batch.bytes.count
            index.add(entry.dot, offset: offset, bytes: next - offset)
        }
        precondition(index.end == start + batch.bytes.count, "log end after append")
    }

    /// The records of a batch, back to back, and where each starts in `bytes`.
    private struct EncodedBatch {
        var bytes: [UInt8] = []
        var recordStarts: [Int] = []
    }

    /// Checks and encodes a batch without touching the file.
    private func encode(_ entries: [Entry]) throws(LogError) -> EncodedBatch {
        var batch = EncodedBatch()
        batch.recordStarts.reserveCapacity(entries.count)
        batch.bytes.reserveCapacity(entries.count * 160)
        var batchSeqs: [NodeID: UInt64] = [:]
        for entry in entries {
            let origin = entry.dot.origin
            let expected = (batchSeqs[origin] ?? index.vector[origin]) &+ 1
            guard entry.dot.seq == expected else { throw .notContiguous(dot: entry.dot, expectedSeq: expected) }
            let payload = entry.encoded()
            guard payload.count <= EntryLimits.entryBytesMax else {
                throw .entryTooLarge(bytes: payload.count, bytesMax: EntryLimits.entryBytesMax)
            }
            // The pair of the check on open: never write a record the scan would reject.
            let decoded: Entry
            do { decoded = try Entry.decode(payload) } catch {
                throw .invalidEntry(dot: entry.dot, reason: error.description)
            }
            guard decoded.dot == entry.dot else {
                throw .invalidEntry(dot: entry.dot, reason: "decodes with dot \(decoded.dot)")
            }
            batch.recordStarts.append(batch.bytes.count)
            LogFormat.appendRecord(payload: payload, to: &batch.bytes)
            batchSeqs[origin] = expected
        }
        return batch
    }

    /// Makes sure the file ends exactly where the index does, cutting what a failed
    /// append may have left.
    private func restoreEnd() throws(LogError) {
        let size = try file.size()
        guard size != index.end else { return }
        guard size > index.end else {
            throw .corrupt(file: path, offset: size, reason: "file shrank below the log end \(index.end) while open")
        }
        try file.truncate(to: index.end)
        try file.sync()
    }

    /// Closes the file and releases the directory lock. Later calls throw
    /// ``LogError/closed(file:)``; closing twice does nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        file.close()
        directory.close()
    }

    func checkOpen() throws(LogError) {
        if isClosed { throw .closed(file: path) }
    }
}

@available(*, unavailable)
extension FileLog: Sendable {}
