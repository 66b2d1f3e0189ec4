import TradeSyncClock
import TradeSyncLog
import TradeSyncReplica
import TradeSyncSession
import TradeSyncWire

/// The node driver: what `Sources/TradeSyncTransport/Connection.swift` and the daemon's
/// `Node` do for a session, with the simulated network and disk. Inputs are fed one at a
/// time; each output is carried out in order (send, fetch → `.fetched`, persist →
/// `.persisted`, wake-up → timer event, close); local growth reaches every session of the
/// node as `.localEntries`. Each pair has one designated dialler (the lower index).
extension Cluster {
    /// Feeds `first` to the session of `node` with `peer`, then every reply it asks for.
    func drive(node: Int, peer: Int, _ first: SyncSession.Input) {
        guard let conn = nodes[node].slots[peer]?.conn else { return }
        var pending: [SyncSession.Input] = [first]
        var fed = 0
        while !pending.isEmpty {
            fed += 1
            guard fed <= Self.driverInputsMax else {
                return flag(.invariant, "node \(node): session with \(peer) asked for more than \(Self.driverInputsMax) replies in one turn")
            }
            let input = pending.removeFirst()
            if case .persisted(let batchID, _) = input, let fed = nodes[node].slots[peer]?.persistedFed {
                nodes[node].slots[peer]?.persistedFed = max(fed, batchID.rawValue)
            }
            guard nodes[node].slots[peer]?.conn == conn, let outputs = nodes[node].slots[peer]?.session.handle(input) else {
                return
            }
            if case .disconnected = input {
                // As Connection.swift: the outputs of a disconnect are not carried out.
                return endSession(node: node, peer: peer, conn: conn, fin: false, reason: .disconnected)
            }
            for output in outputs {
                guard nodes[node].slots[peer]?.conn == conn else { return }  // crashed or replaced meanwhile
                guard perform(output, node: node, peer: peer, conn: conn, pending: &pending) else { return }
            }
        }
    }

    /// Carries out one output. Returns false when the session is over.
    private func perform(
        _ output: SyncSession.Output, node: Int, peer: Int, conn: Int, pending: inout [SyncSession.Input]
    ) -> Bool {
        switch output {
        case .send(let bytes):
            if bytes.count > 4 && bytes[4] == MessageType.batch.rawValue { nodes[node].slots[peer]?.inSync = false }
            if bytes.count > 4 && bytes[4] == MessageType.ack.rawValue { checkAck(node: node, peer: peer, bytes) }
            send(conn: conn, side: connections[conn].side(of: node), bytes)
        case .fetch(let after, let entriesMax, let bytesMax):
            guard let core = nodes[node].core else { return false }
            do {
                pending.append(.fetched(try core.fetch(after: after, entriesMax: entriesMax, bytesMax: bytesMax)))
            } catch {
                flag(.invariant, "node \(node): fetch failed: \(error)")
                return false
            }
        case .persist(let entries, let batchID):
            guard let persisted = persist(node: node, entries.map(\.entry)) else { return false }
            pending.append(.persisted(batchID, localVector: persisted.vector))
            // As the daemon: the peer that sent a forked dot gets ours back, as evidence.
            for dot in persisted.forks { pending.append(.resend(origin: dot.origin, fromSeq: dot.seq)) }
        case .wakeAt(let instant):
            guard var slot = nodes[node].slots[peer] else { return false }
            slot.timerToken += 1
            nodes[node].slots[peer] = slot
            queue.push(.timer(node: node, peer: peer, conn: conn, token: slot.timerToken), at: max(now, instant.nanoseconds))
        case .peerHello:
            break
        case .peerHeads(let heads):
            // As the daemon (Node+Guards.swift): a held dot whose hash differs is a fork;
            // send ours again from there so the peer holds both entries.
            pending.append(.headsCompared(resend: differingHeads(node: node, heads)))
        case .handshakeCompleted(let peerID, _, _):
            guard peerID == nodes[peer].id else {
                flag(.invariant, "node \(node): handshake with \(peerID.short), expected \(nodes[peer].id.short)")
                return false
            }
            if pairs[pairIndex[node][peer]].dialler == node {
                pairs[pairIndex[node][peer]].failedDials = 0
                stats.sessions += 1
            }
        case .peerVector(let vector):
            checkPeerVector(node: node, peer: peer, vector)
            if nodes[node].slots[peer]?.vectorSeen == false {
                nodes[node].slots[peer]?.vectorSeen = true
                observeOwnOriginClaim(node: node, peer: peer, vector)
            }
        case .inSync:
            nodes[node].slots[peer]?.inSync = true
        case .close(let error):
            endSession(node: node, peer: peer, conn: conn, fin: true, reason: error)
            return false
        }
        return true
    }

