import SystemPackage
import TradeSyncClock
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How ``FileLog/open(directory:options:)`` opens a log.
public struct LogOptions: Sendable {
    /// A new segment starts when the next batch would take the last one past this many
    /// bytes (64 MiB by default; at least 4 KiB).
    public var segmentBytesMax: Int
    /// Open without creating, locking or modifying anything; appends throw.
    public var readOnly: Bool
    /// Load a valid checkpoint and scan only the records after it; false scans every
    /// record (what `tradesync verify` does).
    public var useCheckpoint: Bool

    public init(segmentBytesMax: Int = 64 << 20, readOnly: Bool = false, useCheckpoint: Bool = true) {
        self.segmentBytesMax = max(4096, segmentBytesMax)
        self.readOnly = readOnly
        self.useCheckpoint = useCheckpoint
    }
}

/// An fsync the group committer runs off the log's owner: ``perform()`` on any thread,
/// then ``FileLog/completeSync(_:errno:)`` on the owner.
public struct LogSyncRequest: Sendable {
    let descriptor: Int32
    let path: String
    /// The records this fsync makes durable: every record written before it was made.
    public let entryCount: Int

    /// `fsync(2)` of the segment, retried on `EINTR`. - Returns: 0 or the errno.
    public func perform() -> Int32 { fsyncRetryingInterrupts(descriptor) }
}

/// The durable, append-only, segmented log of entries in one directory (the file format
/// is described at the top of `LogFormat.swift` and in docs/ARCHITECTURE.md, Storage).
///
/// Shape: entries in log order; per origin, seqs 1, 2, 3, … without gaps (enforced on
/// append and checked on open). An in-memory ``LogIndex`` (offset per record, record per
/// (origin, seq)) serves ranged reads with `pread`.
///
/// Durability: ``write(_:)`` puts a batch in the page cache; it is durable once an fsync
/// made after it returns: ``sync()`` here, or a ``LogSyncRequest`` that a group
/// committer runs for many writes at once. ``append(_:)`` is write + sync.
/// ``durableCount`` and ``durableVector`` say how far that is; only they may be
/// acknowledged. A failed fsync makes every later write throw
/// ``LogError/syncFailed(file:errno:)`` (the state of the page cache is unknown).
///
/// Threading: **not thread-safe and not `Sendable`**. One actor (the daemon) owns the
/// instance and serialises calls; only ``LogSyncRequest/perform()`` and
/// ``LogCheckpointImage/write(state:)`` run elsewhere. A writable log holds an exclusive
/// `flock` on its directory, so a second writer gets ``LogError/locked(directory:)``.
public final class FileLog {
    /// Random, non-zero ID made when the log was created, stored in every segment header.
    /// It changes only when the log is recreated (the amnesia guard uses this).
    public let instanceID: UInt64
    /// What open found: segments, checkpoint, entries scanned, any torn tail cut.
    public let recovery: LogRecovery
    /// The log's directory.
    public let directoryPath: String
    /// True when opened read-only: appends throw and nothing is modified.
    public let isReadOnly: Bool
    let options: LogOptions

    var index: LogIndex
    /// One open file per segment, parallel to `index.segments`.
    var files: [LogFile]
    let directory: LogDirectory
    var isClosed = false
    /// The hash of the last record written (zeros for an empty log).
    public internal(set) var lastHash: [UInt8]
    /// The records made durable by a returned fsync (or found on disk at open).
    public private(set) var durableCount: Int
    /// Origin → highest seq among the first ``durableCount`` records.
    public private(set) var durableVector: VersionVector
    /// The record count and vector after each write not yet durable, oldest first.
    private var pending: [(count: Int, vector: VersionVector)] = []
    /// Set by a failed fsync; every later write throws it.
    private var syncFailure: LogError?
    /// The state loaded from a valid checkpoint; dropped by ``releaseCheckpoint()``.
    public private(set) var checkpoint: LogCheckpoint?

    /// Origin → highest seq written. Since seqs have no gaps, the log holds exactly seqs
    /// `1...vector[origin]` of each origin (the last ones maybe not yet durable).
    public var vector: VersionVector { index.vector }

    /// The number of entries written.
    public var entryCount: Int { index.count }

    /// The path of the segment being appended to.
    public var path: String { files[files.count - 1].path }

    /// The segments' paths, in order.
    public var segmentPaths: [String] { files.map(\.path) }

    init(opened: OpenedLog, directory: LogDirectory, options: LogOptions) {
        self.directory = directory
        self.instanceID = opened.instanceID
        self.index = opened.index
        self.files = opened.files
        self.recovery = opened.recovery
        self.lastHash = opened.lastHash
        self.checkpoint = opened.checkpoint
        self.directoryPath = directory.path
        self.isReadOnly = options.readOnly
        self.options = options
        self.durableCount = opened.index.count
        self.durableVector = opened.index.vector
    }

    deinit {
        if !isClosed {
            for file in files { file.close() }
            directory.close()
        }
    }

    /// Opens the log at `directory`; see ``open(directory:options:)``.
    public static func open(directory path: String, readOnly: Bool = false) throws(LogError) -> FileLog {
        try open(directory: path, options: LogOptions(readOnly: readOnly))
    }

