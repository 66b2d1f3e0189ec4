import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

/// Drives one ``SyncSession`` with a fuzz input as the peer's byte stream, answering its
/// requests the way a node would, and checks every output with ``SessionOutputChecker``.
///
/// The options byte picks the session's limits and the harness's manners:
/// bits 0–1 the window (1…4 batches), bits 2–3 the batch entry limit (1, 2, 5, 4096),
/// bit 4 persists answered newest first (out of order), bit 5 replies deferred between
/// chunks (else answered at once), bits 6–7 how many entries the node holds (0, 3, 10, 24
/// of its own, 0, 2, 5, 8 of a third office). The seed byte salts the PRNG that cuts the
/// stream into chunks and interleaves timer ticks, local writes and stray `.persisted`s.
struct SessionHarness {
    private var session: SyncSession
    private var checker: SessionOutputChecker
    private var store: SessionStore
    private var random: FuzzRandom
    private let seed: UInt8
    private let handshaken: Bool
    private let persistNewestFirst: Bool
    private let deferReplies: Bool
    private var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    private var pendingFetch: (after: VersionVector, entriesMax: Int, bytesMax: Int)?
    /// The peer's HEADS, waiting for `.headsCompared` (answered before anything else).
    private var pendingHeads: [Head]?
    private var pendingPersists: [(entries: [Entry], id: BatchID)] = []

    init(options: UInt8, seed: UInt8, handshaken: Bool) {
        let batchEntriesMax = [1, 2, 5, Limits.batchEntriesMax][Int(options >> 2) & 3]
        let configuration = SyncSession.Configuration(
            localID: SessionFixtures.localID, logInstanceID: 7, batchEntriesMax: batchEntriesMax,
            windowBatches: 1 + Int(options & 3))
        session = SyncSession(configuration: configuration)
        checker = SessionOutputChecker(batchEntriesMax: batchEntriesMax)
        let size = Int(options >> 6)
        store = SessionStore(localCount: [0, 3, 10, 24][size], thirdCount: [0, 2, 5, 8][size])
        random = FuzzRandom(seed: UInt64(seed))
        self.seed = seed
        self.handshaken = handshaken
        persistNewestFirst = options & 0x10 != 0
        deferReplies = options & 0x20 != 0
    }

    /// The bytes a well-behaved peer sends first: HELLO (versions [1,1]) and an empty VECTOR.
    static let handshakePrefix: [UInt8] =
        Message.hello(Hello(versions: 1...1, nodeID: SessionFixtures.peerID, logInstanceID: 0x0123_4567_89AB_CDEF))
        .encoded() + Message.vector(VersionVector()).encoded()

    /// Runs the whole input; returns a summary of how far it got.
    mutating func run(_ data: [UInt8]) throws(FuzzFailure) -> UInt64 {
        random = FuzzRandom(hashing: data, salt: UInt64(seed))
        try deliver(.connected(localVector: store.vector, now: now), "connected")
        // Our heads (hash prefixes are arbitrary here: the session only carries them).
        let heads = store.vector.sorted.map { Head(origin: $0.0, seq: $0.1, hashPrefix: $0.1 &* 0x9E37_79B9) }
        try deliver(.heads(heads), "heads")
        let stream = handshaken ? Self.handshakePrefix + data : data
        let chunkMax = [1, 7, 64, 1024, Int.max][random.below(5)]
        var start = 0
        while start < stream.count && !checker.isClosed {
            try interleave()
            let end = start + min(stream.count - start, 1 + random.below(min(chunkMax, stream.count - start)))
            try deliver(.received(Array(stream[start..<end]), now: now), "received \(start)..<\(end)")
            start = end
            if deferReplies { try answerOne() } else { try answerAll() }
        }
        try answerAll()
        let summary = outcome()
        try finish()
        return summary
    }

