import Logging
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
    let close: @Sendable () -> Void
    var peerVector = VersionVector()
    var counters = SessionCounters()
}

/// The node: owns the log and the replica, serves sessions and the control socket.
///
/// An actor, so log appends and replica updates happen one at a time. Every write
/// (local, imported or received) is appended and fsynced before it is applied and before
/// anyone is told: nothing is acknowledged that is not on disk.
public actor Node: SessionHost {
    public let identity: NodeIdentity
    public let config: NodeConfig
    /// The log's instance ID, made when the log was created.
    public let logInstanceID: UInt64
    let logger: Logger
    /// The log and the replica; every write goes through it (append + fsync, then apply).
    var core: ReplicaNode<FileLog>
    var replica: Replica { core.replica }
    var log: FileLog { core.store }
    var links: [LinkID: LinkState] = [:]
    /// Peer node ID learned at each dialled address, so a dialler can stand down while
    /// that peer is connected through another link.
    var peerAtAddress: [String: NodeID] = [:]
    /// Why the last session or dial at an address ended.
    var lastError: [String: String] = [:]
    /// Counters of ended sessions, summed per peer.
    var endedTotals: [NodeID: PeerTotals] = [:]

    /// Opens the log in `config.dataDir`, replays it into a fresh replica.
    /// - Throws: ``LogError`` when the log is corrupt (the message names file and offset).
    public init(identity: NodeIdentity, config: NodeConfig, logger: Logger) throws {
        let log = try FileLog.open(directory: config.dataDir)
        let core = try ReplicaNode(localID: identity.nodeID, store: log)
        if log.recovery.truncatedTailBytes > 0 {
            let recovery = log.recovery
            logger.warning(
                "cut torn tail of \(recovery.truncatedTailBytes) bytes at offset \(recovery.truncatedAtOffset ?? 0) in \(recovery.file); the cut bytes are kept in \(recovery.savedTail ?? "nowhere (read-only)")")
        }
        logger.info(
            "log open: \(log.entryCount) entries, \(core.replica.counts.records) records, vector \(core.replica.vector)")
        self.identity = identity
        self.config = config
        self.logger = logger
        self.core = core
        self.logInstanceID = log.instanceID
    }

    // MARK: Writes

    /// Authors, persists (fsync) and applies local writes, then tells every session.
    func writeLocal(_ writes: [(key: TradeKey, operation: Operation)]) throws(NodeError) -> [Entry] {
        let entries = try core.writeLocal(writes, nowMs: Self.wallClockMs())
        if !entries.isEmpty { notifyLinks() }
        return entries
    }

    /// Imports records (one append, one fsync), then tells every session.
    func importRecords(_ records: [TradeRecord]) throws(NodeError) -> [Entry] {
        let entries = try core.importRecords(records, nowMs: Self.wallClockMs())
        if !entries.isEmpty { notifyLinks() }
        return entries
    }

    func notifyLinks() {
        let vector = replica.vector
        for link in links.values { link.notify(vector) }
    }

    static func wallClockMs() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
    }

    // MARK: SessionHost

    public func localVector() -> VersionVector { replica.vector }

    public func fetch(after: VersionVector, entriesMax: Int, bytesMax: Int) -> [Entry] {
        do { return try core.fetch(after: after, entriesMax: entriesMax, bytesMax: bytesMax) } catch {
            logger.error("cannot read the log to serve a peer: \(error)")
            return []
        }
    }

    public func persist(_ entries: [Entry], link: LinkID) throws -> VersionVector {
        let before = core.replica.vector
        let vector = try core.persist(entries)
        if vector != before { notifyLinks() }
        return vector
    }

    public func sessionStarted(
        link: LinkID, direction: LinkDirection, address: String, peer: NodeID, version: UInt16,
        notify: @escaping @Sendable (VersionVector) -> Void, close: @escaping @Sendable () -> Void
    ) -> Bool {
        if peer == identity.nodeID {
            lastError[address] = "connected to itself (node \(peer.short))"
            return false
        }
        if direction == .outbound { peerAtAddress[address] = peer }
        // One session per pair: keep the connection dialled by the lower node ID.
        if let (otherID, other) = links.first(where: { $0.value.peer == peer }) {
            let keepNew = (direction == .outbound) == (identity.nodeID < peer)
            if !keepNew { return false }
            links[otherID] = nil
            endedTotals[peer, default: PeerTotals()].add(other.counters)
            other.close()
            logger.info("replacing duplicate session with \(peer.short) (\(other.address)) by \(address)")
        }
        links[link] = LinkState(
            address: address, direction: direction, peer: peer, version: version, notify: notify, close: close)
        lastError[address] = nil
        logger.info("session with \(peer.short) at \(address) established (protocol v\(version), \(direction.rawValue))")
        return true
    }

    public func peerVector(link: LinkID, _ vector: VersionVector) {
        links[link]?.peerVector = vector
    }

    public func inSync(link: LinkID) {
        guard let state = links[link] else { return }
        logger.debug("peer \(state.peer.short) at \(state.address) is in sync at \(replica.vector)")
    }

    public func counters(link: LinkID, _ counters: SessionCounters) {
        links[link]?.counters = counters
    }

    public func sessionEnded(link: LinkID, address: String, reason: String?) {
        if let state = links.removeValue(forKey: link) {
            endedTotals[state.peer, default: PeerTotals()].add(state.counters)
            logger.info("session with \(state.peer.short) at \(address) ended: \(reason ?? "shutdown")")
        }
        if let reason, reason != "duplicate session" {
            if lastError[address] != reason { logger.debug("peer \(address): \(reason)") }
            lastError[address] = reason
        }
    }

    /// True unless the peer last seen at `address` is connected through some link.
    public func shouldDial(_ address: String) -> Bool {
        guard let peer = peerAtAddress[address] else { return true }
        return !links.values.contains { $0.peer == peer }
    }

    /// Closes the log (called once, at shutdown, after every session ended).
    public func shutdown() {
        log.close()
        logger.info("log closed: \(log.entryCount) entries")
    }
}

