import TradeSyncClock
import TradeSyncLog
import TradeSyncWire

/// One replication session with one peer over one connection, as a sans-I/O state machine.
///
/// The session owns no socket, no clock and no storage. The driver feeds it ``Input``s
/// (bytes, replies to its requests, time) through ``handle(_:)`` and carries out the
/// returned ``Output``s in order: send bytes, fetch entries from the local log, persist a
/// received batch, re-arm the timer. Every I/O is a request (`.fetch`, `.persist`) and a
/// reply (`.fetched`, `.persisted`). The session itself guarantees that no ACK leaves
/// before its batch's `.persisted`, and that ACKs leave in batch order.
///
/// Shape of one call's outputs: in the order they must be carried out; each `.send` is
/// exactly one frame; on a session that is still open the last output is `.wakeAt(t)`,
/// replacing any earlier wake-up. `.close` is sticky: afterwards every input yields `[]`.
/// Flow and rules: `Protocol/PROTOCOL.md`, "Session flow".
public struct SyncSession: Sendable {
    /// Identity and limits of one session. Limits default to the protocol's ``Limits``.
    public struct Configuration: Sendable {
        /// This node's ID, sent in HELLO.
        public var localID: NodeID
        /// The random ID of this node's log, sent in HELLO.
        public var logInstanceID: UInt64
        /// The protocol versions offered in HELLO. Versions above 1 reuse the v1 layouts;
        /// ranges other than `1...1` exist to test negotiation.
        public var versions: ClosedRange<UInt16>
        /// Most entries per batch sent, in entries.
        public var batchEntriesMax: Int
        /// Largest uncompressed payload per batch sent, in bytes.
        public var batchBytesMax: Int
        /// Most batches sent and not yet acknowledged, at most the window the two HELLOs
        /// agree on (``WideWindowFeature``).
        public var windowBatches: Int
        /// Time allowed for the peer's HELLO and VECTOR to arrive after connecting.
        public var handshakeTimeout: Duration
        /// Idle sending time after which a PING goes out.
        public var pingInterval: Duration
        /// Silence from the peer after which the session closes; also the longest a batch
        /// in flight may wait for its ACK.
        public var idleTimeout: Duration
        /// Feature bits announced in HELLO (`Protocol/PROTOCOL.md`, "HELLO"): by default
        /// every preset dictionary this build knows. A dictionary is used for sending only
        /// when the peer announced it too; received batches may use any we announced.
        public var features: UInt32

        /// Creates a configuration.
        /// - Preconditions: `versions.lowerBound >= 1`; `1 <= batchEntriesMax <= Limits.batchEntriesMax`;
        ///   `EntryLimits.entryBytesMax + 3 <= batchBytesMax <= Limits.batchBytesMax` (one
        ///   entry of any size fits); `1 <= windowBatches <= Limits.windowBatchesMaxWide`; the
        ///   three durations are positive.
        public init(
            localID: NodeID, logInstanceID: UInt64, versions: ClosedRange<UInt16> = ProtocolVersion.supported,
            batchEntriesMax: Int = Limits.batchEntriesMax, batchBytesMax: Int = Limits.batchBytesMax,
            windowBatches: Int = Limits.windowBatchesMaxWide, handshakeTimeout: Duration = Limits.handshakeTimeout,
            pingInterval: Duration = Limits.pingInterval, idleTimeout: Duration = Limits.idleTimeout,
            features: UInt32 = PresetDictionary.features(announcing: PresetDictionary.known) | HeadsFeature.bit
                | WideWindowFeature.bit
        ) {
            precondition(versions.lowerBound >= 1, "protocol versions start at 1")
            precondition(batchEntriesMax >= 1 && batchEntriesMax <= Limits.batchEntriesMax, "batchEntriesMax out of range")
            precondition(batchBytesMax >= EntryLimits.entryBytesMax + 3, "batchBytesMax below one entry")
            precondition(batchBytesMax <= Limits.batchBytesMax, "batchBytesMax above Limits.batchBytesMax")
            precondition(windowBatches >= 1 && windowBatches <= Limits.windowBatchesMaxWide, "windowBatches out of range")
            precondition(handshakeTimeout > .zero && pingInterval > .zero && idleTimeout > .zero, "durations must be > 0")
            self.localID = localID
            self.logInstanceID = logInstanceID
            self.versions = versions
            self.batchEntriesMax = batchEntriesMax
            self.batchBytesMax = batchBytesMax
            self.windowBatches = windowBatches
            self.handshakeTimeout = handshakeTimeout
            self.pingInterval = pingInterval
            self.idleTimeout = idleTimeout
            self.features = features
        }
    }

