import TradeSyncClock
import TradeSyncSession
import TradeSyncWire

/// A piece of a byte stream in flight, or the end of the stream (FIN).
struct Chunk {
    var bytes: [UInt8]
    var isFin: Bool
    /// When it may be delivered, in virtual ns.
    var ready: UInt64
}

/// One direction of a connection: an ordered queue of chunks (a TCP stream never reorders
/// its bytes), pumped by one pending event at a time.
struct SimStream {
    var chunks: [Chunk] = []
    var head = 0
    var token: UInt64 = 0
    var pumpPending = false
    var lastReady: UInt64 = 0
    /// A frame held back to be sent after the next one (the reorder fault).
    var reorderHeld: [UInt8]?

    var isEmpty: Bool { head >= chunks.count }
}

/// One simulated TCP connection between a pair: side 0 is the dialler, side 1 the listener;
/// stream `d` carries bytes from side `d` to side `1 - d`.
struct SimConnection {
    let pair: Int
    let ends: [Int]
    var established = false
    /// Reset or closed on both sides: nothing more is delivered.
    var isDead = false
    var sideClosed = [false, false]
    var streams = [SimStream(), SimStream()]
    /// Bytes sent on this connection per message type byte (both directions).
    var bytesByType = [Int](repeating: 0, count: 9)

    func side(of node: Int) -> Int { ends[0] == node ? 0 : 1 }
}

/// The simulated WAN: delay with jitter and a long tail, chunking at random points,
/// partitions that hold traffic until they heal, connection resets, and (while faults are
/// active) message-level drop, duplication and reordering of frames.
extension Cluster {
    /// Most bytes handed to a session in one `.received`, in bytes.
    static let deliveryBytesMax = 256 * 1024
    /// Time a dial into a partition takes to fail, in ns.
    static let connectTimeoutNs: UInt64 = 3_000_000_000

    /// One-way delay of a chunk on `pair` now, in ns: base latency, jitter, and while faults
    /// are active a long tail of 10 to 50 times the base.
    func linkDelayNs(pair: Int) -> UInt64 {
        let base = pairs[pair].latencyMs
        var ms = base + (rates.jitterMs > 0 ? random.int(0...rates.jitterMs) : 0)
        if faultsActive && random.chance(rates.tailProbability) { ms += base * random.int(10...50) }
        return UInt64(ms) * 1_000_000
    }

    /// Sends one frame from `side` of `conn`, applying message-level faults when active.
    func send(conn: Int, side: Int, _ bytes: [UInt8]) {
        guard !connections[conn].isDead, !connections[conn].sideClosed[side] else { return }
        let type = bytes.count > 4 ? Int(bytes[4]) : 0
        stats.framesSent += 1
        stats.bytesSent += bytes.count
        trace.add(UInt64(bytes.count) << 8 | UInt64(type))
        if type < connections[conn].bytesByType.count { connections[conn].bytesByType[type] += bytes.count }
        if type != Int(MessageType.ping.rawValue) && type != Int(MessageType.pong.rawValue) { busyFramesSinceMark += 1 }
        if type == Int(MessageType.batch.rawValue) { stats.batchesSent += 1 }
        var frames: [[UInt8]] = [bytes]
        if faultsActive {
            if random.chance(rates.dropProbability) {
                stats.framesDropped += 1
                return
            }
            if random.chance(rates.duplicateProbability) {
                stats.framesDuplicated += 1
                frames.append(bytes)
            }
        }
        if let held = connections[conn].streams[side].reorderHeld {
            connections[conn].streams[side].reorderHeld = nil
            frames.append(held)
        } else if faultsActive && random.chance(rates.reorderProbability) {
            stats.framesReordered += 1
            connections[conn].streams[side].reorderHeld = frames.removeLast()
        }
        for frame in frames { enqueue(conn: conn, direction: side, frame) }
    }

    /// Cuts a frame into pieces (TCP delivers any chunking) and queues them in order.
    private func enqueue(conn: Int, direction: Int, _ frame: [UInt8]) {
        var cuts: [Int] = []
        if frame.count > 1 && random.chance(rates.splitProbability) {
            for _ in 0..<random.int(1...2) { cuts.append(random.int(1...frame.count - 1)) }
            cuts.sort()
        }
        var start = 0
        for cut in cuts + [frame.count] where cut > start {
            appendChunk(conn: conn, direction: direction, Chunk(bytes: Array(frame[start..<cut]), isFin: false, ready: 0))
            start = cut
        }
    }

