import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncSession

/// What the event queue holds. Connection-scoped events name their connection, and timers
/// and notifications a token, so an event that outlived its connection or timer is ignored.
enum SimEvent {
    case pump(conn: Int, direction: Int, token: UInt64)
    case reset(conn: Int, side: Int)
    case connectDone(conn: Int)
    case dial(pair: Int)
    case timer(node: Int, peer: Int, conn: Int, token: UInt64)
    case notify(node: Int, peer: Int, conn: Int, vector: VersionVector)
    case restart(node: Int)
    case workload(node: Int)
    case chaos
}

/// One session of a node with one peer, over one connection.
struct SessionSlot {
    let conn: Int
    var session: SyncSession
    var timerToken: UInt64 = 0
    /// Set by `.inSync`, cleared when this side sends a BATCH.
    var inSync = false
    /// The highest batch ID whose `.persisted` the session has been fed.
    var persistedFed: UInt64 = 0
    /// Set by the first `.peerVector` (the peer's VECTOR), which carries its claim about
    /// this node's own origin.
    var vectorSeen = false
}

/// A fault a named scenario inflicts on purpose, beyond what the design survives silently.
/// Only a node marked with one may have its writes refused by the matching guard.
enum DeliberateFault {
    /// Restarted from an older copy of its log: the amnesia guard may refuse its writes.
    case restoredFromBackup
    /// Its identity and log were copied to another node (or it is that copy): forks of its
    /// origin may be found, and an own-origin fork may refuse its writes.
    case cloned
}

/// One simulated node: its pure core over its simulated disk, its skewed clock and its sessions.
struct SimNode {
    let id: NodeID
    /// Its disk; replaced only by a restore from a backup.
    var log: SimLog
    /// The running core; nil while crashed or not yet joined.
    var core: ReplicaNode<SimLog>?
    var joined: Bool
    /// Clock skew added to virtual time for the HLC, in ms (±1 h at most).
    var skewMs: Int64
    /// Sessions by peer index.
    var slots: [SessionSlot?]
    /// Everything acknowledged: local writes that returned and vectors returned by persists.
    var acked = VersionVector()
    /// The node's vector before a local write that crashed (the causal past of what survived).
    var crashedWritePast: VersionVector?
    /// Fork evidence the node stored (its `forks/` directory), loaded again at restart.
    var evidence: [ForkEvidence] = []
    /// The amnesia guard the node persisted (its state file), restored at restart.
    var savedGuard: AuthoringGuard?
    /// What a scenario did to this node on purpose, if anything.
    var deliberateFault: DeliberateFault?
    /// The last write a guard refused on purpose (see ``DeliberateFault``).
    var lastRefusal: NodeError?

    var isUp: Bool { core != nil }
}

/// A pair of nodes that may connect; the lower index always dials.
struct SimPair {
    let dialler: Int
    let listener: Int
    var enabled = true
    var partitioned = false
    /// One-way base latency, in ms.
    let latencyMs: Int
    var dialScheduled = false
    var connecting: Int?
    var failedDials = 0
    /// Connections made for this pair that may still be live.
    var conns: [Int] = []
}

/// The deterministic cluster: nodes, links, disks and clocks, driven by one event queue
/// in virtual time. ``Simulation`` adds the random workload and faults; the named scenarios
/// script it directly. No socket, thread or wall clock: virtual time only advances when an
/// event is taken from the queue.
public final class Cluster {
    /// Virtual Unix time at t = 0, in ms (clocks add their skew to this plus virtual time).
    static let epochMs: UInt64 = 1_750_000_000_000
    /// Most inputs one driver call may feed a session (fetch and persist replies included).
    static let driverInputsMax = 10_000

    public let seed: UInt64
    public let nodeCount: Int
    public internal(set) var rates: FaultRates
    /// Network and disk faults are injected only while true.
    public var faultsActive = false {
        didSet { for node in nodes { node.log.isArmed = faultsActive } }
    }
    /// The random workload writes only while true.
    public var workloadActive = false
    /// Check the per-key properties after every step (off for very large scenarios).
    public var checkEveryStep = true
    /// Virtual time now, in nanoseconds, and the number of events handled.
    public internal(set) var now: UInt64 = 0
    public internal(set) var step = 0
    public internal(set) var stats = SimStats()

    var random: SimRandom
    var queue = EventQueue<SimEvent>()
    var nodes: [SimNode] = []
    var pairs: [SimPair] = []
    var pairIndex: [[Int]] = []
    var connections: [SimConnection] = []
    var oracle = Oracle()
    var trace = TraceHasher()
    var touched: [(node: Int, key: TradeKey)] = []
    var workload: Workload?
    /// Frames other than PING and PONG, and session closes, since ``markQuiet()``.
    var busyFramesSinceMark = 0
    var closesSinceMark = 0
    /// A failure found inside an event handler, raised at the end of the step.
    var pendingFailure: SimFailure?

