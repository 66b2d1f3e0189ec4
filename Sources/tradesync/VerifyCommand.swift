import ArgumentParser
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

#if canImport(Glibc)
import Glibc
#endif

/// `tradesync verify --data-dir DIR`: checks a stopped node's data directory offline.
///
/// Reads every segment read-only and checks every record (length, CRC-32C, the stored
/// SHA-256 entry hash against the payload, the entry's encoding, seqs without gaps per
/// origin, segment headers and their order), rebuilds the state from the whole log with
/// the same code the daemon uses, and prints the counts and the state digest, which
/// equals the digest `status` showed when the node stopped. A checkpoint, when there is
/// one, is checked too: its snapshot must equal the state of the log's first entries it
/// covers. Exits 4 on any damage, naming the file and byte offset; nothing is modified,
/// a torn tail included. A checkpoint the node would not use (stale, another log) is
/// reported but is not damage: the node replays the log instead.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a stopped node's data directory: checksums, hashes, signed chains, replay, checkpoint, counts and digest.")

    @Option(name: .long, help: ArgumentHelp("The node's data directory.", valueName: "dir"))
    var dataDir = "./tradesync-data"

    @Flag(name: .long, help: "Print the result as JSON (pretty-printed, sorted keys).")
    var json = false

    func run() throws(CLIFailure) {
        try refuseWhileRunning()
        let log = try openLog(useCheckpoint: false)
        defer { log.close() }
        var node: ReplicaNode<FileLog>
        do { node = try ReplicaNode(localID: .zero, store: log) } catch {
            throw CLIFailure(.dataFault, "\(log.path): \(error)")
        }
        let checkpoint = try checkCheckpoint()
        let chains: ChainAudit
        do { chains = try log.auditChains() } catch { throw CLIFailure(.dataFault, "\(error)") }
        let report = VerifyReport(log: log, node: &node, dataDir: dataDir, checkpoint: checkpoint, chains: chains)
        try Printer(json: json).emit(report) { report.text }
        if let torn = log.recovery.truncatedAtOffset {
            throw CLIFailure(
                .dataFault,
                "\(log.path): torn tail of \(log.recovery.truncatedTailBytes) bytes at offset \(torn) "
                    + "(a write cut short by a crash; tradesyncd cuts it, keeping a copy, at its next start)")
        }
        if case .mismatch(let reason) = checkpoint {
            throw CLIFailure(.dataFault, "\(dataDir)/checkpoint: \(reason)")
        }
        if let problem = chains.problem {
            throw CLIFailure(.dataFault, "\(log.path): signed chain broken at \(problem)")
        }
    }

    private func openLog(useCheckpoint: Bool) throws(CLIFailure) -> FileLog {
        do { return try FileLog.open(directory: dataDir, options: LogOptions(readOnly: true, useCheckpoint: useCheckpoint)) } catch {
            if case .io(_, _, let code) = error, code == ENOENT {
                throw CLIFailure(.invalidInput, "\(dataDir) holds no TradeSync log (\(error))")
            }
            throw CLIFailure(.dataFault, error.description)
        }
    }

    /// Loads the checkpoint as the node would and compares its snapshot with a replay of
    /// the entries it covers.
    private func checkCheckpoint() throws(CLIFailure) -> CheckpointCheck {
        let log = try openLog(useCheckpoint: true)
        defer { log.close() }
        guard let checkpoint = log.checkpoint else {
            return .unused(log.recovery.checkpointProblem ?? "not loaded")
        }
        var saved: Replica
        do {
            let localID = try Replica.snapshotLocalID(checkpoint.state)
            saved = try Replica.decodeSnapshot(checkpoint.state, localID: localID)
        } catch {
            return .mismatch("its snapshot does not decode: \(error)")
        }
        var replayed = Replica(localID: .zero)
        var applied = 0
        do {
            try log.replay(from: 0) { entry in
                guard applied < checkpoint.entryCount else { return }
                try replayed.apply(entry)
                applied += 1
            }
        } catch {
            throw CLIFailure(.dataFault, "\(log.path): \(error)")
        }
        let savedDigest = saved.digest()
        let replayedDigest = replayed.digest()
        let recomputed = saved.digestsFromScratch()
        guard recomputed.state == savedDigest, recomputed.content == saved.contentDigest() else {
            return .mismatch(
                "its snapshot's stored digest \(Hex.encode(savedDigest)) does not match its keys, which give "
                    + Hex.encode(recomputed.state))
        }
        guard savedDigest == replayedDigest, saved.vector == replayed.vector, saved.counts == replayed.counts else {
            return .mismatch(
                "its snapshot of the first \(checkpoint.entryCount) entries has digest \(Hex.encode(savedDigest)), "
                    + "the log's entries give \(Hex.encode(replayedDigest))")
        }
        return .matches(entries: checkpoint.entryCount)
    }

    /// A running node holds `DIR/LOCK`; verifying under it would race its appends.
    private func refuseWhileRunning() throws(CLIFailure) {
        let fd = open(dataDir + "/LOCK", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK {
            throw CLIFailure(.refused, "\(dataDir) is in use by a running tradesyncd: stop it before verify")
        }
        flock(fd, LOCK_UN)
    }
}

