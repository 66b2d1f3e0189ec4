import Logging
import NIOPosix
import TradeSyncClock
import TradeSyncControl
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncSession
import TradeSyncTransport

#if canImport(Glibc)
import Glibc
#endif

/// One live connection as the node tracks it.
struct LinkState {
    let address: String
    let direction: LinkDirection
    let peer: NodeID
    let version: UInt16
    let notify: @Sendable (VersionVector) -> Void
    /// Ends the session on purpose, telling the peer the reason (ERROR `shutdown`).
    let close: @Sendable (String) -> Void
    var peerVector = VersionVector()
    var counters = SessionCounters()
    /// The node ID the peer's TLS certificate proved; nil on an insecure connection.
    var authenticated: NodeID? = nil
}

/// The node: owns the log and the replica, serves sessions and the control socket.
///
/// An actor, so log writes and replica updates happen one at a time. Every write (local,
/// imported or received) is written to the log and applied at once, but nobody is told
/// (no CLI reply, no ACK, nothing sent to a peer) before an fsync covering it returned:
/// concurrent writers share fsyncs (group commit, `Node+Durability.swift`).
public actor Node {
    public let identity: NodeIdentity
    /// The config in effect: as started, with the reloadable keys of the last reload (``reconfigure(_:)``).
    public internal(set) var config: NodeConfig
    /// The log's instance ID, made when the log was created.
    public let logInstanceID: UInt64
    let logger: Logger
    /// The log and the replica; every write goes through it (append + fsync, then apply).
    var core: ReplicaNode<FileLog>
    var replica: Replica { core.replica }
    var log: FileLog { core.store }
    /// Entries in the log.
    var entryCount: Int { log.entryCount }
    var links: [LinkID: LinkState] = [:]
    /// What the node remembers about each peer across restarts (`DATA_DIR/peers.json`).
    var peers: PeerBook
    /// The peer-book record of each connection whose HELLO arrived.
    var linkRecords: [LinkID: String] = [:]
    /// Remote hosts already logged for refusing a connection before its HELLO (garbage,
    /// a port scanner): logged once per host, not once per connection.
    var refusedHosts: Set<String> = []
    /// Peer-book key and reason of each peer refusal warned about since start.
    var warnedPeers: Set<String> = []
    /// Sessions this node closed because a reload removed their peer.
    var closedLocally: Set<LinkID> = []
    /// Set once shutdown began (``beginShutdown()``).
    var stopping = false
    /// Counters of ended sessions, summed per peer.
    var endedTotals: [NodeID: PeerTotals] = [:]
    /// Group commit: appends waiting for an fsync, and the one in flight.
    var commit = GroupCommitState()
    /// Checkpoints: the entries the last one covers, and the one in flight.
    var checkpoints: CheckpointState
    /// `wait` requests parked until the log holds enough entries durably.
    var entryWaiters = EntryWaiters()
    /// Runs fsyncs off the actor (one thread: one fsync in flight at a time).
    let syncPool: NIOThreadPool
    /// Encodes and writes checkpoints off the actor.
    let checkpointPool: NIOThreadPool
    /// Yields once when the node cannot go on (a failed fsync, a corrupt read).
    let failures: AsyncStream<String>
    let failureSink: AsyncStream<String>.Continuation
    /// Why the node stopped serving writes, once it has.
    var fatalReason: String?
    /// Batches refused since start because an entry was forged or altered.
    var forgedBatches = 0
    /// The node's Prometheus metrics (`/metrics`); thread-safe.
    public nonisolated let metrics = NodeMetrics()
    /// When each peer last told its vector (VECTOR, ACK, or a BATCH it sent).
    var peerVectorSeenAt: [NodeID: MonotonicInstant] = [:]

    /// Opens the log in `config.dataDir` and rebuilds the replica: from the checkpoint's
    /// snapshot plus the entries after it, or by a full replay without one.
    /// - Throws: ``LogError`` when the log is corrupt (the message names file and offset).
    public init(identity: NodeIdentity, config: NodeConfig, logger: Logger) throws {
        let started = MonotonicClock.now()
        let log = try FileLog.open(
            directory: config.dataDir, options: LogOptions(segmentBytesMax: config.segmentBytes))
        let opened = MonotonicClock.now()
        var core = try ReplicaNode(localID: identity.nodeID, store: log)
        core.signer = ChainSigner(privateKey: identity.privateKey)
        core.authorization = Authorization(reporters: config.originReporters)
        try Self.restoreGuards(&core, dataDir: config.dataDir, logger: logger)
        log.releaseCheckpoint()
        let recovery = log.recovery
        if recovery.truncatedTailBytes > 0 {
            logger.warning(
                "cut torn tail of \(recovery.truncatedTailBytes) bytes at offset \(recovery.truncatedAtOffset ?? 0) in \(recovery.file); the cut bytes are kept in \(recovery.savedTail ?? "nowhere (read-only)")")
        }
        if let problem = recovery.checkpointProblem ?? core.restore.snapshotProblem, problem != "no checkpoint" {
            logger.warning("checkpoint not used (\(problem)); the state was rebuilt by replaying the whole log")
        }
        logger.info(
            "log open in \(seconds(since: started)) s (state rebuilt in \(seconds(since: opened)) s): \(log.entryCount) entries in \(recovery.segments) segment(s), \(core.restore.fromSnapshot) from the checkpoint, \(core.restore.replayed) replayed; \(core.replica.counts.records) records, vector \(core.replica.vector)")
        self.identity = identity
        self.config = config
        self.logger = logger
        self.core = core
        self.logInstanceID = log.instanceID
        self.checkpoints = CheckpointState(covered: core.restore.fromSnapshot)
        let (book, warning) = PeerBook.load(dataDir: config.dataDir, configured: config.dialTargets.map(\.address.description))
        if let warning { logger.warning("\(warning)") }
        self.peers = book
        syncPool = NIOThreadPool(numberOfThreads: 1)
        syncPool.start()
        checkpointPool = NIOThreadPool(numberOfThreads: 1)
        checkpointPool.start()
        (failures, failureSink) = AsyncStream.makeStream(of: String.self)
    }

    // MARK: Writes

    /// Authors, writes and applies local writes (the path of `tradesync put`); returns
    /// once an fsync covering them returned (group commit), and tells every session.
    /// - Throws: ``NodeError/log(_:)`` (nothing written: a full disk, say);
    ///   ``NodeError/stopped(reason:)`` (an fsync failed; the node is stopping).
    public func writeLocal(_ writes: [(key: TradeKey, operation: Operation)]) async throws(NodeError) -> [Entry] {
        let staged = try core.stageLocal(writes, nowMs: Self.wallClockMs(), deferApply: true)
        startSyncIfIdle()  // the fsync runs on the sync thread while the actor applies
        core.applyDeferred()
        try await waitDurable(staged.ticket)
        metrics.countAppended(staged.entries.count, source: .local)
        return staged.entries
    }

    /// Imports records (one write of those not already held); returns once they are
    /// durable, and tells every session. - Throws: as ``writeLocal(_:)``.
    /// - Parameter decoded: the records came from ``ControlFrame/decodeRecords(_:)``
    ///   (``ReplicaNode/stageImport(_:nowMs:deferApply:recordsDecoded:)``).
    public func importRecords(_ records: [TradeRecord], decoded: Bool = false) async throws(NodeError) -> [Entry] {
        let staged = try core.stageImport(records, nowMs: Self.wallClockMs(), deferApply: true, recordsDecoded: decoded)
        startSyncIfIdle()  // the fsync runs on the sync thread while the actor applies
        core.applyDeferred()
        if !staged.entries.isEmpty { noteIntake() }
        try await waitDurable(staged.ticket)
        metrics.countAppended(staged.entries.count, source: .import)
        return staged.entries
    }

    /// The state digest in hex, as `status` shows it.
    public func digestHex() -> String { Hex.encode(core.digest()) }

    /// fsyncs completed by the group commit, and the writes they released.
    public func groupCommitCounters() -> (syncs: Int, released: Int) { (commit.syncs, commit.released) }

    /// Tells every session the durable vector (they push what their peer lacks).
    func notifyLinks() {
        let vector = core.durableVector
        for link in links.values { link.notify(vector) }
        releaseEntryWaiters()
    }

    static func wallClockMs() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
    }

    /// Waits for the fsync and checkpoint in flight, syncs the log, writes a final
    /// checkpoint (so the next start loads it instead of replaying), closes the log and
    /// stops the worker threads. Called once, at shutdown, after every session ended.
    public func shutdown() async {
        metrics.noteHealth(.stopping)
        await finishBackgroundWork()
        if fatalReason == nil {
            do {
                try log.sync()
                if log.entryCount > checkpoints.covered {
                    let (bytes, seconds) = try Self.writeCheckpoint(replica: core.replica, image: log.checkpointImage())
                    logger.info(
                        "checkpoint at \(log.entryCount) entries: \(bytes) bytes in \(milliseconds(seconds)) ms")
                }
            } catch {
                logger.error("final checkpoint not written: \(error); the next start replays the log instead")
            }
        }
        log.close()
        logger.info("log closed: \(log.entryCount) entries")
        try? await syncPool.shutdownGracefully()
        try? await checkpointPool.shutdownGracefully()
        failureSink.finish()
    }
}

