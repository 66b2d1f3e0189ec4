import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

/// The NodeID whose 32 bytes are all `byte`.
func node(_ byte: UInt8) throws -> NodeID {
    try #require(NodeID(bytes: [UInt8](repeating: byte, count: NodeID.byteCount)))
}

/// A put by `origin` at `seq`; key and values vary with `seq`.
func makeEntry(_ origin: NodeID, _ seq: UInt64) throws -> Entry {
    let partners = ["FRA", "USA", "CHN", "JPN", "GBR", "ITA", "NLD"]
    let key = try TradeKey(
        reporter: AreaCode("DEU"), partner: AreaCode(partners[Int(seq % 7)]), flow: .export,
        commodity: CommodityCode(String(850_000 + seq % 1000)), period: Period(year: 2000 + Int(seq % 25)))
    let values = TradeValues(valueUSD: ExactDecimal(Int64(seq) * 1_250 + 99), quantityUnit: "kg")
    return Entry(
        dot: Dot(origin: origin, seq: seq), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000 + seq, logical: 0),
        context: seq > 1 ? VersionVector([origin: seq - 1]) : VersionVector(), key: key, operation: .put(values))
}

/// A tiny in-memory node store: entries per origin (index = seq - 1), contiguous.
struct MemoryStore {
    private(set) var entries: [NodeID: [Entry]] = [:]

    var vector: VersionVector { VersionVector(entries.mapValues { UInt64($0.count) }) }
    var dots: Set<Dot> { Set(entries.values.flatMap { $0.map(\.dot) }) }
    var count: Int { entries.values.reduce(0) { $0 + $1.count } }

    /// Appends entries, skipping dots already held; a gap is a test failure.
    mutating func append(_ batch: [Entry]) {
        for entry in batch {
            let held = entries[entry.dot.origin, default: []].count
            if entry.dot.seq <= UInt64(held) { continue }
            guard entry.dot.seq == UInt64(held) + 1 else {
                Issue.record("gap: \(entry.dot) after \(held)")
                return
            }
            entries[entry.dot.origin, default: []].append(entry)
        }
    }

    /// Entries `after` lacks: origins in ID order, each ascending from `after[origin] + 1`,
    /// within the limits (bytes counted as the batch payload counts them).
    func fetch(after: VersionVector, entriesMax: Int, bytesMax: Int) -> [Entry] {
        var result: [Entry] = []
        var bytes = 0
        for origin in entries.keys.sorted() {
            let list = entries[origin] ?? []
            var seq = Int(after[origin])
            while seq < list.count {
                let size = BatchMessage.payloadBytes(of: list[seq])
                if result.count == entriesMax || bytes + size > bytesMax { return result }
                result.append(list[seq])
                bytes += size
                seq += 1
            }
        }
        return result
    }
}

/// What one side saw, in order: the inputs that matter for ordering and the outputs.
enum TraceEvent: Equatable {
    case persistedInput(BatchID)
    case sent(MessageType, id: UInt64?)
    case persistRequested(BatchID, count: Int)
    case handshake(peer: NodeID, version: UInt16)
    case inSync(NodeID)
    case closed(SyncError)
}

/// One side of a pair: a session, its store, its queued inputs and its trace.
struct Side {
    var session: SyncSession
    var store: MemoryStore
    var inbox: [SyncSession.Input] = []
    var pendingPersists: [([Entry], BatchID)] = []
    var trace: [TraceEvent] = []
    var receivedDots: [Dot] = []
    var lastWake: MonotonicInstant?

    init(id: NodeID, store: MemoryStore, versions: ClosedRange<UInt16> = 1...1) {
        session = SyncSession(configuration: .init(localID: id, logInstanceID: 1, versions: versions))
        self.store = store
    }

    func sent(_ type: MessageType) -> [UInt64?] {
        trace.compactMap { if case .sent(type, let id) = $0 { id } else { nil } }
    }

    var inSyncCount: Int { trace.filter { if case .inSync = $0 { true } else { false } }.count }
    var closes: [SyncError] { trace.compactMap { if case .closed(let error) = $0 { error } else { nil } } }

    /// Every ACK went out after the `.persisted` of its batch, and ACKs are in batch order.
    func checkAcksFollowPersists() {
        var persisted: Set<BatchID> = []
        var lastAck: UInt64 = 0
        for event in trace {
            if case .persistedInput(let id) = event { persisted.insert(id) }
            if case .sent(.ack, let id?) = event {
                #expect(persisted.contains(BatchID(rawValue: id)), "ACK \(id) sent before its .persisted")
                #expect(id == lastAck + 1, "ACK \(id) after ACK \(lastAck)")
                lastAck = id
            }
        }
    }
}

/// Two sessions wired back to back in memory. Sends are cut in two at a varying point;
/// fetches are answered at once; persists are carried out only when nothing else is
/// pending, so an ACK sent early would show in the trace.
struct Pair {
    var a: Side
    var b: Side
    var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    private var splitCounter = 0

    init(a: Side, b: Side) {
        self.a = a
        self.b = b
    }

