import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica

/// The random workload and the chaos ticks (partitions, heals, resets, flapping links,
/// crashes, late joins), and the controls the named scenarios use directly.
extension Cluster {
    /// One write of the random workload at `node`, then the next one scheduled.
    func workloadTick(node: Int) {
        guard workloadActive, nodes[node].joined else { return }
        schedule(.workload(node: node), inNs: nextWriteDelayNs())
        guard nodes[node].isUp, let workload else { return }
        var total = 0
        for weight in rates.weights { total += max(0, weight) }
        var pick = random.int(0...max(0, total - 1))
        var kind = 0
        for (index, weight) in rates.weights.enumerated() where pick >= 0 {
            kind = index
            pick -= max(0, weight)
        }
        let hotCount = workload.hot.count
        switch kind {
        case 1:
            stats.deletes += 1
            write(node: node, [(key: workload.hot[random.index(hotCount)].key, operation: .delete)])
        case 2:
            resolve(node: node, workload)
        case 3:
            let writes = (0..<random.int(2...4)).map { _ in workload.put(random.index(hotCount), variant: random.index(6)) }
            stats.puts += writes.count
            write(node: node, writes)
        case 4:
            let rows = workload.slice(start: random.index(workload.rows.count), count: random.int(1...max(1, rates.importRowsMax)))
            stats.imports += 1
            stats.importedEntries += importRecords(node: node, rows)?.count ?? 0
        default:
            stats.puts += 1
            write(node: node, [workload.put(random.index(hotCount), variant: random.index(6))])
        }
    }

    /// Resolves a conflicted hot key (a write whose context covers every sibling), or puts
    /// when none is in conflict here. A resolve that returns must leave one sibling.
    private func resolve(node: Int, _ workload: Workload) {
        let first = random.index(workload.hot.count)
        for offset in 0..<workload.hot.count {
            let index = (first + offset) % workload.hot.count
            guard let view = nodes[node].core?.replica.read(workload.hot[index].key), view.isConflict else { continue }
            stats.resolves += 1
            guard write(node: node, [workload.put(index, variant: random.index(6))]) != nil else { return }
            let after = nodes[node].core?.replica.read(workload.hot[index].key)?.siblings.count ?? 0
            if after != 1 { flag(.siblings, "node \(node): a resolve of \(view.key) left \(after) siblings") }
            return
        }
        stats.puts += 1
        write(node: node, [workload.put(first, variant: random.index(6))])
    }

    /// One chaos tick: each fault fires with its rate, then the next tick is scheduled.
    func chaosTick() {
        guard faultsActive else { return }
        schedule(.chaos, inNs: UInt64(max(1, rates.chaosIntervalMs)) * 1_000_000)
        if random.chance(rates.partitionProbability) { partitionRandomly() }
        if random.chance(rates.healProbability) {
            stats.heals += 1
            healAll()
        }
        if random.chance(rates.resetProbability) {
            let live = connections.indices.filter { connections[$0].established && !connections[$0].isDead }
            if !live.isEmpty {
                stats.resets += 1
                reset(conn: live[random.index(live.count)])
            }
        }
        if random.chance(rates.flapProbability) {
            stats.flaps += 1
            let pair = random.index(pairs.count)
            setPartitioned(pair: pair, !pairs[pair].partitioned)
        }
        if random.chance(rates.crashProbability) {
            let up = nodes.indices.filter { nodes[$0].isUp }
            if !up.isEmpty { crash(node: up[random.index(up.count)]) }
        }
        let absent = nodes.indices.filter { !nodes[$0].joined }
        if !absent.isEmpty && random.chance(0.02) { join(node: absent[random.index(absent.count)]) }
    }

    /// Cuts one link, or splits the nodes into two random groups.
    private func partitionRandomly() {
        stats.partitions += 1
        if random.chance(0.5) {
            setPartitioned(pair: random.index(pairs.count), true)
            return
        }
        let side = (0..<nodeCount).map { _ in random.chance(0.5) }
        for pair in pairs.indices where side[pairs[pair].dialler] != side[pairs[pair].listener] {
            setPartitioned(pair: pair, true)
        }
    }

    // MARK: Controls for scenarios

    /// Cuts the link between `a` and `b` (traffic is held until the heal).
    public func partition(_ a: Int, _ b: Int) { setPartitioned(pair: pairIndex[a][b], true) }

    /// Heals the link between `a` and `b`.
    public func heal(_ a: Int, _ b: Int) { setPartitioned(pair: pairIndex[a][b], false) }

    /// Heals every link.
    public func healAll() {
        for pair in pairs.indices { setPartitioned(pair: pair, false) }
    }

    /// Lets `a` and `b` connect, or closes their connections and stops dialling.
    public func setLinked(_ a: Int, _ b: Int, _ linked: Bool) {
        let pair = pairIndex[a][b]
        pairs[pair].enabled = linked
        if linked {
            scheduleDial(pair: pair, delayNs: 1_000_000)
            return
        }
        for conn in pairs[pair].conns where !connections[conn].isDead { reset(conn: conn) }
    }

    /// Links exactly the given pairs of nodes (the topology), unlinking all others.
    public func setTopology(_ links: [(Int, Int)]) {
        for pair in pairs.indices {
            let (a, b) = (pairs[pair].dialler, pairs[pair].listener)
            let wanted = links.contains { ($0.0 == a && $0.1 == b) || ($0.0 == b && $0.1 == a) }
            if wanted != pairs[pair].enabled { setLinked(a, b, wanted) }
        }
    }

    /// Breaks every live connection between `a` and `b` (the link drops; redial follows).
    public func dropConnections(_ a: Int, _ b: Int) {
        for conn in pairs[pairIndex[a][b]].conns where !connections[conn].isDead { reset(conn: conn) }
    }

    /// Sets the clock skew of `node`, in ms (±1 h at most, as the issue bounds it).
    public func setClockSkew(_ node: Int, ms: Int64) {
        precondition(abs(ms) <= 3_600_000, "clock skew beyond one hour")
        nodes[node].skewMs = ms
    }

    /// Sets message-level fault rates (drop, duplicate, reorder) and switches faults on or off.
    public func setMessageFaults(drop: Double, duplicate: Double = 0, reorder: Double = 0) {
        rates.dropProbability = drop
        rates.duplicateProbability = duplicate
        rates.reorderProbability = reorder
    }
}
