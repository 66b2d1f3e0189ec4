import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncSession
import TradeSyncWire

/// Reading the cluster's state, and the liveness and quiescence checks.
extension Cluster {
    /// The hash of every event handled so far (equal runs have equal hashes).
    public var traceHash: UInt64 { trace.value }
    /// Virtual time now, in ms.
    public var nowMs: UInt64 { now / 1_000_000 }

    public func isUp(_ node: Int) -> Bool { nodes[node].isUp }
    public func nodeID(_ node: Int) -> NodeID { nodes[node].id }
    public func vector(_ node: Int) -> VersionVector? { nodes[node].core?.replica.vector }
    public func counts(_ node: Int) -> ReplicaCounts? { nodes[node].core?.replica.counts }
    public func read(_ node: Int, _ key: TradeKey) -> KeyView? { nodes[node].core?.replica.read(key) }
    /// The state digest of `node` (nil while it is down).
    public func digest(_ node: Int) -> [UInt8]? { nodes[node].core?.digest() }
    /// Entries held in the log of `node`.
    public func logEntryCount(_ node: Int) -> Int { nodes[node].log.entryCount }
    /// The live session of `node` with `peer`, if any.
    public func session(_ node: Int, _ peer: Int) -> SyncSession? { nodes[node].slots[peer]?.session }

    /// Bytes sent on the newest established connection between `a` and `b`, both ways:
    /// in total, and in HELLO and VECTOR frames (the handshake).
    public func wireBytes(_ a: Int, _ b: Int) -> (total: Int, handshake: Int)? {
        guard let conn = pairs[pairIndex[a][b]].conns.last(where: { connections[$0].established }) else { return nil }
        let byType = connections[conn].bytesByType
        let handshake = byType[Int(MessageType.hello.rawValue)] + byType[Int(MessageType.vector.rawValue)]
        return (byType.reduce(0, +), handshake)
    }

    /// All nodes joined and up, with equal vectors and equal digests.
    public var isConverged: Bool {
        guard let first = nodes[0].core?.replica.vector else { return false }
        for node in nodes.indices where nodes[node].core?.replica.vector != first { return false }
        guard let digest = nodes[0].core?.digest() else { return false }
        for node in nodes.indices.dropFirst() where nodes[node].core?.digest() != digest { return false }
        return true
    }

    /// Every enabled pair has a session on both sides that reported "in sync" since its last BATCH.
    public var sessionsInSync: Bool {
        for pair in pairs where pair.enabled {
            guard nodes[pair.dialler].slots[pair.listener]?.inSync == true,
                nodes[pair.listener].slots[pair.dialler]?.inSync == true
            else { return false }
        }
        return true
    }

    /// Runs until every node holds the same state and every session is in sync.
    /// - Throws: a ``FailureKind/convergence`` failure naming each node's vector when that
    ///   does not happen within `stepsMax` steps and `timeMaxMs` of virtual time.
    public func runUntilConverged(stepsMax: Int, timeMaxMs: UInt64) throws(SimFailure) {
        let deadline = now + timeMaxMs * 1_000_000
        let done = try run(stepsMax: stepsMax, untilNs: deadline) { $0.isConverged && $0.sessionsInSync }
        guard !done else { return }
        var lines: [String] = []
        for node in nodes.indices {
            let sessions = (0..<nodeCount).map { peer in
                nodes[node].slots[peer].map { $0.inSync ? "\(peer):in-sync" : "\(peer):busy" } ?? "\(peer):-"
            }
            lines.append(
                "node \(node) \(nodes[node].isUp ? "up" : "down") vector \(nodes[node].core?.replica.vector.description ?? "-") sessions \(sessions.joined(separator: " "))"
            )
        }
        throw failure(
            .convergence,
            "not converged within \(timeMaxMs) ms and \(stepsMax) steps of the heal:\n  " + lines.joined(separator: "\n  "))
    }

    /// Starts counting frames other than PING and PONG, and session closes.
    public func markQuiet() {
        busyFramesSinceMark = 0
        closesSinceMark = 0
    }

    /// Runs `quietMs` of virtual time once converged: only PING and PONG may flow, no session
    /// may close, and the state must not change.
    /// - Throws: ``FailureKind/quiescence`` or ``FailureKind/convergence``.
    public func checkQuiet(quietMs: UInt64) throws(SimFailure) {
        let digest = nodes[0].core?.digest()
        markQuiet()
        let framesBefore = stats.framesSent
        try run(forMs: quietMs)
        let frames = stats.framesSent - framesBefore
        let sessions = pairs.filter(\.enabled).count
        // Each side of a session PINGs at most once per interval and answers each PING once.
        let keepaliveMax = sessions * 4 * (Int(quietMs / 15_000) + 1)
        guard busyFramesSinceMark == 0, closesSinceMark == 0, frames <= keepaliveMax else {
            throw failure(
                .quiescence,
                "not quiet for \(quietMs) ms after converging: \(busyFramesSinceMark) frames other than PING/PONG, "
                    + "\(closesSinceMark) sessions closed, \(frames) frames in all (at most \(keepaliveMax) keep-alives)")
        }
        guard isConverged, nodes[0].core?.digest() == digest else {
            throw failure(.convergence, "state changed or diverged during the quiet period")
        }
    }

    /// The end-of-run properties: no silent loss on any node, every authored entry held by
    /// every node byte for byte (durability and no forks), and the sibling bounds on every key.
    public func checkFinal() throws(SimFailure) {
        let keys = oracle.keys
        for node in nodes.indices {
            guard let core = nodes[node].core else { throw failure(.convergence, "node \(node) is down at the end") }
            for key in keys {
                let view = core.replica.read(key)
                if let message = oracle.checkNoSilentLoss(view, key: key) {
                    throw failure(.silentLoss, "node \(node): \(message)")
                }
                if let view, let (kind, message) = oracle.check(view) { throw failure(kind, "node \(node): \(message)") }
            }
            for record in oracle.writes where nodes[node].log.payloadHash(of: record.dot) != record.payloadHash {
                throw failure(.durability, "node \(node): entry \(record.dot) is missing or differs from what its author wrote")
            }
        }
        stats.conflictsAtEnd = nodes[0].core?.replica.counts.conflicts ?? 0
    }
}