    /// What happened outside the session.
    public enum Input: Sendable {
        /// The connection is up; `localVector` is this node's durable vector now.
        case connected(localVector: VersionVector, now: MonotonicInstant)
        /// Bytes from the peer, cut anywhere (a frame may span calls, a call may hold many).
        case received([UInt8], now: MonotonicInstant)
        /// The reply to the outstanding `.fetch`: entries the node holds that `after` lacks,
        /// per origin in ascending contiguous seq order starting at `after[origin] + 1`,
        /// within the requested limits. Empty when there is nothing more.
        case fetched([SignedEntry])
        /// The batch was appended, fsynced and applied; `localVector` is the node's vector after.
        case persisted(BatchID, localVector: VersionVector)
        /// The node's vector grew (a local write, or entries from another peer).
        case localEntries(VersionVector)
        /// This node's heads (``Head``: per origin, the highest durable seq and its entry
        /// hash prefix), fed right after `.connected` and before any bytes; sent as HEADS
        /// right after our VECTOR. Without it no HEADS is sent.
        case heads([Head])
        /// The reply to `.peerHeads`: the dots whose heads differ from the local entry
        /// (forks); the session sends those origins again from there, then starts streaming.
        case headsCompared(resend: [Dot])
        /// Send these entries to the peer, one BATCH each, before anything else: both copies
        /// of a forked dot this node holds evidence of, to a peer that holds that dot, so the
        /// peer finds the fork too (whichever copy it holds, the other differs).
        case sendEvidence([Entry])
        /// Send `origin`'s entries again from `fromSeq` on: the peer holds another entry at
        /// that dot (a fork found in a batch it sent), so it gets our version as evidence too.
        case resend(origin: NodeID, fromSeq: UInt64)
        /// The timer requested by the last `.wakeAt` fired (early or late is fine).
        case timer(now: MonotonicInstant)
        /// The node refuses a batch the peer sent (``SyncError/forgedEntry(_:)``): the session
        /// sends ERROR with the error's code and description and closes.
        case refuse(SyncError)
        /// The connection is gone.
        case disconnected
    }

    /// What the driver must do, in order.
    public enum Output: Sendable, Equatable {
        /// Write these bytes (exactly one frame) to the connection.
        case send([UInt8])
        /// Read up to `entriesMax` entries and `bytesMax` payload bytes (each entry counted as
        /// ``BatchMessage/payloadBytes(of:)``) that `after` lacks; answer with `.fetched`.
        case fetch(after: VersionVector, entriesMax: Int, bytesMax: Int)
        /// Append these entries durably and apply them (skipping dots already held), then
        /// answer `.persisted` with the same batch ID.
        case persist([SignedEntry], BatchID)
        /// Deliver `.timer` at (or after) this instant; replaces any earlier wake-up.
        case wakeAt(MonotonicInstant)
        /// The peer's HELLO arrived (before negotiation, so the node learns who refused or
        /// was refused, with which version range and log instance, even when no version
        /// is common).
        case peerHello(Hello)
        /// HELLOs exchanged and a version chosen.
        case handshakeCompleted(peer: NodeID, peerLogInstance: UInt64, version: UInt16)
        /// The peer's HEADS: compare with the local log and answer `.headsCompared` with
        /// every head whose dot the node holds with another hash.
        case peerHeads([Head])
        /// What the peer is known to hold: after its VECTOR, every ACK and every BATCH it sent.
        case peerVector(VersionVector)
        /// The peer has acknowledged everything this node holds; emitted on each transition
        /// into that state.
        case inSync(peer: NodeID)
        /// The session is over; sticky. Preceded by a `.send` of ERROR when we refuse the peer.
        case close(SyncError)
    }

