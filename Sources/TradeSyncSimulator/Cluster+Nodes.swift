import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

/// Node events (local writes, crash, restart, join) and the per-step property checks.
extension Cluster {
    /// Authors `writes` at `node` with its skewed clock, as a CLI edit does. Returns the
    /// entries, or nil when the node is down or crashed during the append (nothing acknowledged).
    @discardableResult
    public func write(node: Int, _ writes: [(key: TradeKey, operation: Operation)]) -> [Entry]? {
        localWrite(node: node) { core, nowMs throws(NodeError) in try core.writeLocal(writes, nowMs: nowMs) }
    }

    /// Imports `records` at `node` (one append; rows already held are skipped).
    @discardableResult
    public func importRecords(node: Int, _ records: [TradeRecord]) -> [Entry]? {
        localWrite(node: node) { core, nowMs throws(NodeError) in try core.importRecords(records, nowMs: nowMs) }
    }

    private func localWrite(
        node: Int, _ body: (inout ReplicaNode<SimLog>, UInt64) throws(NodeError) -> [Entry]
    ) -> [Entry]? {
        guard var core = nodes[node].core else { return nil }
        nodes[node].core = nil  // keep `core` unique while it is written
        let past = core.replica.vector
        nodes[node].crashedWritePast = past
        let entries: [Entry]
        do { entries = try body(&core, wallClockMs(node: node)) } catch {
            nodes[node].core = core
            if nodes[node].log.isCrashed {
                stats.crashedAppends += 1
                crash(node: node)
            } else if isExpectedRefusal(error, node: node) {
                stats.writesRefused += 1
                nodes[node].lastRefusal = error
            } else {
                flag(.invariant, "node \(node): local write refused: \(error)")
            }
            return nil
        }
        nodes[node].core = core
        nodes[node].crashedWritePast = nil
        guard !entries.isEmpty else { return entries }
        oracle.record(entries, past: past)
        stats.localWrites += entries.count
        for entry in entries {
            nodes[node].acked.add(entry.dot)
            touched.append((node: node, key: entry.key))
        }
        notifySessions(node: node, core.replica.vector)
        return entries
    }

    /// Crashes `node`: its process state is gone (sessions, replica); its log keeps what
    /// was durable. Each peer learns of it by a reset or, half the time, only by its idle timeout.
    public func crash(node: Int) {
        guard nodes[node].isUp else { return }
        stats.crashes += 1
        for peer in 0..<nodeCount {
            guard let slot = nodes[node].slots[peer] else { continue }
            nodes[node].slots[peer] = nil
            let side = connections[slot.conn].side(of: node)
            connections[slot.conn].sideClosed[side] = true
            closesSinceMark += 1
            if random.chance(0.5) {
                schedule(.reset(conn: slot.conn, side: 1 - side), inNs: linkDelayNs(pair: connections[slot.conn].pair))
            }
        }
        nodes[node].core = nil
        schedule(.restart(node: node), inNs: UInt64(random.int(100...max(100, rates.restartDelayMsMax))) * 1_000_000)
    }

    /// A guard's refusal that a scenario provoked on purpose on this node (``DeliberateFault``).
    private func isExpectedRefusal(_ error: NodeError, node: Int) -> Bool {
        switch (error, nodes[node].deliberateFault) {
        case (.behindOnOwnOrigin, .restoredFromBackup?), (.ownOriginForked, .cloned?): true
        default: false
        }
    }

    /// Restarts a crashed node from its log: recovery cuts a torn tail, the replica is
    /// rebuilt with `ReplicaNode(localID:store:)`, the fork evidence and the amnesia guard
    /// it persisted are loaded again, and nothing acknowledged may be missing.
    public func restart(node: Int) {
        guard nodes[node].joined, !nodes[node].isUp else { return }
        let log = nodes[node].log
        stats.tornBytesCut += log.recover()
        do {
            var core = try ReplicaNode(localID: nodes[node].id, store: log)
            for evidence in nodes[node].evidence { core.quarantine(evidence) }
            if let saved = nodes[node].savedGuard { core.observeOwnOriginClaim(saved.claimedSeq, from: saved.peer) }
            nodes[node].core = core
        } catch {
            return flag(.invariant, "node \(node): log does not replay after a crash: \(error)")
        }
        stats.restarts += 1
        registerRecoveredWrites(node: node)
        let acked = nodes[node].acked
        guard acked.isDominated(by: log.vector), nodes[node].core?.replica.vector == log.vector else {
            return flag(
                .durability,
                "node \(node) restarted with \(log.vector), but had acknowledged \(acked) (replica \(nodes[node].core?.replica.vector.description ?? "-"))")
        }
        startNode(node)
    }

    /// A late node joins with an empty log.
    public func join(node: Int) {
        guard !nodes[node].joined else { return }
        nodes[node].joined = true
        do { nodes[node].core = try ReplicaNode(localID: nodes[node].id, store: nodes[node].log) } catch {
            return flag(.invariant, "node \(node): empty log does not replay: \(error)")
        }
        stats.joins += 1
        startNode(node)
    }

    func startNode(_ node: Int) {
        for pair in pairs.indices where pairs[pair].dialler == node { scheduleDial(pair: pair, delayNs: 1_000_000) }
        if workloadActive { schedule(.workload(node: node), inNs: nextWriteDelayNs()) }
    }

    /// Entries of a crashed local write that reached the disk are real entries now: the
    /// oracle learns them, with the vector the node had when it wrote them.
    private func registerRecoveredWrites(node: Int) {
        let id = nodes[node].id
        let known = oracle.seqKnown(origin: id)
        let held = nodes[node].log.vector[id]
        guard held > known else { return }
        guard let past = nodes[node].crashedWritePast,
            let entries = try? nodes[node].log.entries(origin: id, after: known, limit: Int(held - known))
        else { return flag(.invariant, "node \(node): own entries \(known + 1)...\(held) appeared from nowhere") }
        oracle.record(entries, past: past)
        nodes[node].crashedWritePast = nil
    }

    /// Mean-preserving uniform delay until a node's next write, in ns.
    func nextWriteDelayNs() -> UInt64 {
        UInt64(random.int(1...(2 * max(1, rates.writeIntervalMs)))) * 1_000_000
    }

    // MARK: Checks

    /// Per-step checks on the keys written or received this step: no false conflicts,
    /// bounded siblings, no unknown dots.
    func checkTouched() throws(SimFailure) {
        touched.sort { $0.node != $1.node ? $0.node < $1.node : $0.key < $1.key }
        var previous: (node: Int, key: TradeKey)?
        for item in touched {
            if let previous, previous.node == item.node && previous.key == item.key { continue }
            previous = item
            guard let view = nodes[item.node].core?.replica.read(item.key) else { continue }
            stats.siblingsMax = max(stats.siblingsMax, view.siblings.count)
            if let (kind, message) = oracle.check(view) { throw failure(kind, "node \(item.node): \(message)") }
        }
    }
}