    mutating func connect() {
        a.inbox.append(.connected(localVector: a.store.vector, now: now))
        b.inbox.append(.connected(localVector: b.store.vector, now: now))
    }

    /// Runs until nothing is pending or `stop` holds; returns the number of steps.
    @discardableResult
    mutating func run(stepsMax: Int = 100_000, stop: (Pair) -> Bool = { _ in false }) -> Int {
        for step in 0..<stepsMax {
            if stop(self) { return step }
            if !a.inbox.isEmpty {
                deliver(toA: true, a.inbox.removeFirst())
            } else if !b.inbox.isEmpty {
                deliver(toA: false, b.inbox.removeFirst())
            } else if !a.pendingPersists.isEmpty {
                persist(onA: true)
            } else if !b.pendingPersists.isEmpty {
                persist(onA: false)
            } else {
                return step
            }
        }
        Issue.record("pair did not go quiet within \(stepsMax) steps")
        return stepsMax
    }

    private mutating func persist(onA: Bool) {
        var side = onA ? a : b
        let (entries, id) = side.pendingPersists.removeFirst()
        side.store.append(entries)
        side.trace.append(.persistedInput(id))
        side.inbox.insert(.persisted(id, localVector: side.store.vector), at: 0)
        if onA { a = side } else { b = side }
    }

    mutating func deliver(toA: Bool, _ input: SyncSession.Input) {
        var side = toA ? a : b
        var forOther: [SyncSession.Input] = []
        for output in side.session.handle(input) {
            switch output {
            case .send(let bytes):
                side.trace.append(traceEvent(for: bytes))
                splitCounter += 1
                let cut = bytes.count * (splitCounter % 4) / 4
                if cut > 0 { forOther.append(.received(Array(bytes[..<cut]), now: now)) }
                forOther.append(.received(Array(bytes[cut...]), now: now))
            case .fetch(let after, let entriesMax, let bytesMax):
                side.inbox.append(.fetched(signed(side.store.fetch(after: after, entriesMax: entriesMax, bytesMax: bytesMax))))
            case .persist(let entries, let id):
                side.pendingPersists.append((entries.map(\.entry), id))
                side.receivedDots += entries.map(\.entry.dot)
                side.trace.append(.persistRequested(id, count: entries.count))
            case .wakeAt(let instant): side.lastWake = instant
            case .peerHello: break
            case .peerHeads: side.inbox.insert(.headsCompared(resend: []), at: 0)
            case .handshakeCompleted(let peer, _, let version): side.trace.append(.handshake(peer: peer, version: version))
            case .peerVector: break
            case .inSync(let peer): side.trace.append(.inSync(peer))
            case .close(let error): side.trace.append(.closed(error))
            }
        }
        if toA {
            a = side
            b.inbox += forOther
        } else {
            b = side
            a.inbox += forOther
        }
    }
}

/// The message type and batch ID (BATCH, ACK) of one sent frame.
func traceEvent(for bytes: [UInt8]) -> TraceEvent {
    guard let message = try? decodeOne(bytes) else { return .sent(.error, id: nil) }
    switch message {
    case .batch(let batch): return .sent(.batch, id: batch.id.rawValue)
    case .ack(let ack): return .sent(.ack, id: ack.batchID.rawValue)
    default: return .sent(message.type, id: nil)
    }
}

/// Decodes a byte array holding exactly one frame.
func decodeOne(_ bytes: [UInt8]) throws -> Message {
    var decoder = FrameDecoder()
    decoder.feed(bytes)
    let frame = try #require(try decoder.next())
    #expect(decoder.bufferedByteCount == 0)
    return try Message.decode(frame)
}

/// The messages in the `.send` outputs, in order.
func sentMessages(_ outputs: [SyncSession.Output]) throws -> [Message] {
    try outputs.compactMap { if case .send(let bytes) = $0 { try decodeOne(bytes) } else { nil } }
}

/// The outputs other than `.send` and `.wakeAt`.
func events(_ outputs: [SyncSession.Output]) -> [SyncSession.Output] {
    outputs.filter {
        switch $0 {
        case .send, .wakeAt, .peerHello: false
        default: true
        }
    }
}

/// A session connected at time 0 that has received the peer's HELLO and VECTOR.
func handshaken(
    local: NodeID, peer: NodeID, localVector: VersionVector = VersionVector(),
    peerVector: VersionVector = VersionVector(), peerFeatures: UInt32 = 0,
    configure: (inout SyncSession.Configuration) -> Void = { _ in }
) -> (session: SyncSession, outputs: [SyncSession.Output]) {
    var configuration = SyncSession.Configuration(localID: local, logInstanceID: 7, versions: 1...1)
    configure(&configuration)
    var session = SyncSession(configuration: configuration)
    _ = session.handle(.connected(localVector: localVector, now: .zero))
    let bytes = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 9, features: peerFeatures)).encoded()
        + Message.vector(peerVector).encoded()
    let outputs = session.handle(.received(bytes, now: .zero))
    return (session, outputs)
}

/// Entries without signatures, as a store that keeps none hands them to a session.
func signed(_ entries: [Entry]) -> [SignedEntry] { entries.map { SignedEntry($0) } }
