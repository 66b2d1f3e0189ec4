import TradeSyncModel

/// The commands the CLI sends to a running node over its control socket.
public enum ControlCommand: String, Codable, Sendable {
    /// `peers`: the status without its digests (cheap enough to poll).
    case status, peers, get, query, put, delete, conflicts, resolve, log, export
    case importRecords = "import"
    /// `wait`: answers (as `peers` does) once the node holds ``ControlRequest/entries``
    /// entries durably, or fails with code `timeout` after ``ControlRequest/timeoutMs``.
    case wait
}

/// One `field=value` assignment from the command line (`value_usd=1200.5`).
public struct FieldAssignment: Codable, Sendable, Equatable {
    public let field: String
    public let value: String
    public init(field: String, value: String) {
        self.field = field
        self.value = value
    }

    /// Parses `field=value`. - Throws: ``FieldError`` when there is no `=`.
    public init(parsing text: String) throws(FieldError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw FieldError(field: text, reason: "expected field=value")
        }
        self.init(field: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
    }
}

/// Query criteria, as `tradesync query` flags give them (text forms; the node validates).
public struct QueryFilter: Codable, Sendable, Equatable {
    public var reporter: String?
    public var partner: String?
    public var flow: String?
    /// Prefix of the commodity code.
    public var commodity: String?
    /// `YYYY[MM]` or `FROM..TO` (either side may be empty).
    public var period: String?
    public var includeDeleted: Bool?

    public init(
        reporter: String? = nil, partner: String? = nil, flow: String? = nil, commodity: String? = nil,
        period: String? = nil, includeDeleted: Bool? = nil
    ) {
        self.reporter = reporter
        self.partner = partner
        self.flow = flow
        self.commodity = commodity
        self.period = period
        self.includeDeleted = includeDeleted
    }

    enum CodingKeys: String, CodingKey {
        case reporter, partner, flow, commodity, period
        case includeDeleted = "include_deleted"
    }
}

/// A request to the node. The JSON part of a control frame; `import` carries its records
/// in the frame's binary part (see ``ControlFrame``).
public struct ControlRequest: Codable, Sendable, Equatable {
    public var command: ControlCommand
    /// The key in text form, for get, put, delete and resolve.
    public var key: String?
    /// Field assignments, for put and resolve.
    public var fields: [FieldAssignment]?
    /// The dot of the sibling to keep, for `resolve --pick`.
    public var pick: String?
    public var filter: QueryFilter?
    /// `log`: the position of the last entry already seen (1-based, in log order); the
    /// answer then holds the entries after it, oldest first, up to `limit`
    /// (``ControlResponse/logPosition`` is the position to pass next). Nil: the most
    /// recent `limit` entries.
    public var after: Int?
    /// `export`: the last key of the previous page (text form); the page starts after it.
    /// Nil: from the first key.
    public var cursor: String?
    /// At most this many results (query, conflicts, log, export).
    public var limit: Int?
    /// The imported file's path, for messages and the log.
    public var file: String?
    /// For import: rows of the file the CLI skipped as invalid (`--skip-invalid`) and did
    /// not send; counted in the node's `tradesync_import_rows_total{result="rejected"}`.
    public var rejectedRows: Int?
    /// For import, with the first chunk: the records the whole import sends, so the node
    /// makes room for their keys once. A node older than this field ignores it.
    public var importTotal: Int?
    /// For wait: the entry count (the sum of the node's version vector) to wait for.
    public var entries: Int?
    /// For wait: how long the node waits before it answers `timeout`, in milliseconds
    /// (at most ``waitTimeoutMsMax``). Nil: the longest.
    public var timeoutMs: Int?

    /// The longest wait one request may ask for: 24 hours, in milliseconds. The CLI waits
    /// longer by asking again.
    public static let waitTimeoutMsMax = 24 * 3600 * 1000

    enum CodingKeys: String, CodingKey {
        case command, key, fields, pick, filter, after, cursor, limit, file, entries
        case rejectedRows = "rejected_rows"
        case importTotal = "import_total"
        case timeoutMs = "timeout_ms"
    }

    public init(
        command: ControlCommand, key: String? = nil, fields: [FieldAssignment]? = nil, pick: String? = nil,
        filter: QueryFilter? = nil, limit: Int? = nil, file: String? = nil, rejectedRows: Int? = nil,
        importTotal: Int? = nil, entries: Int? = nil, timeoutMs: Int? = nil
    ) {
        self.command = command
        self.key = key
        self.fields = fields
        self.pick = pick
        self.filter = filter
        self.limit = limit
        self.file = file
        self.rejectedRows = rejectedRows
        self.importTotal = importTotal
        self.entries = entries
        self.timeoutMs = timeoutMs
    }
}

