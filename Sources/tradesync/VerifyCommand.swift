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
/// Reads the whole log read-only (every record's length and CRC-32C, every entry's
/// encoding, seqs without gaps per origin), rebuilds the state from it with the same code
/// the daemon uses, and prints the counts and the state digest, which equals the digest
/// `status` showed when the node stopped. Exits 4 on any damage, naming the file and byte
/// offset; nothing is modified, a torn tail included.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a stopped node's data directory: checksums, replay, counts and state digest.")

    @Option(name: .long, help: ArgumentHelp("The node's data directory.", valueName: "dir"))
    var dataDir = "./tradesync-data"

    @Flag(name: .long, help: "Print the result as JSON (pretty-printed, sorted keys).")
    var json = false

    func run() throws(CLIFailure) {
        try refuseWhileRunning()
        let log: FileLog
        do { log = try FileLog.open(directory: dataDir, readOnly: true) } catch {
            if case .io(_, _, let code) = error, code == ENOENT {
                throw CLIFailure(.invalidInput, "\(dataDir) holds no TradeSync log (\(error))")
            }
            throw CLIFailure(.dataFault, error.description)
        }
        defer { log.close() }
        var node: ReplicaNode<FileLog>
        do { node = try ReplicaNode(localID: .zero, store: log) } catch {
            throw CLIFailure(.dataFault, "\(log.path): \(error)")
        }
        let report = VerifyReport(log: log, node: &node, dataDir: dataDir)
        try Printer(json: json).emit(report) { report.text }
        if let torn = log.recovery.truncatedAtOffset {
            throw CLIFailure(
                .dataFault,
                "\(log.path): torn tail of \(log.recovery.truncatedTailBytes) bytes at offset \(torn) "
                    + "(a write cut short by a crash; tradesyncd cuts it, keeping a copy, at its next start)")
        }
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

/// What `verify` prints.
struct VerifyReport: Encodable {
    let dataDir: String
    let log: String
    let logInstance: String
    let entries: Int
    let records: Int
    let keys: Int
    let conflicts: Int
    let tombstones: Int
    /// Origin node ID (hex) → highest seq held.
    let vector: [String: UInt64]
    /// The state digest, as `status` shows it.
    let digest: String
    /// Bytes of a torn tail found after the last whole record (0 when none).
    let tornTailBytes: Int

    init(log: FileLog, node: inout ReplicaNode<FileLog>, dataDir: String) {
        self.dataDir = dataDir
        self.log = log.path
        logInstance = String(log.instanceID, radix: 16)
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
        tornTailBytes = log.recovery.truncatedTailBytes
    }

    enum CodingKeys: String, CodingKey {
        case log, entries, records, keys, conflicts, tombstones, vector, digest
        case dataDir = "data_dir", logInstance = "log_instance", tornTailBytes = "torn_tail_bytes"
    }

    var text: String {
        labelled(
            [
                ("log", log), ("log instance", logInstance), ("entries", "\(entries)"), ("records", "\(records)"),
                ("keys", "\(keys)"), ("conflicts", "\(conflicts)"), ("tombstones", "\(tombstones)"),
                ("origins", "\(vector.count)"), ("digest", digest),
                ("checksums", tornTailBytes == 0 ? "all good" : "good up to a torn tail of \(tornTailBytes) bytes"),
            ], indent: "")
    }
}