/// What verify found about the checkpoint.
enum CheckpointCheck {
    /// Its snapshot equals the state of the first `entries` entries.
    case matches(entries: Int)
    /// Absent, or one the node would ignore (the reason); not damage.
    case unused(String)
    /// It would be loaded but does not match the log: damage.
    case mismatch(String)

    var text: String {
        switch self {
        case .matches(let entries): "covers \(entries) entries, snapshot matches the log"
        case .unused(let reason): "none used (\(reason)); the node replays the whole log"
        case .mismatch(let reason): "DAMAGED: \(reason)"
        }
    }
}

/// What `verify` prints.
struct VerifyReport: Encodable {
    let dataDir: String
    let log: String
    let logInstance: String
    let segments: Int
    let entries: Int
    let records: Int
    let keys: Int
    let conflicts: Int
    let tombstones: Int
    /// Origin node ID (hex) → highest seq held.
    let vector: [String: UInt64]
    /// The state digest, as `status` shows it.
    let digest: String
    /// The content digest (live records only), as `status` shows it.
    let contentDigest: String
    /// Bytes of a torn tail found after the last whole record (0 when none).
    let tornTailBytes: Int
    /// Entries the checkpoint covers when its snapshot matches; nil otherwise.
    let checkpointEntries: Int?
    /// One line on the checkpoint.
    let checkpoint: String
    /// Origins' signatures checked (each over its chain head, recomputed from the entries).
    let signatures: Int
    /// One line on the signed chains: all verify, or the first fault.
    let chains: String

    init(
        log: FileLog, node: inout ReplicaNode<FileLog>, dataDir: String, checkpoint: CheckpointCheck, chains: ChainAudit
    ) {
        self.dataDir = dataDir
        self.log = log.path
        let digits = String(log.instanceID, radix: 16)
        logInstance = String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        segments = log.recovery.segments
        entries = log.entryCount
        let counts = node.replica.counts
        records = counts.records
        keys = counts.keys
        conflicts = counts.conflicts
        tombstones = counts.tombstones
        var vector: [String: UInt64] = [:]
        for (origin, seq) in node.replica.vector.sorted { vector[origin.hex] = seq }
        self.vector = vector
        digest = Hex.encode(node.digest())
        contentDigest = Hex.encode(node.contentDigest())
        tornTailBytes = log.recovery.truncatedTailBytes
        if case .matches(let covered) = checkpoint { checkpointEntries = covered } else { checkpointEntries = nil }
        self.checkpoint = checkpoint.text
        signatures = chains.signatures
        self.chains =
            chains.problem.map { "BROKEN at \($0)" }
            ?? "\(chains.origins) origin(s): every head recomputed, \(chains.signatures) signature(s) verify"
    }

    enum CodingKeys: String, CodingKey {
        case log, segments, entries, records, keys, conflicts, tombstones, vector, digest, checkpoint, signatures, chains
        case dataDir = "data_dir", logInstance = "log_instance", tornTailBytes = "torn_tail_bytes"
        case checkpointEntries = "checkpoint_entries", contentDigest = "content_digest"
    }

    var text: String {
        labelled(
            [
                ("log", log), ("log instance", logInstance), ("segments", "\(segments)"), ("entries", "\(entries)"),
                ("records", "\(records)"), ("keys", "\(keys)"), ("conflicts", "\(conflicts)"),
                ("tombstones", "\(tombstones)"), ("origins", "\(vector.count)"), ("digest", digest),
                ("content digest", contentDigest),
                (
                    "checksums",
                    tornTailBytes == 0
                        ? "all good (CRC-32C and SHA-256 of every entry)"
                        : "good up to a torn tail of \(tornTailBytes) bytes"
                ),
                ("checkpoint", checkpoint),
                ("signed chains", chains),
            ], indent: "")
    }
}
