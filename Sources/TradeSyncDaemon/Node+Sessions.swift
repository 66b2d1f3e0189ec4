import Logging
import TradeSyncClock
import TradeSyncLog
import TradeSyncReplica
import TradeSyncSession
import TradeSyncTransport
import TradeSyncWire

/// The node as its sessions see it (``SessionHost``), and the peer book they keep.
extension Node: SessionHost {
    /// The durable vector: a peer must never be told of an entry a crash could take back.
    public func localVector() -> VersionVector { core.durableVector }

    public func fetch(after: VersionVector, entriesMax: Int, bytesMax: Int) -> [SignedEntry] {
        do { return try core.fetch(after: after, entriesMax: entriesMax, bytesMax: bytesMax) } catch {
            fail("cannot read the log to serve a peer: \(error)")
            return []
        }
    }

    /// Verifies, writes and applies a peer's batch; returns the durable vector for the ACK
    /// once an fsync covers the batch.
    ///
    /// Every new entry must be vouched for by its origin's signature over its chain head
    /// (``ReplicaNode/stageReceived(_:policy:)``); a forged or altered one refuses the whole
    /// batch, marks the peer and closes the session (``SyncError/forgedEntry(_:)``). Entries
    /// the configuration does not authorise are refused and counted (``noteRefusals(_:link:)``).
    /// A received entry whose dot the node holds with other content is a fork: the core
    /// quarantines its origin, and the evidence is stored before the ACK (``recordForks(_:link:)``).
    /// Entries of our own origin that come back (after a restore from a backup) lift the
    /// amnesia guard once they reach the highest claim.
    public func persist(_ entries: [SignedEntry], link: LinkID) async throws -> PersistResult {
        let guarded = core.authoringGuard != nil
        let received: ReceivedBatch
        do {
            received = try core.stageReceived(entries, policy: receivePolicy(link: link), deferApply: true)
        } catch {
            if case .forged = error { throw markForged(error, link: link) }
            throw error
        }
        // The batch's fsync starts on the sync thread now and runs while the actor applies it.
        startSyncIfIdle()
        core.applyDeferred()
        if received.written > 0 { noteIntake() }
        if received.refusals.total > 0 { noteRefusals(received.refusals, link: link) }
        if !received.forks.isEmpty { recordForks(received.forks, link: link) }
        try await waitDurable(received.ticket)
        metrics.countAppended(received.written, source: .received)
        if guarded && core.authoringGuard == nil { saveGuard() }
        return PersistResult(vector: core.durableVector, forks: received.forks.map(\.dot))
    }

    /// Records who is at the other end, with the version range and log instance its HELLO
    /// gave, before negotiation (so a refused peer is remembered too). A log instance that
    /// differs from the one saved means the peer's log was recreated: the progress saved
    /// against the old instance is dropped (the session itself always starts from the
    /// peer's VECTOR, so it is resent everything it lacks, from zero if need be).
    public func peerHello(link: LinkID, direction: LinkDirection, address: String, hello: Hello) {
        let logger = sessionLogger(link, address: address, peer: hello.nodeID)
        guard hello.nodeID != identity.nodeID else { return }
        let key = peers.key(outbound: direction == .outbound, address: address, node: hello.nodeID)
        linkRecords[link] = key
        guard var record = peers[key] else { return }
        let instance = Self.instanceText(hello.logInstanceID)
        if let known = record.nodeID, known != hello.nodeID.hex {
            logger.warning(
                "peer \(address) now answers as node \(hello.nodeID.short), was \(known.prefix(12)): its saved progress is dropped")
            record.knownVector = nil
            record.logInstance = nil
        }
        if let previous = record.logInstance, previous != instance {
            logger.warning(
                "peer \(hello.nodeID.short) at \(address): log instance changed from \(previous) to \(instance) (its log was recreated); progress saved against the old instance dropped, it is resent everything it lacks from zero")
            record.knownVector = nil
        }
        record.nodeID = hello.nodeID.hex
        record.logInstance = instance
        record.peerVersions = ProtocolVersion.text(hello.versions)
        if direction == .inbound && !record.configured { record.address = address }
        update(key, record)
        if record.configured && peers.records.contains(where: { !$0.configured && $0.nodeID == hello.nodeID.hex }) {
            peers.mergeUnconfigured(into: key, node: hello.nodeID.hex)
            do { try peers.save() } catch { logger.warning("peer book not saved: \(error)") }
        }
    }