    /// Between chunks: sometimes time passes (PINGs, timeouts), the node writes, or a
    /// `.persisted` arrives for a batch the session never asked to persist.
    private mutating func interleave() throws(FuzzFailure) {
        if random.oneIn(8) {
            now = now.advanced(by: .milliseconds(random.below(20_000)))
            try deliver(.timer(now: now), "timer")
        }
        if random.oneIn(16), store.write() {
            try deliver(.localEntries(store.vector), "localEntries")
        }
        if random.oneIn(32) {
            // The node found a differing head: send our own origin again from some seq (only
            // while the peer has sent none of it, so "never echo the peer's entries" still holds).
            let origin = SessionFixtures.localID
            let held = store.vector[origin]
            if held > 0 && !checker.fromPeer.contains(where: { $0.origin == origin }) {
                let seq = 1 + UInt64(random.below(Int(held)))
                try deliver(.resend(origin: origin, fromSeq: seq), "resend from \(seq)")
            }
        }
        if random.oneIn(64) {
            // Only IDs the session is not waiting on: answered ones, 0, or not yet requested.
            let answered = checker.persisted.sorted()
            let id = random.oneIn(2) && !answered.isEmpty
                ? answered[random.below(answered.count)]
                : (random.oneIn(4) ? 0 : checker.persistsRequested + 1 + UInt64(random.below(3)))
            try deliver(.persisted(BatchID(rawValue: id), localVector: store.vector), "stray persisted \(id)")
        }
    }

    /// Answers the outstanding fetch or one pending persist, if any.
    private mutating func answerOne() throws(FuzzFailure) {
        if let heads = pendingHeads {
            // A head of our own origin whose dot we hold may "differ" (a fork), unless the
            // peer already sent entries of it (the checker forbids echoing those).
            pendingHeads = nil
            let own = heads.filter { head in
                head.origin == SessionFixtures.localID && head.seq <= store.vector[head.origin]
                    && !checker.fromPeer.contains { $0.origin == head.origin }
            }
            try deliver(.headsCompared(resend: random.oneIn(2) ? own.map(\.dot) : []), "headsCompared")
            return
        }
        if let fetch = pendingFetch, pendingPersists.isEmpty || random.oneIn(2) {
            pendingFetch = nil
            checker.fetchAnswered()
            let entries = store.fetch(after: fetch.after, entriesMax: fetch.entriesMax, bytesMax: fetch.bytesMax)
            try deliver(.fetched(entries.map { SignedEntry($0) }), "fetched \(entries.count)")
        } else if !pendingPersists.isEmpty {
            let (entries, id) = persistNewestFirst ? pendingPersists.removeLast() : pendingPersists.removeFirst()
            store.persist(entries)
            checker.persistAnswered(id)
            try deliver(.persisted(id, localVector: store.vector), "persisted \(id)")
        }
    }

    /// Answers requests until none is pending (bounded: each answer either ends a request
    /// or is a fetch that comes back empty once the store is drained).
    private mutating func answerAll() throws(FuzzFailure) {
        for _ in 0..<256 {
            guard pendingFetch != nil || !pendingPersists.isEmpty || pendingHeads != nil else { return }
            try answerOne()
        }
        throw FuzzFailure(.session, "requests still pending after 256 answers")
    }

    /// After the stream: a late timer must close any session, and a closed one stays silent.
    private mutating func finish() throws(FuzzFailure) {
        now = now.advanced(by: Limits.idleTimeout + .seconds(1))
        try deliver(.timer(now: now), "late timer")
        if !checker.isClosed {
            throw FuzzFailure(.session, "session still open \(Limits.idleTimeout) + 1 s after its last input")
        }
        if pendingFetch != nil {
            pendingFetch = nil
            try deliver(.fetched([]), "fetched after close")
        }
        try deliver(.received(Self.handshakePrefix, now: now), "received after close")
        try deliver(.persisted(BatchID(rawValue: 1), localVector: store.vector), "persisted after close")
        try deliver(.localEntries(store.vector), "localEntries after close")
        try deliver(.disconnected, "disconnected after close")
    }

    private mutating func deliver(_ input: SyncSession.Input, _ name: String) throws(FuzzFailure) {
        let outputs = session.handle(input)
        let wasClosed = checker.isClosed
        try checker.check(outputs, after: name)
        guard !wasClosed else { return }
        for output in outputs {
            switch output {
            case .fetch(let after, let entriesMax, let bytesMax): pendingFetch = (after, entriesMax, bytesMax)
            case .persist(let entries, let id): pendingPersists.append((entries.map(\.entry), id))
            case .peerHeads(let heads): pendingHeads = heads
            default: break
            }
        }
    }

    /// Frames received, batches received and sent, ACKs sent, and the close code, bucketed.
    private func outcome() -> UInt64 {
        let counters = session.counters
        return UInt64(min(counters.framesIn, 15)) | UInt64(min(counters.batchesReceived, 7)) << 4
            | UInt64(min(checker.batchesSent, 7)) << 7 | UInt64(min(checker.acksSent, 7)) << 10
            | UInt64(checker.closeCode?.rawValue ?? 0) << 13 | (checker.isClosed ? 1 << 20 : 0)
    }
}