/// The state of one peer, as `status` and `peers` report it: the live session if any,
/// and what the node remembers of the peer across restarts (its peer book).
public struct PeerStatus: Codable, Sendable, Equatable {
    /// The configured `HOST:PORT`, or the remote address of an inbound session.
    public var address: String
    /// True for a peer in the config's peer list (this node dials it).
    public var configured: Bool?
    /// The peer's node ID (hex), once a handshake has told it.
    public var nodeID: String?
    public var connected: Bool
    /// Entries this node holds that the peer has not acknowledged (while disconnected:
    /// as of the end of its last session).
    public var behind: UInt64
    /// True when the peer has acknowledged everything this node holds.
    public var inSync: Bool
    /// Negotiated protocol version of the current session.
    public var protocolVersion: Int?
    /// The protocol version negotiated in the last session that got through its handshake
    /// (kept across restarts).
    public var lastVersion: Int?
    /// The version range `[min,max]` the peer offered in its last HELLO (kept across restarts).
    public var peerVersions: String?
    /// The peer's log instance ID (hex) from its last HELLO.
    public var logInstance: String?
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    public var entriesSent: UInt64
    public var entriesReceived: UInt64
    /// Why the last session ended or the last dial failed (kept across restarts).
    public var lastError: String?
    /// When `lastError` was last seen (UTC, ISO 8601).
    public var lastErrorAt: String?
    /// When the last session got through its handshake (UTC, ISO 8601).
    public var lastSessionAt: String?
    /// Set when the peer forwarded an entry that forks an origin (same dot, other
    /// content), or is itself a quarantined origin: one line naming the dot.
    public var fork: String?
    /// Set once the peer sent an entry its origin's signature does not vouch for (forged
    /// or altered on the way): when, the origin, the dots and the reason.
    public var forged: String?
    /// Entries from this peer refused by authorization (origin the peer may not send, or
    /// reporter the origin may not author), kept across restarts.
    public var refused: Int?

    public init(
        address: String, configured: Bool? = nil, nodeID: String? = nil, connected: Bool = false, behind: UInt64 = 0,
        inSync: Bool = false, protocolVersion: Int? = nil, lastVersion: Int? = nil, peerVersions: String? = nil,
        logInstance: String? = nil, bytesSent: UInt64 = 0, bytesReceived: UInt64 = 0, entriesSent: UInt64 = 0,
        entriesReceived: UInt64 = 0, lastError: String? = nil, lastErrorAt: String? = nil, lastSessionAt: String? = nil,
        fork: String? = nil
    ) {
        self.address = address
        self.configured = configured
        self.nodeID = nodeID
        self.connected = connected
        self.behind = behind
        self.inSync = inSync
        self.protocolVersion = protocolVersion
        self.lastVersion = lastVersion
        self.peerVersions = peerVersions
        self.logInstance = logInstance
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.entriesSent = entriesSent
        self.entriesReceived = entriesReceived
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.lastSessionAt = lastSessionAt
        self.fork = fork
    }

    enum CodingKeys: String, CodingKey {
        case address, configured, connected, behind, fork, forged
        case refused = "refused_entries"
        case nodeID = "node_id", inSync = "in_sync", protocolVersion = "protocol_version"
        case lastVersion = "last_version", peerVersions = "peer_versions", logInstance = "log_instance"
        case bytesSent = "bytes_sent", bytesReceived = "bytes_received"
        case entriesSent = "entries_sent", entriesReceived = "entries_received", lastError = "last_error"
        case lastErrorAt = "last_error_at", lastSessionAt = "last_session_at"
    }
}