    /// Drops the checkpoint state once the replica has loaded it (it can be large).
    public func releaseCheckpoint() { checkpoint = nil }

    // MARK: Appending

    /// Appends `entries` in order and returns once they are durable: ``write(_:)``, then
    /// ``sync()``. - Throws: as those do.
    public func append(_ entries: [Entry]) throws(LogError) {
        _ = try write(entries)
        try sync()
    }

    /// Writes `entries` in order with one `write(2)` and returns the record count after
    /// them: the batch is durable once ``durableCount`` reaches that number.
    ///
    /// Every entry is checked before anything is written: its seq must be one above the
    /// log's (or the batch's earlier entries') highest seq of its origin, so one batch may
    /// carry seq 5, 6, 7 of one origin. All or nothing: on a write error (`ENOSPC` on a
    /// full disk, say) the segment is cut back to its previous end and the index is
    /// unchanged. A batch that would take the segment past the size limit goes into a new
    /// segment, after an fsync of the old one. An empty batch writes nothing.
    ///
    /// Complexity: O(total bytes) to encode, hash, check and checksum; one `write`.
    /// - Throws: ``LogError/notContiguous(dot:expectedSeq:)``,
    ///   ``LogError/entryTooLarge(bytes:bytesMax:)``, ``LogError/invalidEntry(dot:reason:)``,
    ///   ``LogError/readOnly(file:)``, ``LogError/closed(file:)``,
    ///   ``LogError/syncFailed(file:errno:)`` (nothing written);
    ///   ``LogError/io(file:operation:errno:)`` for write, fsync, lseek, ftruncate or a
    ///   new segment; ``LogError/corrupt(file:offset:reason:)`` when the file shrank.
    public func write(_ entries: [Entry]) throws(LogError) -> Int {
        try write(sealed: entries.map { SealedEntry($0) })
    }

    /// ``write(_:)`` for entries some of which carry their origin's seal (stored in their
    /// records, see `LogFormat.swift`). The seal is stored as given; checking it is the
    /// caller's job (the node verifies before it writes).
    /// - Throws: as ``write(_:)``.
    public func write(sealed: [SealedEntry]) throws(LogError) -> Int {
        try checkOpen()
        guard !isReadOnly else { throw .readOnly(file: path) }
        if let syncFailure { throw syncFailure }
        guard !sealed.isEmpty else { return index.count }
        // Entries are read in place, not mapped out: a copy of an entry retains each of its
        // strings, its context and its bytes, per entry of every batch written.
        let batch = try encode(sealed)
        try restoreEnd()
        if index.last.end + batch.bytes.count > options.segmentBytesMax && index.last.end > LogFormat.headerBytes {
            try startSegment()
        }
        let file = files[files.count - 1]
        let start = index.last.end
        do throws(LogError) {
            try file.append(batch.bytes)
        } catch {
            try? file.truncate(to: start)
            throw error
        }
        index.add(
            contentsOf: sealed.indices.lazy.map { position in
                let offset = start + batch.recordStarts[position]
                let next =
                    position + 1 < sealed.count ? start + batch.recordStarts[position + 1] : start + batch.bytes.count
                return (dot: sealed[position].entry.dot, offset: offset, bytes: next - offset)
            })
        precondition(index.last.end == start + batch.bytes.count, "log end after write")
        lastHash = batch.lastHash
        pending.append((index.count, index.vector))
        return index.count
    }

    /// Makes every written record durable with one fsync, now, on the caller's thread.
    /// - Throws: ``LogError/syncFailed(file:errno:)`` (and from then on for every write).
    public func sync() throws(LogError) {
        try checkOpen()
        if let syncFailure { throw syncFailure }
        guard let request = syncRequest() else { return }
        try completeSync(request, errno: request.perform())
    }

    /// The fsync that would make every written record durable, or nil when all are.
    public func syncRequest() -> LogSyncRequest? {
        guard !isClosed, durableCount < index.count else { return nil }
        let file = files[files.count - 1]
        return LogSyncRequest(descriptor: file.descriptor.rawValue, path: file.path, entryCount: index.count)
    }

    /// Records the outcome of a ``LogSyncRequest``: on success, its records are durable.
    /// - Throws: ``LogError/syncFailed(file:errno:)`` when `errno` is non-zero; the log
    ///   then refuses every later write (the node must restart and recover from disk).
    public func completeSync(_ request: LogSyncRequest, errno: Int32) throws(LogError) {
        // After one failed fsync, a later one that succeeds proves nothing about the
        // pages the failed one lost (the kernel may have dropped them): stay failed.
        if let syncFailure { throw syncFailure }
        guard errno == 0 else {
            let failure = LogError.syncFailed(file: request.path, errno: errno)
            syncFailure = failure
            throw failure
        }
        markDurable(upTo: request.entryCount)
    }

    private func markDurable(upTo count: Int) {
        guard count > durableCount else { return }
        var taken = 0
        while taken < pending.count && pending[taken].count <= count {  // bound: pending's length
            durableVector = pending[taken].vector
            taken += 1
        }
        pending.removeFirst(taken)
        durableCount = count
    }