    public func sessionStarted(
        link: LinkID, direction: LinkDirection, address: String, peer: NodeID, version: UInt16,
        authenticated: NodeID?, notify: @escaping @Sendable (VersionVector) -> Void,
        close: @escaping @Sendable (String) -> Void
    ) -> Bool {
        if stopping { return false }
        let logger = sessionLogger(link, address: address, peer: peer)
        if peer == identity.nodeID {
            recordEnd(link: link, address: address, reason: "connected to itself (node \(peer.short))", refusal: true)
            return false
        }
        // One session per pair. Two nodes that dial each other: keep the connection dialled
        // by the lower node ID. Two connections in the same direction: the newer replaces the
        // older (a reconnect while the old one is half-open; or two machines with one node ID,
        // a cloned data directory, which then take turns, and HEADS find the fork).
        if let (otherID, other) = links.first(where: { $0.value.peer == peer }) {
            if other.direction == direction {
                logger.warning(
                    "node \(peer.short) connected again from \(address) while its session from \(other.address) is up: replacing it (a reconnect, or a cloned data directory on two machines)")
            } else if (direction == .outbound) != (identity.nodeID < peer) {
                return false
            }
            links[otherID] = nil
            endedTotals[peer, default: PeerTotals()].add(other.counters)
            other.close("it replaced this connection with a newer one")
            logger.info("replacing duplicate session with \(peer.short) (\(other.address)) by \(address)")
        }
        links[link] = LinkState(
            address: address, direction: direction, peer: peer, version: version, notify: notify, close: close,
            authenticated: authenticated)
        if let key = linkRecords[link], var record = peers[key] {
            record.lastVersion = Int(version)
            record.lastSessionAt = utcTimestamp()
            record.lastError = nil
            record.lastErrorAt = nil
            update(key, record)
        }
        let security = authenticated.map { "TLS, node \(NodeIDText.full($0)) authenticated" } ?? "insecure"
        logger.info(
            "session with \(peer.short) at \(address) established (protocol v\(version), \(direction.rawValue), \(security))")
        return true
    }

    public func peerVector(link: LinkID, _ vector: VersionVector) {
        guard let peer = links[link]?.peer else { return }
        links[link]?.peerVector = vector
        core.reserve(forCatchUpFrom: vector)
        notePeerVector(from: peer)
        observeOwnOriginClaim(vector, from: peer)
    }

    public func inSync(link: LinkID) {
        guard let state = links[link] else { return }
        sessionLogger(link, address: state.address, peer: state.peer).debug("peer \(state.peer.short) at \(state.address) is in sync at \(replica.vector)")
    }

    public func counters(link: LinkID, _ counters: SessionCounters) {
        links[link]?.counters = counters
    }

    public func sessionEnded(link: LinkID, address: String, reason: String?, error: SyncError?) {
        if let state = links.removeValue(forKey: link) {
            endedTotals[state.peer, default: PeerTotals()].add(state.counters)
            if let key = linkRecords[link], var record = peers[key] {
                record.knownVector = Dictionary(uniqueKeysWithValues: state.peerVector.sorted.map { ($0.0.hex, $0.1) })
                update(key, record)
            }
            sessionLogger(link, address: address, peer: state.peer).info("session with \(state.peer.short) at \(address) ended: \(localCloseReason(link) ?? reason ?? "shutdown")")
        }
        // Closed by this node (stopping, or the peer left the config on a reload): said above.
        if localCloseReason(link) != nil {
            closedLocally.remove(link)
            linkRecords[link] = nil
            return
        }
        if let reason, reason != "duplicate session" {
            recordEnd(
                link: link, address: address, reason: reason, refusal: error?.isPersistentRefusal ?? false,
                orderly: error?.isOrderlyClose ?? false)
        }
        linkRecords[link] = nil
    }