/// `tradesync status`: who the node is and what it holds.
public struct StatusReport: Codable, Sendable, Equatable {
    /// The node ID, 64 hex digits.
    public var nodeID: String
    /// Keys whose winner is a put.
    public var records: Int
    /// Keys with any version, tombstoned ones included.
    public var keys: Int
    /// Keys with more than one sibling.
    public var conflicts: Int
    public var tombstones: Int
    /// Entries in the log.
    public var entries: Int
    /// The version vector: origin node ID (hex) → highest contiguous seq held.
    public var vector: [String: UInt64]
    /// SHA-256 of the canonical state (hex); equal on converged nodes.
    public var digest: String
    /// SHA-256 (hex) of the live content only: each key whose winner is a put, in key
    /// order, with the winner's values (no dots, HLCs, tombstones or losing siblings).
    /// Equal on nodes that hold the same records however they got them (a fresh node that
    /// imported an export of this one). Nil from a node older than this field.
    public var contentDigest: String?
    public var peers: [PeerStatus]
    public var listen: String
    public var dataDir: String
    /// The log's instance ID (hex), made when the log was created.
    public var logInstance: String
    /// Why local writes (`put`, `delete`, `resolve`, `import`) are refused, when they are:
    /// the node is behind on its own origin (restored from an older backup) until it has
    /// pulled its entries back, or its own origin is forked. Nil while writes are accepted.
    public var writesRefused: String?
    /// Forks found (two different entries with one dot), one per quarantined origin.
    public var forks: [ForkStatus]?
    /// Entries of quarantined origins received and not applied since the node started.
    public var quarantineSkipped: Int?
    /// Received entries refused since start because the sending peer may not send their
    /// origin (config `[[peer]] origins`).
    public var refusedOrigin: Int?
    /// Received entries refused since start because their origin may not author their
    /// reporter (config `[[origin]] reporters`), with the later entries of that origin.
    public var refusedReporter: Int?
    /// Batches refused since start because an entry was forged or altered.
    public var forgedBatches: Int?
    /// Entries covered by the last checkpoint written (a restart loads it and replays
    /// `entries - checkpointEntries` entries). Nil from a node older than these fields.
    public var checkpointEntries: Int?
    /// A checkpoint is being written, or is due (the entries past the last one reached the
    /// node's `checkpoint_entries` setting and a quarter of those covered): it is taken once
    /// entries stop coming in for a second. False: the node has no checkpoint work left.
    public var checkpointPending: Bool?

    public init(
        nodeID: String, records: Int, keys: Int, conflicts: Int, tombstones: Int, entries: Int,
        vector: [String: UInt64], digest: String, peers: [PeerStatus], listen: String, dataDir: String,
        logInstance: String
    ) {
        self.nodeID = nodeID
        self.records = records
        self.keys = keys
        self.conflicts = conflicts
        self.tombstones = tombstones
        self.entries = entries
        self.vector = vector
        self.digest = digest
        self.peers = peers
        self.listen = listen
        self.dataDir = dataDir
        self.logInstance = logInstance
    }

    enum CodingKeys: String, CodingKey {
        case records, keys, conflicts, tombstones, entries, vector, digest, peers, listen
        case contentDigest = "content_digest"
        case nodeID = "node_id", dataDir = "data_dir", logInstance = "log_instance"
        case writesRefused = "writes_refused", forks, quarantineSkipped = "quarantine_skipped"
        case refusedOrigin = "refused_origin", refusedReporter = "refused_reporter", forgedBatches = "forged_batches"
        case checkpointEntries = "checkpoint_entries", checkpointPending = "checkpoint_pending"
    }
}

/// One fork: two different entries with the same dot, so the origin's data directory was
/// cloned or restored and written on twice. The origin is quarantined: its new entries are
/// not applied. The evidence file holds both entries (format in `ForkEvidence.swift`).
public struct ForkStatus: Codable, Sendable, Equatable {
    /// The quarantined origin's node ID (hex).
    public var origin: String
    /// The dot both entries claim, `SHORTID:SEQ`.
    public var dot: String
    /// SHA-256 (hex) of the entry this node held.
    public var heldHash: String
    /// SHA-256 (hex) of the other entry, as received.
    public var receivedHash: String
    /// The key each entry writes, in text form (they may differ).
    public var heldKey: String
    public var receivedKey: String
    /// The evidence file.
    public var evidence: String

    public init(
        origin: String, dot: String, heldHash: String, receivedHash: String, heldKey: String, receivedKey: String,
        evidence: String
    ) {
        self.origin = origin
        self.dot = dot
        self.heldHash = heldHash
        self.receivedHash = receivedHash
        self.heldKey = heldKey
        self.receivedKey = receivedKey
        self.evidence = evidence
    }

    enum CodingKeys: String, CodingKey {
        case origin, dot, evidence
        case heldHash = "held_hash", receivedHash = "received_hash", heldKey = "held_key", receivedKey = "received_key"
    }
}