    /// Seals the last segment (fsync) and starts the next one, created atomically.
    private func startSegment() throws(LogError) {
        let sealed = files[files.count - 1]
        let result = fsyncRetryingInterrupts(sealed.descriptor.rawValue)
        guard result == 0 else {
            let failure = LogError.syncFailed(file: sealed.path, errno: result)
            syncFailure = failure
            throw failure
        }
        markDurable(upTo: index.count)
        let number = index.last.number + 1
        let header = LogFormat.SegmentHeader(instanceID: instanceID, number: number, firstRecord: UInt64(index.count))
        let file = try Self.createSegment(header, in: directory)
        files.append(file)
        index.startSegment()
    }

    /// Creates a segment holding only its header, atomically, and opens it for appending.
    static func createSegment(_ header: LogFormat.SegmentHeader, in directory: LogDirectory) throws(LogError)
        -> LogFile
    {
        let path = directory.path(of: LogFormat.segmentName(header.number))
        try LogFile.createAtomically(
            path, temporaryPath: path + ".tmp", contents: LogFormat.header(header), directory: directory)
        guard let file = try LogFile.openExisting(path, readOnly: false) else {
            throw .io(file: path, operation: "open", errno: ENOENT)
        }
        return file
    }

    /// The records of a batch, back to back, and where each starts in `bytes`.
    private struct EncodedBatch {
        var bytes: [UInt8] = []
        var recordStarts: [Int] = []
        var lastHash: [UInt8] = []
    }

    /// Checks and encodes a batch without touching the file.
    private func encode(_ sealed: [SealedEntry]) throws(LogError) -> EncodedBatch {
        var batch = EncodedBatch()
        batch.recordStarts.reserveCapacity(sealed.count)
        batch.bytes.reserveCapacity(sealed.count * 200)
        var batchSeqs: [NodeID: UInt64] = [:]
        // Batches come in runs of one origin: its last seq is kept at hand, not looked up.
        var run: (origin: NodeID, seq: UInt64)?
        for position in sealed.indices {
            let entry = sealed[position].entry
            let origin = entry.dot.origin
            let previous: UInt64
            if let run, run.origin == origin {
                previous = run.seq
            } else {
                if let run { batchSeqs[run.origin] = run.seq }
                previous = batchSeqs[origin] ?? index.vector[origin]
            }
            let expected = previous &+ 1
            guard entry.dot.seq == expected else { throw .notContiguous(dot: entry.dot, expectedSeq: expected) }
            let payload = entry.encoded()
            guard payload.count <= EntryLimits.entryBytesMax else {
                throw .entryTooLarge(bytes: payload.count, bytesMax: EntryLimits.entryBytesMax)
            }
            // The pair of the check on open: never write a record the scan would reject.
            // Bytes a decode accepted (an entry received or read back) decode again, so only
            // entries made here (local writes, imports) are decoded to check their limits.
            if !entry.wasDecoded {
                let decoded: Entry
                do { decoded = try Entry.decode(payload) } catch {
                    throw .invalidEntry(dot: entry.dot, reason: error.description)
                }
                guard decoded.dot == entry.dot else {
                    throw .invalidEntry(dot: entry.dot, reason: "decodes with dot \(decoded.dot)")
                }
            }
            batch.recordStarts.append(batch.bytes.count)
            LogFormat.appendRecord(
                payload: payload, hash: sealed[position].entryHash, seal: sealed[position].seal,
                continues: position < sealed.count - 1, to: &batch.bytes)
            run = (origin, expected)
        }
        if let last = batch.recordStarts.last { batch.lastHash = LogFormat.storedHash(batch.bytes, at: last) }
        return batch
    }

    /// Makes sure the last segment ends exactly where the index does, cutting what a
    /// failed write may have left.
    private func restoreEnd() throws(LogError) {
        let file = files[files.count - 1]
        let size = try file.size()
        guard size != index.last.end else { return }
        guard size > index.last.end else {
            throw .corrupt(
                file: file.path, offset: size, reason: "file shrank below the log end \(index.last.end) while open")
        }
        try file.truncate(to: index.last.end)
    }

    // MARK: Checkpoints and closing

    /// A frozen copy of the log position now, for a checkpoint of the state at this point
    /// (see ``LogCheckpointImage/write(state:)``).
    public func checkpointImage() -> LogCheckpointImage {
        let file = files[files.count - 1]
        return LogCheckpointImage(
            directory: directory.path, instanceID: instanceID, index: index, lastHash: lastHash,
            syncDescriptor: file.descriptor.rawValue, syncPath: file.path)
    }

    /// Closes every segment and releases the directory lock. Later calls throw
    /// ``LogError/closed(file:)``; closing twice does nothing. Nothing written is lost
    /// when the caller synced first (the daemon does, at shutdown).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        for file in files { file.close() }
        directory.close()
    }

    func checkOpen() throws(LogError) {
        if isClosed { throw .closed(file: path) }
    }
}

@available(*, unavailable)
extension FileLog: Sendable {}
