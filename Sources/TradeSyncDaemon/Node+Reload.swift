import Logging
import TradeSyncClock
import TradeSyncReplica
import TradeSyncTransport

/// One peer the node dials: its address and, over TLS, the node ID pinned for it.
public struct DialTarget: Sendable, Hashable, CustomStringConvertible {
    public let address: PeerAddress
    public let expected: NodeID?

    public init(address: PeerAddress, expected: NodeID?) {
        self.address = address
        self.expected = expected
    }

    public var description: String {
        expected.map { "\(NodeIDText.short($0))@\(address)" } ?? address.description
    }
}

extension NodeConfig {
    /// The peers to dial, as ``DialTarget``s in config order.
    public var dialTargetSet: [DialTarget] { dialTargets.map { DialTarget(address: $0.address, expected: $0.expected) } }

    /// The keys that differ from `other` and only take effect at the next start (the
    /// listener, the data directory and the control socket are bound once).
    public func restartOnlyChanges(from other: NodeConfig) -> [String] {
        var changed: [String] = []
        if dataDir != other.dataDir { changed.append("data_dir") }
        if listen != other.listen { changed.append("listen") }
        if controlPath != other.controlPath { changed.append("control") }
        if controlGroup != other.controlGroup { changed.append("control_group") }
        if insecure != other.insecure { changed.append("insecure") }
        if insecureForce != other.insecureForce { changed.append("insecure_force") }
        if segmentBytes != other.segmentBytes { changed.append("segment_bytes") }
        if metrics != other.metrics { changed.append("metrics") }
        return changed
    }
}

/// What a config reload changed (``Node/reconfigure(_:)``).
public struct ReloadOutcome: Sendable, Equatable {
    /// Peers now dialled that were not before.
    public var added: [DialTarget] = []
    /// Peers no longer dialled.
    public var removed: [DialTarget] = []
    /// Sessions closed because their peer is no longer configured (or no longer pinned).
    public var closedSessions: [String] = []
    /// Keys that changed but take effect only at the next start.
    public var restartOnly: [String] = []
    /// The log level before and after, when it changed.
    public var logLevel: (from: String, to: String)?

    public static func == (lhs: ReloadOutcome, rhs: ReloadOutcome) -> Bool {
        lhs.added == rhs.added && lhs.removed == rhs.removed && lhs.closedSessions == rhs.closedSessions
            && lhs.restartOnly == rhs.restartOnly && lhs.logLevel?.from == rhs.logLevel?.from
            && lhs.logLevel?.to == rhs.logLevel?.to
    }

    /// One line for the log: what changed, or that nothing did.
    public var summary: String {
        var parts: [String] = []
        if !added.isEmpty { parts.append("dialling \(added.map(\.description).joined(separator: ", "))") }
        if !removed.isEmpty { parts.append("no longer dialling \(removed.map(\.description).joined(separator: ", "))") }
        if !closedSessions.isEmpty {
            parts.append("closed \(closedSessions.count) session(s) of peers no longer configured (\(closedSessions.joined(separator: ", ")))")
        }
        if let logLevel { parts.append("log level \(logLevel.from) → \(logLevel.to)") }
        if !restartOnly.isEmpty {
            parts.append("changed \(restartOnly.joined(separator: ", ")): takes effect at the next restart")
        }
        return parts.isEmpty ? "no change" : parts.joined(separator: "; ")
    }
}

extension Node {
    /// Marks the node as stopping: sessions that end from now on were closed by this
    /// node, and are logged as such rather than as peer failures.
    /// Every session is closed with ERROR `shutdown` ("it is stopping": the reason is
    /// written for the peer, which logs "closed by the peer: it is stopping"), so peers
    /// log an orderly close rather than a failure; returns once they all ended, or after
    /// `grace` (a peer that does not answer).
    public func beginShutdown(grace: Duration = .seconds(2)) async {
        stopping = true
        metrics.noteHealth(.stopping)
        abandonEntryWaiters("the node is stopping")
        for link in links.values { link.close("it is stopping") }
        let deadline = ContinuousClock.now + grace
        while !links.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Applies a re-read config (SIGHUP): the peer list (`[[peer]]`, `peers`, with their
    /// pins and `origins`), `[[origin]]` reporters, `checkpoint_entries` and `log_level`
    /// take effect now; the keys bound at start (``NodeConfig/restartOnlyChanges(from:)``)
    /// keep their running values and are reported.
    ///
    /// Sessions with peers that stay configured are untouched. A session is closed when
    /// its peer left the config: an outbound session to an address no longer dialled (or
    /// now pinned to another ID), or over TLS any session whose proven node ID is no
    /// longer pinned. The caller starts and stops the dials (``ReloadOutcome/added``,
    /// ``ReloadOutcome/removed``) and updates the transport's pins.
    public func reconfigure(_ new: NodeConfig) -> ReloadOutcome {
        var outcome = ReloadOutcome()
        let before = config.dialTargetSet
        let after = new.dialTargetSet
        outcome.added = after.filter { !before.contains($0) }
        outcome.removed = before.filter { !after.contains($0) }
        outcome.restartOnly = new.restartOnlyChanges(from: config)
        if new.logLevel != config.logLevel { outcome.logLevel = (config.logLevel, new.logLevel) }

        config.pinnedPeers = new.pinnedPeers
        config.peers = new.peers
        config.originReporters = new.originReporters
        config.checkpointEntries = new.checkpointEntries
        config.logLevel = new.logLevel
        core.authorization = Authorization(reporters: new.originReporters)
        peers.configure(after.map(\.address.description))
        do { try peers.save() } catch { logger.warning("peer book not saved: \(error)") }

        let pinned = Set(new.pinnedPeers.map(\.id))
        for (id, link) in links.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let dialled = link.direction == .outbound && !after.contains { $0.address.description == link.address }
            let unpinned = !config.insecure && link.authenticated.map { !pinned.contains($0) } == true
            guard dialled || unpinned else { continue }
            outcome.closedSessions.append("\(link.peer.short) at \(link.address)")
            closedLocally.insert(id)
            link.close("it no longer has this node among its peers")
        }
        return outcome
    }
}