    enum Phase: Sendable { case idle, awaitingHello, awaitingVector, syncing, closed }

    let configuration: Configuration
    var phase: Phase = .idle
    var decoder = FrameDecoder()
    var outputs: [Output] = []
    /// Byte, frame, entry and batch counts so far.
    public internal(set) var counters = SessionCounters()

    // Time (latest instant seen; the session never reads a clock).
    var now: MonotonicInstant = .zero
    var handshakeDeadline: MonotonicInstant = .zero
    var lastSentAt: MonotonicInstant = .zero
    var lastReceivedAt: MonotonicInstant = .zero
    var pingNonce: UInt64 = 0

    /// The peer's node ID once its HELLO arrived.
    public internal(set) var peerID: NodeID?
    /// The version both sides speak once HELLOs are exchanged.
    public internal(set) var version: UInt16?
    /// The preset dictionary batches are sent with: the first one both HELLOs announced.
    public internal(set) var sendDictionary: PresetDictionary?
    /// The preset dictionaries received batches may use: those our HELLO announced.
    var receiveDictionaries: [PresetDictionary] { PresetDictionary.announced(in: configuration.features) }

    // Vectors. local: what this node holds (durably). peerKnown: what the peer holds (its
    // VECTOR, ACKs, and the batches it sent us). sent: peerKnown plus everything sent.
    // received: local plus every batch received (persisted or not) or sent; the peer's
    // batches must not start beyond it (no gaps).
    var localVector = VersionVector()
    /// Our heads, sent as HEADS after our VECTOR (nil: not given, none sent).
    var localHeads: [Head]?
    var headsReceived = false
    /// True while streaming waits for the peer's HEADS to be compared (the peer set
    /// ``HeadsFeature/bit`` and we did too).
    var awaitingHeads = false
    /// The window both sides keep to, set from the two HELLOs (``WideWindowFeature``):
    /// the most batches the peer may have unacknowledged, and, capped by
    /// ``Configuration/windowBatches``, the most we send.
    var windowBatches = Limits.windowBatchesMax
    var peerKnown = VersionVector()
    var sentVector = VersionVector()
    var receivedVector = VersionVector()

    // Sending side.
    /// Fork evidence entries still to send, one per BATCH, ahead of fetched entries.
    var evidenceQueue: [Entry] = []
    var fetchAfter: VersionVector?
    var localVectorAtFetch = VersionVector()
    var drained = false
    var inFlight: [BatchID] = []
    /// Since when the oldest batch in flight has waited for its ACK: when it was sent into
    /// an empty window, or when the previous ACK arrived.
    var ackWaitSince: MonotonicInstant = .zero
    var nextBatchID: UInt64 = 1
    var isInSync = false

    // Receiving side: batches in arrival order, persisted or not; ACKed from the front.
    var lastBatchIDReceived: UInt64 = 0
    var persistQueue: [(id: BatchID, persisted: Bool)] = []

    /// Creates a session that waits for `.connected`.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// True once the session emitted `.close`.
    public var isClosed: Bool { phase == .closed }

    /// Advances the session by one input and returns what to do, in order.
    ///
    /// - Precondition: `.connected` comes first and once; `.received` not before it;
    ///   `.fetched` only in reply to an outstanding `.fetch`. A `.persisted` for a batch
    ///   ID the session is not waiting on is ignored.
    /// Complexity: O(bytes received + entries fetched or persisted).
    public mutating func handle(_ input: Input) -> [Output] {
        guard phase != .closed else { return [] }
        if phase == .idle {
            switch input {
            case .connected: break
            case .received: preconditionFailure("SyncSession: .received before .connected")
            case .fetched: preconditionFailure("SyncSession: .fetched before .connected")
            case .disconnected:
                close(.disconnected)
                return takeOutputs()
            case .heads(let heads):
                localHeads = heads
                return []
            case .persisted, .localEntries, .timer, .resend, .headsCompared, .sendEvidence, .refuse: return []
            }
        }
        switch input {
        case .connected(let vector, let now): onConnected(localVector: vector, now: now)
        case .received(let bytes, let now): onReceived(bytes, now: now)
        case .fetched(let entries): onFetched(entries)
        case .persisted(let batchID, let vector): onPersisted(batchID, localVector: vector)
        case .localEntries(let vector): onLocalEntries(vector)
        case .heads(let heads): localHeads = heads
        case .resend(let origin, let seq): onResend(origin: origin, fromSeq: seq)
        case .headsCompared(let dots): onHeadsCompared(dots)
        case .sendEvidence(let entries): onSendEvidence(entries)
        case .timer(let now): onTimer(now: now)
        case .refuse(let error): fail(error)
        case .disconnected: close(.disconnected)
        }
        if phase != .closed {
            updateInSync()
            outputs.append(.wakeAt(nextDeadline))
        }
        return takeOutputs()
    }

