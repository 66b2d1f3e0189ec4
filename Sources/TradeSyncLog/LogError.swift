import SystemPackage
import TradeSyncClock

/// Why a log operation failed. Each case names the file (the path as given to
/// ``FileLog/open(directory:options:)`` plus the file name) and, where there is one,
/// the byte offset from the start of that file.
///
/// Refusals (`notContiguous`, `entryTooLarge`, `invalidEntry`, `readOnly`, `closed`) leave
/// the log exactly as it was. `corrupt` and `badHeader` from ``FileLog/open(directory:options:)``
/// mean the node must stop: the file was not modified and needs an operator.
public enum LogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A record before the tail is damaged (bad length, CRC mismatch, undecodable entry,
    /// or a sequence gap), or the file changed under the open log. `offset` is the byte
    /// offset of the record's length field.
    case corrupt(file: String, offset: Int, reason: String)
    /// A system call failed. `operation` names it (`open`, `write`, `fsync`, …);
    /// `errno` is the raw POSIX error number.
    case io(file: String, operation: String, errno: Int32)
    /// The file header is missing, truncated, or not a TradeSync log of a known version.
    case badHeader(file: String, reason: String)
    /// An appended entry's seq is not one above what the log holds for its origin.
    case notContiguous(dot: Dot, expectedSeq: UInt64)
    /// An appended entry's canonical encoding exceeds ``EntryLimits/entryBytesMax`` bytes.
    case entryTooLarge(bytes: Int, bytesMax: Int)
    /// An appended entry's encoding would not decode again (e.g. a field over its limit),
    /// so writing it would plant a corrupt record.
    case invalidEntry(dot: Dot, reason: String)
    /// The log was opened read-only and cannot be appended to.
    case readOnly(file: String)
    /// Another process (or another open ``FileLog``) holds the log's directory lock.
    case locked(directory: String)
    /// The log was used after ``FileLog/close()``.
    case closed(file: String)
    /// An fsync failed (`errno`); what the page cache holds is unknown, so the log
    /// refuses every write until the node restarts and recovers from what is on disk.
    case syncFailed(file: String, errno: Int32)

    /// One line naming the condition, the file or entry, and the offset or limit.
    public var description: String {
        switch self {
        case .corrupt(let file, let offset, let reason):
            "log corrupt: \(file) at byte offset \(offset): \(reason)"
        case .io(let file, let operation, let errno):
            "log I/O error: \(operation) \(file): \(Errno(rawValue: errno).description) (errno \(errno))"
        case .badHeader(let file, let reason):
            "log header invalid: \(file): \(reason)"
        case .notContiguous(let dot, let expectedSeq):
            "log append refused: entry \(dot) is not contiguous, expected seq \(expectedSeq)"
        case .entryTooLarge(let bytes, let bytesMax):
            "log append refused: entry of \(bytes) bytes exceeds the maximum of \(bytesMax) bytes"
        case .invalidEntry(let dot, let reason):
            "log append refused: entry \(dot) does not round-trip: \(reason)"
        case .readOnly(let file):
            "log is open read-only: \(file)"
        case .locked(let directory):
            "log directory is in use by another process or log instance: \(directory)"
        case .closed(let file):
            "log is closed: \(file)"
        case .syncFailed(let file, let errno):
            "log fsync failed: \(file): \(Errno(rawValue: errno).description) (errno \(errno)); "
                + "writes are refused until the node restarts and recovers from disk"
        }
    }
}

/// What ``FileLog/open(directory:options:)`` found while opening the log.
///
/// A torn tail is a partial or garbled last write (a crash before its fsync returned);
/// it was never acknowledged, so cutting it loses nothing that was promised. The daemon
/// logs a non-zero ``truncatedTailBytes`` as "cut torn tail of N bytes at offset X".
public struct LogRecovery: Sendable, Equatable {
    /// Valid entries in the log after open (from the checkpoint plus scanned).
    public let entriesRead: Int
    /// Bytes cut from the end of the last segment (0 when it ended on a record boundary).
    /// In read-only mode the bytes are ignored rather than cut.
    public let truncatedTailBytes: Int
    /// The offset in the last segment where the cut was made, or nil.
    public let truncatedAtOffset: Int?
    /// The last segment (the one a torn tail is cut from).
    public let file: String
    /// Where the cut bytes were copied before the cut (`SEGMENT.torn-OFFSET`), so that
    /// nothing is ever destroyed unseen; nil when nothing was cut.
    public let savedTail: String?
    /// Segment files in the log.
    public let segments: Int
    /// Entries covered by the checkpoint that was loaded; nil when none was.
    public let checkpointEntries: Int?
    /// Entries scanned (checked and decoded) at open: those after the checkpoint.
    public let entriesScanned: Int
    /// Why a checkpoint was not used (absent, stale, damaged, another log); nil when one
    /// was, or when checkpoints were not asked for.
    public let checkpointProblem: String?

    /// Creates a report; normally only ``FileLog`` makes these.
    public init(
        entriesRead: Int, truncatedTailBytes: Int, truncatedAtOffset: Int?, file: String, savedTail: String? = nil,
        segments: Int = 1, checkpointEntries: Int? = nil, entriesScanned: Int? = nil, checkpointProblem: String? = nil
    ) {
        self.entriesRead = entriesRead
        self.truncatedTailBytes = truncatedTailBytes
        self.truncatedAtOffset = truncatedAtOffset
        self.file = file
        self.savedTail = savedTail
        self.segments = segments
        self.checkpointEntries = checkpointEntries
        self.entriesScanned = entriesScanned ?? entriesRead
        self.checkpointProblem = checkpointProblem
    }
}
