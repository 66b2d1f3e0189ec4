import SystemPackage
import TradeSyncClock
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a node keeps the fork evidence it found: one file per forked dot,
/// `DIR/forks/fork-<origin hex (64 digits)>-<seq (decimal)>.bin`, each holding one
/// ``ForkEvidence/encoded()`` (format at the top of `ForkEvidence.swift`).
///
/// Evidence is written before the quarantine it justifies is reported, and loaded at start
/// so that the quarantine survives a restart (``loadAll()``, then
/// `ReplicaNode.quarantine(_:)` for each). Files are never modified or removed here:
/// clearing a quarantine is an operator's decision.
///
/// Durability: ``store(_:)`` writes `NAME.tmp`, fsyncs it, renames it to `NAME` and
/// fsyncs the directory, so a crash leaves either no file or a complete one (a leftover
/// `.tmp` is ignored by ``loadAll()`` and overwritten by the next ``store(_:)``).
///
/// Threading: a value holding a path; each call opens and closes what it needs, so it may
/// run off the node's actor (it blocks on fsync).
public struct ForkEvidenceStore: Sendable {
    /// The subdirectory of the data directory that holds the evidence.
    public static let directoryName = "forks"
    /// Most evidence files ``loadAll()`` reads: one per forked dot, and a forked origin is
    /// quarantined at its first fork, so even a large federation stays far below this.
    public static let filesMax = 65_536

    /// `DIR/forks`.
    public let directoryPath: String

    /// The store under the data directory `dataDirectory` (nothing is touched on disk).
    public init(dataDirectory: String) {
        directoryPath = FilePath(dataDirectory).appending(Self.directoryName).string
    }

    /// `fork-<origin hex>-<seq>.bin` for `dot`.
    public static func fileName(for dot: Dot) -> String { "fork-\(dot.origin.hex)-\(dot.seq).bin" }

    /// The path of the file that holds the evidence for `dot`.
    public func path(for dot: Dot) -> String {
        FilePath(directoryPath).appending(Self.fileName(for: dot)).string
    }

    /// Writes `evidence` durably (temporary file, fsync, rename, directory fsync), creating
    /// `DIR/forks` when needed, unless a file for its dot already exists: the first evidence
    /// of a dot is kept and later ones (a re-send, another peer) are ignored.
    ///
    /// - Returns: true when written, false when a file for the dot was already there.
    /// - Throws: ``LogError/io(file:operation:errno:)`` for mkdir, open, write, fsync or rename.
    @discardableResult
    public func store(_ evidence: ForkEvidence) throws(LogError) -> Bool {
        try LogDirectory.create(directoryPath)
        let directory = try LogDirectory.open(directoryPath)
        defer { directory.close() }
        let path = directory.path(of: Self.fileName(for: evidence.dot))
        if let existing = try LogFile.openExisting(path, readOnly: true) {
            existing.close()
            return false
        }
        try LogFile.createAtomically(
            path, temporaryPath: path + ".tmp", contents: evidence.encoded(), directory: directory)
        return true
    }

    /// Every evidence stored, ordered by dot (origin, then seq). Empty when `DIR/forks`
    /// does not exist. Names other than `fork-*.bin` (a leftover `.tmp`, say) are ignored.
    ///
    /// Complexity: one read of each file (at most ``ForkEvidence/encodedBytesMax`` bytes).
    /// - Throws: ``LogError/corrupt(file:offset:reason:)`` naming the file when a
    ///   `fork-*.bin` file has a name that does not parse, does not decode (bad magic, CRC,
    ///   …, see ``ForkEvidence/decode(_:)``), is too large, or holds another dot than its
    ///   name says; ``LogError/io(file:operation:errno:)`` when the directory or a file
    ///   cannot be read, or it holds more than ``filesMax`` evidence files.
    public func loadAll() throws(LogError) -> [ForkEvidence] {
        let directory: LogDirectory
        do { directory = try LogDirectory.open(directoryPath) } catch {
            if case .io(_, _, let code) = error, code == ENOENT { return [] }
            throw error
        }
        defer { directory.close() }
        let names = try directory.names().filter { $0.hasPrefix("fork-") && $0.hasSuffix(".bin") }.sorted()
        guard names.count <= Self.filesMax else {
            throw .io(
                file: directoryPath, operation: "readdir (more than \(Self.filesMax) evidence files)", errno: EFBIG)
        }
        var result: [ForkEvidence] = []
        result.reserveCapacity(names.count)
        for name in names { result.append(try load(directory.path(of: name), name: name)) }
        return result.sorted { $0.dot < $1.dot }
    }

    /// Reads and checks one evidence file.
    private func load(_ path: String, name: String) throws(LogError) -> ForkEvidence {
        guard let dot = Self.dot(fromName: name) else {
            throw .corrupt(file: path, offset: 0, reason: "fork evidence file name is not fork-<origin hex>-<seq>.bin")
        }
        guard let file = try LogFile.openExisting(path, readOnly: true) else {
            throw .io(file: path, operation: "open", errno: ENOENT)
        }
        defer { file.close() }
        let size = try file.size()
        guard size <= ForkEvidence.encodedBytesMax else {
            throw .corrupt(
                file: path, offset: 0,
                reason: "fork evidence file is \(size) bytes, more than the \(ForkEvidence.encodedBytesMax) it can be")
        }
        let bytes = try file.read(at: 0, count: size)
        let evidence: ForkEvidence
        do { evidence = try ForkEvidence.decode(bytes) } catch {
            throw .corrupt(file: path, offset: error.offset, reason: "fork evidence does not decode: \(error)")
        }
        guard evidence.dot == dot else {
            throw .corrupt(
                file: path, offset: 0, reason: "fork evidence for \(evidence.dot) in the file named for \(dot)")
        }
        return evidence
    }

    /// The dot a file name `fork-<64 hex>-<seq>.bin` names, or nil.
    static func dot(fromName name: String) -> Dot? {
        let stem = name.dropFirst("fork-".count).dropLast(".bin".count)
        let hexDigits = NodeID.byteCount * 2
        guard name.hasPrefix("fork-"), name.hasSuffix(".bin"), stem.count > hexDigits + 1 else { return nil }
        let hex = stem.prefix(hexDigits)
        let rest = stem.dropFirst(hexDigits)
        guard rest.first == "-", let origin = NodeID(hex: hex), let seq = UInt64(rest.dropFirst()), seq > 0,
            fileName(for: Dot(origin: origin, seq: seq)) == name
        else { return nil }
        return Dot(origin: origin, seq: seq)
    }
}

extension DecodeError {
    /// The byte offset the error names.
    var offset: Int {
        switch self {
        case .truncated(let offset, _), .badVarint(let offset), .lengthTooLarge(let offset, _, _), .badUTF8(let offset),
            .badValue(let offset, _, _), .trailingBytes(let offset, _), .limitExceeded(let offset, _, _):
            offset
        }
    }
}