    private mutating func takeOutputs() -> [Output] {
        let result = outputs
        outputs = []
        return result
    }

    // MARK: - Connection and time

    private mutating func onConnected(localVector vector: VersionVector, now instant: MonotonicInstant) {
        precondition(phase == .idle, "SyncSession: .connected twice")
        now = instant
        lastSentAt = instant
        lastReceivedAt = instant
        handshakeDeadline = instant.advanced(by: configuration.handshakeTimeout)
        localVector = vector
        receivedVector = vector
        phase = .awaitingHello
        let hello = Hello(
            versions: configuration.versions, nodeID: configuration.localID,
            logInstanceID: configuration.logInstanceID, features: configuration.features)
        send(.hello(hello))
    }

    private mutating func onTimer(now instant: MonotonicInstant) {
        advanceTime(to: instant)
        switch phase {
        case .awaitingHello, .awaitingVector:
            if now >= handshakeDeadline { fail(.handshakeTimeout(configuration.handshakeTimeout)) }
        case .syncing:
            if awaitingHeads && !headsReceived && now >= handshakeDeadline {
                // The peer announced HEADS; without them this session would never stream.
                fail(.handshakeTimeout(configuration.handshakeTimeout))
            } else if now >= lastReceivedAt.advanced(by: configuration.idleTimeout) {
                fail(.idleTimeout(configuration.idleTimeout))
            } else if let oldest = inFlight.first, now >= ackWaitSince.advanced(by: configuration.idleTimeout) {
                // PINGs keep a session alive, so a BATCH or ACK that never arrives must be noticed here.
                fail(.ackTimeout(batchID: oldest.rawValue, configuration.idleTimeout))
            } else if now >= lastSentAt.advanced(by: configuration.pingInterval) {
                pingNonce += 1
                send(.ping(nonce: pingNonce))
            }
        case .idle, .closed:
            break
        }
    }

    /// The next instant something is due: the handshake deadline, else the earliest of the
    /// idle deadline, the next PING and (with batches in flight) the ACK deadline.
    var nextDeadline: MonotonicInstant {
        switch phase {
        case .syncing:
            min(
                awaitingHeads && !headsReceived ? handshakeDeadline : .init(nanoseconds: .max),
                lastReceivedAt.advanced(by: configuration.idleTimeout),
                lastSentAt.advanced(by: configuration.pingInterval),
                inFlight.isEmpty ? .init(nanoseconds: .max) : ackWaitSince.advanced(by: configuration.idleTimeout))
        case .idle, .awaitingHello, .awaitingVector, .closed:
            handshakeDeadline
        }
    }

    mutating func advanceTime(to instant: MonotonicInstant) {
        if instant > now { now = instant }
    }

    // MARK: - Output helpers

    mutating func emit(_ output: Output) { outputs.append(output) }

    /// Sends one message as one frame.
    mutating func send(_ message: Message) {
        let bytes = message.encoded()
        counters.bytesOut += UInt64(bytes.count)
        counters.framesOut += 1
        lastSentAt = now
        outputs.append(.send(bytes))
    }

    /// Refuses the peer: sends ERROR with the reason's code and description, then closes.
    mutating func fail(_ error: SyncError) {
        send(.error(ErrorMessage(code: error.errorCode, reason: error.description)))
        close(error)
    }

    /// Closes without telling the peer (it closed, or it sent ERROR).
    mutating func close(_ error: SyncError) {
        phase = .closed
        decoder = FrameDecoder()
        persistQueue = []
        outputs.append(.close(error))
    }
}