    /// Queues a chunk behind everything already in the stream and makes sure a pump is due.
    func appendChunk(conn: Int, direction: Int, _ chunk: Chunk) {
        var chunk = chunk
        let delay = linkDelayNs(pair: connections[conn].pair)
        chunk.ready = max(connections[conn].streams[direction].lastReady, now + delay)
        connections[conn].streams[direction].lastReady = chunk.ready
        connections[conn].streams[direction].chunks.append(chunk)
        ensurePump(conn: conn, direction: direction)
    }

    func ensurePump(conn: Int, direction: Int) {
        let stream = connections[conn].streams[direction]
        guard !connections[conn].isDead, !stream.pumpPending, !stream.isEmpty else { return }
        connections[conn].streams[direction].token += 1
        connections[conn].streams[direction].pumpPending = true
        queue.push(
            .pump(conn: conn, direction: direction, token: stream.token + 1),
            at: max(now, stream.chunks[stream.head].ready))
    }

    /// Delivers every chunk that is due, in order, as one `.received` (then a FIN, if queued).
    func pump(conn: Int, direction: Int, token: UInt64) {
        guard !connections[conn].isDead, connections[conn].streams[direction].token == token else { return }
        connections[conn].streams[direction].pumpPending = false
        guard !pairs[connections[conn].pair].partitioned else { return }  // held until the heal
        var bytes: [UInt8] = []
        var fin = false
        var stream = connections[conn].streams[direction]
        connections[conn].streams[direction].chunks = []  // keep the array unique while we edit the copy
        while !stream.isEmpty && stream.chunks[stream.head].ready <= now && bytes.count < Self.deliveryBytesMax {
            let chunk = stream.chunks[stream.head]
            stream.head += 1
            if chunk.isFin {
                fin = true
                break
            }
            bytes.append(contentsOf: chunk.bytes)
        }
        if stream.head >= 64 && stream.head * 2 >= stream.chunks.count {
            stream.chunks.removeSubrange(0..<stream.head)
            stream.head = 0
        }
        connections[conn].streams[direction] = stream
        let receiverSide = 1 - direction
        let receiver = connections[conn].ends[receiverSide]
        let sender = connections[conn].ends[direction]
        trace.add(UInt64(bytes.count))
        if !bytes.isEmpty, nodes[receiver].slots[sender]?.conn == conn {
            drive(node: receiver, peer: sender, .received(bytes, now: MonotonicInstant(nanoseconds: now)))
        }
        if fin, nodes[receiver].slots[sender]?.conn == conn {
            drive(node: receiver, peer: sender, .disconnected)
        }
        ensurePump(conn: conn, direction: direction)
    }

    /// The side of `conn` learns that the connection broke (RST).
    func deliverReset(conn: Int, side: Int) {
        let node = connections[conn].ends[side]
        let peer = connections[conn].ends[1 - side]
        guard nodes[node].slots[peer]?.conn == conn else { return }
        drive(node: node, peer: peer, .disconnected)
    }

    /// Breaks `conn`: queued bytes are lost and each open side learns it after the link delay.
    func reset(conn: Int) {
        guard !connections[conn].isDead else { return }
        connections[conn].isDead = true
        connections[conn].streams = [SimStream(), SimStream()]
        for side in 0...1 where !connections[conn].sideClosed[side] {
            schedule(.reset(conn: conn, side: side), inNs: linkDelayNs(pair: connections[conn].pair))
        }
    }

    /// One side is done with `conn`; with `fin`, the peer learns it after the bytes queued.
    func closeSide(conn: Int, side: Int, fin: Bool) {
        guard !connections[conn].sideClosed[side] else { return }
        connections[conn].sideClosed[side] = true
        if connections[conn].sideClosed[0] && connections[conn].sideClosed[1] {
            connections[conn].isDead = true
            connections[conn].streams = [SimStream(), SimStream()]
            return
        }
        if fin && !connections[conn].isDead {
            appendChunk(conn: conn, direction: side, Chunk(bytes: [], isFin: true, ready: 0))
        }
    }

    /// Cuts or heals the link of `pair`. A heal delivers the held traffic from now on.
    func setPartitioned(pair: Int, _ partitioned: Bool) {
        guard pairs[pair].partitioned != partitioned else { return }
        pairs[pair].partitioned = partitioned
        guard !partitioned else { return }
        pairs[pair].conns.removeAll { connections[$0].isDead }
        for conn in pairs[pair].conns {
            for direction in 0...1 where !connections[conn].streams[direction].isEmpty {
                connections[conn].streams[direction].token += 1
                connections[conn].streams[direction].pumpPending = false
                ensurePump(conn: conn, direction: direction)
            }
        }
    }
}
