import TradeSyncClock
import TradeSyncLog
import TradeSyncReplica
import TradeSyncSession
import TradeSyncTransport

/// What a scrape of `/metrics` or `/health` reads from the node, in one actor call.
public struct MetricsSnapshot: Sendable {
    /// When it was taken (monotonic): an older snapshot never overwrites a newer one.
    public var takenAt: MonotonicInstant
    /// Entries in the log.
    public var entries: Int
    /// Keys whose winner is a put (as `status` shows).
    public var records: Int
    /// Keys with any surviving version, tombstoned ones included.
    public var keys: Int
    /// Keys with more than one sibling.
    public var conflicts: Int
    /// Keys whose winner is a delete.
    public var tombstones: Int
    /// Every configured or seen peer, sorted by label.
    public var peers: [PeerSample]
    /// Distinct peers with a session up.
    public var peersConnected: Int
    /// Peers in the configuration: `[[peer]]` tables plus unpinned `peers`.
    public var peersConfigured: Int
    /// Uncompressed payload bytes of every BATCH sent since start (bytes).
    public var batchUncompressedBytesSent: UInt64
    /// Payload bytes of every BATCH sent since start, as sent: deflated where that helped (bytes).
    public var batchPayloadBytesSent: UInt64
    /// Whether the node serves, is stopping, or failed.
    public var health: NodeHealth

    /// One peer as the metrics show it.
    public struct PeerSample: Sendable, Equatable {
        /// The peer's short node ID (12 hex digits), or its address while its ID is unknown.
        public var label: String
        /// True while a session with the peer is up.
        public var connected: Bool
        /// Per origin of the local vector (short node ID), entries the peer has not
        /// acknowledged; empty when the peer's vector was never known.
        public var lag: [OriginLag]
        /// Seconds since the peer last told its vector; nil if it has not since start.
        public var lastAckAgeSeconds: Double?
        /// Bytes sent to the peer since start, over all its sessions, frame headers included.
        public var bytesSent: UInt64 = 0
        /// Bytes received from the peer since start, frame headers included.
        public var bytesReceived: UInt64 = 0
        /// Frames sent to the peer since start.
        public var framesSent: UInt64 = 0
        /// Frames received from the peer since start.
        public var framesReceived: UInt64 = 0
    }
}

/// Entries of one origin a peer has not acknowledged.
public struct OriginLag: Sendable, Equatable {
    /// The origin's short node ID (12 hex digits).
    public var origin: String
    /// Entries of that origin held here and not acknowledged by the peer.
    public var entries: UInt64
}

/// Whether the node serves (`/health` answers 200) or not (503).
public enum NodeHealth: Sendable, Equatable {
    /// Serving writes and sessions.
    case serving
    /// Shutting down (SIGTERM or SIGINT): sessions end, the log is synced and closed.
    case stopping
    /// The node hit a fatal error (a failed fsync, a corrupt read) and stops serving writes.
    case failed(reason: String)
}

extension Node {
    /// Reads everything a scrape shows, at one instant of the actor.
    public func metricsSnapshot() -> MetricsSnapshot {
        let now = MonotonicClock.now()
        let local = replica.vector
        var samples: [String: MetricsSnapshot.PeerSample] = [:]
        var uncompressed: UInt64 = 0
        var payload: UInt64 = 0
        // Every session's totals: ended sessions per peer, then the live ones.
        var totals = endedTotals
        for link in links.values { totals[link.peer, default: PeerTotals()].add(link.counters) }
        for total in totals.values {
            uncompressed += total.uncompressedBytesSent
            payload += total.payloadBytesSent
        }
        func sample(_ node: NodeID?, address: String?, known: VersionVector?) {
            guard let label = node?.short ?? address else { return }
            let link = node.flatMap { node in links.values.first { $0.peer == node } }
            var sample = samples[label] ?? MetricsSnapshot.PeerSample(label: label, connected: false, lag: [])
            sample.connected = sample.connected || link != nil
            if let vector = link?.peerVector ?? known {
                sample.lag = local.sorted.map { origin, seq in
                    OriginLag(origin: origin.short, entries: seq > vector[origin] ? seq - vector[origin] : 0)
                }
            }
            if let node {
                sample.lastAckAgeSeconds = peerVectorSeenAt[node].map { now.duration(since: $0).secondsValue }
                let total = totals[node] ?? PeerTotals()
                sample.bytesSent = total.bytesOut
                sample.bytesReceived = total.bytesIn
                sample.framesSent = total.framesOut
                sample.framesReceived = total.framesIn
            }
            samples[label] = sample
        }
        let expected = Dictionary(
            config.dialTargets.compactMap { target in target.expected.map { (target.address.description, $0) } },
            uniquingKeysWith: { first, _ in first })
        for record in peers.records {
            let node = record.nodeID.flatMap { NodeID(hex: $0) } ?? expected[record.address]
            let known = record.knownVector.map { vector in
                VersionVector(
                    Dictionary(vector.compactMap { origin, seq in NodeID(hex: origin).map { ($0, seq) } }, uniquingKeysWith: max))
            }
            sample(node, address: record.address, known: known)
        }
        for pin in config.pinnedPeers where pin.address == nil { sample(pin.id, address: nil, known: nil) }
        for link in links.values { sample(link.peer, address: nil, known: nil) }
        let health: NodeHealth = fatalReason.map { .failed(reason: $0) } ?? metrics.health
        let counts = replica.counts
        return MetricsSnapshot(
            takenAt: now, entries: log.entryCount, records: counts.records, keys: counts.keys,
            conflicts: counts.conflicts, tombstones: counts.tombstones,
            peers: samples.values.sorted { $0.label < $1.label },
            peersConnected: Set(links.values.map(\.peer)).count,
            peersConfigured: config.pinnedPeers.count + config.peers.count,
            batchUncompressedBytesSent: uncompressed, batchPayloadBytesSent: payload, health: health)
    }

    /// Notes that the peer told its vector now (VECTOR, ACK, or a BATCH it sent).
    func notePeerVector(from peer: NodeID) { peerVectorSeenAt[peer] = MonotonicClock.now() }
}

extension Duration {
    /// The duration in seconds, with nanosecond precision.
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