    /// Keeps why a session or dial ended in the peer book. A reason is logged as a warning
    /// once per run, when it first appears for that peer; repeats (every redial meets the
    /// same refusal) go to the debug level only.
    /// An orderly close (the peer said it is stopping, or dropped us from its config) is
    /// logged at info: nothing is wrong.
    private func recordEnd(link: LinkID, address: String, reason: String, refusal: Bool, orderly: Bool = false) {
        let logger = sessionLogger(link, address: address, peer: links[link]?.peer)
        // The transport already logged a TLS refusal as a warning naming the IDs.
        let level: Logger.Level = orderly ? .info : reason.hasPrefix("TLS refused: ") ? .debug : .warning
        guard let key = linkRecords[link] ?? peers.key(configuredAddress: address), var record = peers[key] else {
            // Refused before its HELLO (garbage, a scanner, a TLS client): once per host and
            // reason (the reason without the connection's own port).
            let host = address.split(separator: ":").dropLast().joined(separator: ":")
            if refusedHosts.insert(host + " " + reason).inserted {
                logger.log(level: level, "refused a connection from \(address) before its HELLO: \(reason)")
            } else {
                logger.debug("refused a connection from \(address): \(reason)")
            }
            return
        }
        let name = record.nodeID.map { " (node \($0.prefix(12)))" } ?? ""
        // The losing connection of a mutual dial, or a replaced one: the peer is still
        // connected through another link, so this is no reason to report.
        if let node = record.nodeID, links.values.contains(where: { $0.peer.hex == node }) {
            logger.debug("peer \(record.address)\(name): extra connection ended: \(reason)")
            return
        }
        // Warned once per run (a restart warns again, so the new log says it too).
        if record.lastError != reason || !warnedPeers.contains(key + " " + reason) {
            warnedPeers.insert(key + " " + reason)
            let retry = refusal ? "; redialling with backoff of up to 5 minutes" : ""
            logger.log(level: level, "peer \(record.address)\(name): \(reason)\(retry)")
        } else {
            logger.debug("peer \(record.address)\(name): \(reason) (again)")
        }
        record.lastError = reason
        record.lastErrorAt = utcTimestamp()
        update(key, record)
    }

    /// Why this node closed `link` itself, if it did: not a peer problem to warn about.
    private func localCloseReason(_ link: LinkID) -> String? {
        if stopping { return "closed, this node is stopping" }
        return closedLocally.contains(link) ? "closed, the peer is no longer configured" : nil
    }

    /// The node's logger with the metadata of one session: `peer` (its address), `session`
    /// (the connection's number, as the transport's lines show it; absent for a dial that
    /// never connected) and `node` (the peer's short node ID, once its HELLO told it).
    func sessionLogger(_ link: LinkID, address: String, peer: NodeID?) -> Logger {
        var logger = logger
        logger[metadataKey: "peer"] = "\(address)"
        if link.rawValue != 0 { logger[metadataKey: "session"] = "\(link.rawValue)" }
        if let peer { logger[metadataKey: "node"] = "\(peer.short)" }
        return logger
    }

    /// Replaces a peer-book record and saves the book when it changed. A failed save is
    /// logged, not fatal: the book only remembers what sessions tell again.
    func update(_ key: String, _ record: PeerRecord) {
        guard peers[key] != record else { return }
        peers[key] = record
        do { try peers.save() } catch { logger.warning("peer book not saved: \(error)") }
    }

    /// True unless the peer at `address` is connected through some link: the node `pinned`
    /// there (a `[[peer]]` with its ID), else the one last seen there. With the pin, a peer
    /// that dialled in first is not dialled back even before this node's first session
    /// with it, so two nodes started together do not handshake twice.
    public func shouldDial(_ address: String, pinned: NodeID? = nil) -> Bool {
        if stopping { return false }
        if let pinned { return !links.values.contains { $0.peer == pinned } }
        guard let key = peers.key(configuredAddress: address), let node = peers[key]?.nodeID else { return true }
        return !links.values.contains { $0.peer.hex == node }
    }
}