    /// Creates `nodeCount` nodes (IDs, log instance IDs and clock skews drawn from the seed),
    /// every pair enabled, no faults, no workload. Nodes in `absent` start not joined.
    public init(seed: UInt64, nodeCount: Int, rates: FaultRates = .none, absent: [Int] = []) {
        precondition(nodeCount >= 2 && nodeCount <= 16, "2 to 16 nodes")
        self.seed = seed
        self.nodeCount = nodeCount
        self.rates = rates
        random = SimRandom(seed: seed)
        for index in 0..<nodeCount { nodes.append(makeNode(absent: index > 0 && absent.contains(index))) }
        pairIndex = Array(repeating: Array(repeating: -1, count: nodeCount), count: nodeCount)
        for a in 0..<nodeCount {
            for b in (a + 1)..<nodeCount {
                pairIndex[a][b] = pairs.count
                pairIndex[b][a] = pairs.count
                pairs.append(SimPair(dialler: a, listener: b, latencyMs: random.int(rates.latencyMs)))
            }
        }
    }

    private func makeNode(absent: Bool) -> SimNode {
        var bytes: [UInt8] = []
        for _ in 0..<4 {
            let word = random.next()
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        guard let id = NodeID(bytes: bytes) else { preconditionFailure("32 bytes make a node ID") }
        let log = SimLog(
            file: "sim-\(id.short).log", instanceID: random.next(), random: random.fork(),
            crashPerAppendProbability: rates.crashPerAppendProbability)
        let skew = rates.clockSkewMsMax > 0 ? Int64(random.int(-Int(rates.clockSkewMsMax)...Int(rates.clockSkewMsMax))) : 0
        var core: ReplicaNode<SimLog>?
        if !absent {
            do { core = try ReplicaNode(localID: id, store: log) } catch { preconditionFailure("an empty log replays: \(error)") }
        }
        return SimNode(id: id, log: log, core: core, joined: !absent, skewMs: skew, slots: Array(repeating: nil, count: nodeCount))
    }

    // MARK: Running

    /// Schedules the first dials of every enabled pair whose nodes are joined.
    public func start() {
        for index in pairs.indices { scheduleDial(pair: index, delayNs: 1_000_000) }
    }

    /// Handles the next event. Returns false when nothing is left to do.
    /// - Throws: the first property that failed during the step.
    @discardableResult
    public func runStep() throws(SimFailure) -> Bool {
        guard let (time, event) = queue.pop() else { return false }
        precondition(time >= now, "virtual time runs backwards")
        now = time
        step += 1
        stats.steps = step
        trace.add(time)
        handle(event)
        if let failure = pendingFailure { throw failure }
        if checkEveryStep && !touched.isEmpty { try checkTouched() }
        touched.removeAll(keepingCapacity: true)
        return true
    }

    /// Runs until `done` holds (checked after every step), the queue empties, `stepsMax`
    /// steps pass, or virtual time passes `untilNs`. Returns true when `done` held.
    @discardableResult
    public func run(stepsMax: Int, untilNs: UInt64 = .max, done: (Cluster) -> Bool = { _ in false })
        throws(SimFailure) -> Bool
    {
        for _ in 0..<stepsMax {
            if done(self) { return true }
            guard let next = queue.nextTime, next <= untilNs else { break }
            try runStep()
        }
        if done(self) { return true }
        if untilNs != .max && (queue.nextTime ?? .max) > untilNs { now = max(now, untilNs) }
        return false
    }

    /// Runs for `ms` of virtual time (or until `stepsMax` steps).
    public func run(forMs ms: UInt64, stepsMax: Int = 10_000_000) throws(SimFailure) {
        try run(stepsMax: stepsMax, untilNs: now + ms * 1_000_000)
    }

    private func handle(_ event: SimEvent) {
        switch event {
        case .pump(let conn, let direction, let token):
            trace.add(1)
            pump(conn: conn, direction: direction, token: token)
        case .reset(let conn, let side):
            trace.add(2)
            deliverReset(conn: conn, side: side)
        case .connectDone(let conn):
            trace.add(3)
            connectDone(conn: conn)
        case .dial(let pair):
            trace.add(4)
            dial(pair: pair)
        case .timer(let node, let peer, let conn, let token):
            trace.add(5)
            guard let slot = nodes[node].slots[peer], slot.conn == conn, slot.timerToken == token else { return }
            drive(node: node, peer: peer, .timer(now: MonotonicInstant(nanoseconds: now)))
        case .notify(let node, let peer, let conn, let vector):
            trace.add(6)
            guard let slot = nodes[node].slots[peer], slot.conn == conn else { return }
            drive(node: node, peer: peer, .localEntries(vector))
        case .restart(let node):
            trace.add(7)
            restart(node: node)
        case .workload(let node):
            trace.add(8)
            workloadTick(node: node)
        case .chaos:
            trace.add(9)
            chaosTick()
        }
    }

    /// Schedules `event` `delayNs` from now.
    func schedule(_ event: SimEvent, inNs delayNs: UInt64) {
        queue.push(event, at: now + delayNs)
    }

    /// Records a failure found inside a handler; the step raises it.
    func flag(_ kind: FailureKind, _ message: String) {
        if pendingFailure == nil { pendingFailure = failure(kind, message) }
    }

    func failure(_ kind: FailureKind, _ message: String) -> SimFailure {
        SimFailure(kind: kind, step: step, timeMs: now / 1_000_000, message: message)
    }

    /// The skewed wall clock of `node`, in Unix ms, for its HLC.
    func wallClockMs(node: Int) -> UInt64 {
        let base = Int64(Self.epochMs + now / 1_000_000)
        return UInt64(max(0, base + nodes[node].skewMs))
    }
}