    /// Per origin of the node's durable vector, that seq and its entry-hash prefix.
    func heads(of node: Int) -> [Head] {
        guard let core = nodes[node].core else { return [] }
        var heads: [Head] = []
        for (origin, seq) in core.durableVector.sorted {
            guard let entry = try? core.store.entries(origin: origin, after: seq - 1, limit: 1).first else { continue }
            heads.append(Head(dot: entry.dot, hash: entry.hash))
        }
        return heads
    }

    /// The peer's heads naming a dot `node` holds durably with a different entry.
    func differingHeads(node: Int, _ heads: [Head]) -> [Dot] {
        guard let core = nodes[node].core else { return [] }
        return heads.filter { head in
            guard head.seq <= core.durableVector[head.origin],
                let entry = try? core.store.entries(origin: head.origin, after: head.seq - 1, limit: 1).first
            else { return false }
            return Head(dot: entry.dot, hash: entry.hash) != head
        }.map(\.dot)
    }

    /// No ACK leaves before the `.persisted` of its batch (STYLE.md: the session enforces
    /// it, so the simulator checks it).
    private func checkAck(node: Int, peer: Int, _ bytes: [UInt8]) {
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        guard let frame = try? decoder.next(), case .ack(let ack)? = try? Message.decode(frame) else {
            return flag(.invariant, "node \(node): an ACK frame to \(peer) does not decode")
        }
        let persisted = nodes[node].slots[peer]?.persistedFed ?? 0
        if ack.batchID.rawValue > persisted {
            flag(.invariant, "node \(node): ACK for batch \(ack.batchID.rawValue) sent to \(peer) before its .persisted (last \(persisted))")
        }
    }

    /// What a session believes its peer holds must be held, durably, by the peer.
    private func checkPeerVector(node: Int, peer: Int, _ vector: VersionVector) {
        let held = nodes[peer].log.vector
        guard vector.isDominated(by: held) else {
            return flag(.invariant, "node \(node) believes peer \(peer) holds \(vector), but its log holds \(held)")
        }
    }

    /// The amnesia guard's input, as the daemon feeds it at each handshake: what the peer's
    /// VECTOR says of this node's own origin. The guard is persisted (the node's state file).
    private func observeOwnOriginClaim(node: Int, peer: Int, _ vector: VersionVector) {
        let (id, peerID) = (nodes[node].id, nodes[peer].id)
        guard nodes[node].core?.observeOwnOriginClaim(vector[id], from: peerID) == true else { return }
        nodes[node].savedGuard = nodes[node].core?.authoringGuard
    }

    /// Appends a received batch as the daemon's `Node.persist` does: forks found are stored
    /// (the node's `forks/`) before the ACK; on growth every session of the node hears
    /// `.localEntries`. Returns nil when the node crashed or refused.
    private func persist(node: Int, _ entries: [Entry]) -> (vector: VersionVector, forks: [Dot])? {
        guard let before = nodes[node].core?.replica.vector else { return nil }
        let staged: ReceivedBatch?
        do { staged = try nodes[node].core?.persist(entries) } catch {
            if nodes[node].log.isCrashed {
                stats.crashedAppends += 1
                crash(node: node)
            } else {
                flag(.invariant, "node \(node) refused a batch of \(entries.count) entries: \(error)")
            }
            return nil
        }
        guard let staged, let vector = nodes[node].core?.durableVector else { return nil }
        for fork in staged.forks {
            // Only a scenario that cloned a node may see forks, and only of that node's origin.
            guard nodes.contains(where: { $0.id == fork.dot.origin && $0.deliberateFault == .cloned }) else {
                flag(.invariant, "node \(node) found a fork no scenario made: \(fork)")
                return nil
            }
            if !nodes[node].evidence.contains(where: { $0.dot == fork.dot }) { nodes[node].evidence.append(fork) }
        }
        stats.forksFound += staged.forks.count
        stats.quarantineSkipped += staged.quarantineSkipped
        nodes[node].acked.merge(vector)
        stats.entriesSent += entries.count
        for entry in entries { touched.append((node: node, key: entry.key)) }
        if vector != before { notifySessions(node: node, vector) }
        return (vector, staged.forks.map(\.dot))
    }

