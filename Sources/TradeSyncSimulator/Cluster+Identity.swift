import TradeSyncClock
import TradeSyncLog
import TradeSyncReplica

/// The deliberate faults of the identity scenarios (issue 5, §6 and §7): a node restored
/// from an older backup of its data directory, and a data directory cloned onto a second
/// machine. Both break the "one writer per origin" assumption on purpose, so each marks the
/// nodes it touches (``DeliberateFault``) and the checks it relaxes name that mark:
/// - a restore lowers the node's acknowledged vector to the backup's (the disk lost them;
///   the scenario then checks they come back from peers, with ``checkFinal()``);
/// - a clone lets the oracle record a dot twice for that origin only, lets forks of that
///   origin be found, and lets the guards refuse writes of the marked nodes only.
extension Cluster {
    /// A copy of the disk of `node` as it is now (a backup of its data directory, fork
    /// evidence and amnesia state file included).
    public func backupLog(node: Int) -> SimLog { nodes[node].log.copy() }

    /// Stops `node` and restarts it from `backup` (a copy of it, so one backup can be
    /// restored more than once). Entries written after the backup are gone from its disk;
    /// its peers still hold those it sent them.
    public func restoreFromBackup(node: Int, _ backup: SimLog) {
        crash(node: node)
        nodes[node].log = backup.copy()
        nodes[node].acked = backup.vector
        nodes[node].crashedWritePast = nil
        nodes[node].evidence = []
        nodes[node].savedGuard = nil
        nodes[node].deliberateFault = .restoredFromBackup
        restart(node: node)
    }

    /// Makes the not yet joined node `target` a clone of `source`: the same node ID and a
    /// copy of its disk, as when a data directory is copied to a second machine. The clone
    /// joins at once; the two must not be linked to each other (they would refuse each
    /// other as the same node).
    /// - Precondition: `target` has not joined; `source` is up.
    public func cloneNode(from source: Int, to target: Int) {
        precondition(!nodes[target].joined && nodes[source].isUp, "clone into an absent node from a running one")
        let log = nodes[source].log.copy()
        let core: ReplicaNode<SimLog>
        do { core = try ReplicaNode(localID: nodes[source].id, store: log) } catch {
            return flag(.invariant, "node \(target): the cloned log does not replay: \(error)")
        }
        var clone = SimNode(
            id: nodes[source].id, log: log, core: core, joined: true, skewMs: nodes[target].skewMs,
            slots: Array(repeating: nil, count: nodeCount))
        clone.acked = nodes[source].acked
        clone.evidence = nodes[source].evidence
        clone.savedGuard = nodes[source].savedGuard
        clone.deliberateFault = .cloned
        nodes[target] = clone
        nodes[source].deliberateFault = .cloned
        oracle.allowForks(of: nodes[source].id)
        stats.joins += 1
        startNode(target)
    }

    // MARK: Reading the guards

    /// The origins `node` has quarantined, with their evidence, ordered by dot (empty while down).
    public func quarantined(_ node: Int) -> [ForkEvidence] { nodes[node].core?.quarantineList ?? [] }

    /// The fork evidence `node` stored (its `forks/` directory), in the order found.
    public func storedEvidence(_ node: Int) -> [ForkEvidence] { nodes[node].evidence }

    /// The amnesia guard of `node` while it stands.
    public func authoringGuard(_ node: Int) -> AuthoringGuard? { nodes[node].core?.authoringGuard }

    /// Entries `node` skipped because their origin is quarantined, since its last start.
    public func quarantineSkipped(_ node: Int) -> Int { nodes[node].core?.quarantineSkipped ?? 0 }

    /// The last write of `node` that a guard refused on purpose, if any.
    public func lastRefusal(_ node: Int) -> NodeError? { nodes[node].lastRefusal }

    /// True when both sides of the session between `a` and `b` reported "in sync" since their last BATCH.
    public func inSync(_ a: Int, _ b: Int) -> Bool {
        nodes[a].slots[b]?.inSync == true && nodes[b].slots[a]?.inSync == true
    }

    /// The entries of `origin` that `node` holds after `seq` (at most `limit`).
    public func heldEntries(_ node: Int, origin: NodeID, after seq: UInt64, limit: Int) -> [Entry] {
        (try? nodes[node].log.entries(origin: origin, after: seq, limit: limit)) ?? []
    }
}