    /// Tells every session of `node` that its vector grew (as the daemon's `notifyLinks`).
    func notifySessions(node: Int, _ vector: VersionVector) {
        for peer in 0..<nodeCount {
            guard let slot = nodes[node].slots[peer] else { continue }
            schedule(.notify(node: node, peer: peer, conn: slot.conn, vector: vector), inNs: 0)
        }
    }

    /// The session of `node` with `peer` is over: drop it, close our side, redial if we dial.
    func endSession(node: Int, peer: Int, conn: Int, fin: Bool, reason: SyncError) {
        nodes[node].slots[peer] = nil
        closeSide(conn: conn, side: connections[conn].side(of: node), fin: fin)
        closesSinceMark += 1
        switch reason {
        case .disconnected, .closing: stats.closedByDisconnect += 1
        case .handshakeTimeout, .idleTimeout, .ackTimeout: stats.closedByTimeout += 1
        case .wire, .versionMismatch, .protocolViolation, .windowExceeded, .peerError, .sameNode, .forgedEntry:
            stats.closedByFault += 1
        }
        let pair = pairIndex[node][peer]
        if pairs[pair].dialler == node {
            pairs[pair].failedDials += 1
            scheduleDial(pair: pair, delayNs: backoffNs(pair: pair))
        }
    }

    // MARK: Dialling

    /// Reconnect delay: 100 ms doubling per failure up to 30 s, times a jitter in [0.5, 1.5).
    func backoffNs(pair: Int) -> UInt64 {
        let base = min(UInt64(30_000_000_000), UInt64(100_000_000) << UInt64(min(pairs[pair].failedDials, 9)))
        return UInt64(Double(base) * (0.5 + random.unit()))
    }

    /// Schedules a dial for `pair` unless one is scheduled or connecting.
    func scheduleDial(pair: Int, delayNs: UInt64) {
        let dialler = pairs[pair].dialler
        guard pairs[pair].enabled, !pairs[pair].dialScheduled, pairs[pair].connecting == nil, nodes[dialler].isUp
        else { return }
        pairs[pair].dialScheduled = true
        schedule(.dial(pair: pair), inNs: delayNs)
    }

    func dial(pair: Int) {
        pairs[pair].dialScheduled = false
        let (a, b) = (pairs[pair].dialler, pairs[pair].listener)
        guard pairs[pair].enabled, nodes[a].isUp, nodes[a].slots[b] == nil, pairs[pair].connecting == nil else { return }
        stats.dials += 1
        guard nodes[b].isUp else {  // refused at once
            pairs[pair].failedDials += 1
            return scheduleDial(pair: pair, delayNs: backoffNs(pair: pair))
        }
        let conn = connections.count
        connections.append(SimConnection(pair: pair, ends: [a, b]))
        pairs[pair].connecting = conn
        pairs[pair].conns.append(conn)
        let delay = pairs[pair].partitioned ? Self.connectTimeoutNs : 2 * linkDelayNs(pair: pair)
        schedule(.connectDone(conn: conn), inNs: delay)
    }

    /// The TCP handshake finished (or timed out): start a session on each side.
    func connectDone(conn: Int) {
        let pair = connections[conn].pair
        let (a, b) = (pairs[pair].dialler, pairs[pair].listener)
        if pairs[pair].connecting == conn { pairs[pair].connecting = nil }
        guard pairs[pair].enabled, nodes[a].isUp, nodes[a].slots[b] == nil else {
            connections[conn].isDead = true
            return
        }
        guard !pairs[pair].partitioned, nodes[b].isUp else {
            connections[conn].isDead = true
            pairs[pair].failedDials += 1
            return scheduleDial(pair: pair, delayNs: backoffNs(pair: pair))
        }
        if let old = nodes[b].slots[a] {
            // The listener keeps the newer connection from the designated dialler (as the daemon does).
            _ = nodes[b].slots[a]?.session.handle(.disconnected)
            nodes[b].slots[a] = nil
            closeSide(conn: old.conn, side: connections[old.conn].side(of: b), fin: true)
            closesSinceMark += 1
        }
        connections[conn].established = true
        for node in [a, b] {
            let configuration = SyncSession.Configuration(localID: nodes[node].id, logInstanceID: nodes[node].log.instanceID)
            nodes[node].slots[node == a ? b : a] = SessionSlot(conn: conn, session: SyncSession(configuration: configuration))
        }
        for (node, peer) in [(a, b), (b, a)] {
            guard let vector = nodes[node].core?.replica.vector else { continue }
            drive(node: node, peer: peer, .connected(localVector: vector, now: MonotonicInstant(nanoseconds: now)))
            drive(node: node, peer: peer, .heads(heads(of: node)))
        }
    }
}
