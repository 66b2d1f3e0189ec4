import TradeSyncModel

/// One sibling of a key, as `get` and `conflicts` show it.
public struct SiblingView: Codable, Sendable, Equatable {
    /// The dots holding this value, `SHORTID:SEQ` (several when equal values collapsed).
    public var dots: [String]
    /// Highest HLC of those dots, `PHYSICALMS.LOGICAL`.
    public var hlc: String
    /// True for a tombstone.
    public var deleted: Bool
    /// The values of a put; nil for a tombstone.
    public var values: TradeValues?
    /// True for the deterministic winner.
    public var winner: Bool

    public init(dots: [String], hlc: String, deleted: Bool, values: TradeValues?, winner: Bool) {
        self.dots = dots
        self.hlc = hlc
        self.deleted = deleted
        self.values = values
        self.winner = winner
    }
}

/// A key with its winner and siblings.
public struct RecordView: Codable, Sendable, Equatable {
    /// The key in text form.
    public var key: String
    /// True when the winner is a tombstone.
    public var deleted: Bool
    /// True when more than one sibling survives.
    public var conflict: Bool
    /// The winner's values (nil when deleted).
    public var values: TradeValues?
    /// Winner first.
    public var siblings: [SiblingView]

    public init(key: String, deleted: Bool, conflict: Bool, values: TradeValues?, siblings: [SiblingView]) {
        self.key = key
        self.deleted = deleted
        self.conflict = conflict
        self.values = values
        self.siblings = siblings
    }
}

/// One log entry, as `tradesync log` shows it.
public struct LogEntryView: Codable, Sendable, Equatable {
    /// The entry's position in the log: 1 for the first entry appended, in append order.
    /// Nil from a node older than this field.
    public var position: Int?
    public var dot: String
    public var hlc: String
    public var key: String
    /// `put` or `delete`.
    public var op: String
    public var values: TradeValues?
    /// The causal context: origin node ID (hex, as in `status`'s vector) → seq.
    public var context: [String: UInt64]

    public init(dot: String, hlc: String, key: String, op: String, values: TradeValues?, context: [String: UInt64]) {
        self.dot = dot
        self.hlc = hlc
        self.key = key
        self.op = op
        self.values = values
        self.context = context
    }
}

/// What an import did.
public struct ImportResult: Codable, Sendable, Equatable {
    public var file: String
    /// Records sent by the CLI (good rows).
    public var received: Int
    /// Entries written (new or changed records).
    public var written: Int
    /// Records skipped because the node already held exactly those values.
    public var unchanged: Int

    public init(file: String, received: Int, written: Int, unchanged: Int) {
        self.file = file
        self.received = received
        self.written = written
        self.unchanged = unchanged
    }
}

/// What one `export` page holds besides its records (which travel in the frame's blob,
/// canonically encoded as in an import; see ``ControlFrame``).
public struct ExportPage: Codable, Sendable, Equatable {
    /// Records in the blob: live keys (winner is a put), in key order.
    public var records: Int
    /// How many of them are keys in conflict (the winner's values were taken).
    public var conflicts: Int
    /// The key to send as the next request's `cursor`; nil after the last page.
    public var next: String?

    /// A page summary; see the properties.
    public init(records: Int, conflicts: Int, next: String?) {
        self.records = records
        self.conflicts = conflicts
        self.next = next
    }
}

/// What a put, delete or resolve wrote.
public struct WriteResult: Codable, Sendable, Equatable {
    public var key: String
    /// The new entry's dot.
    public var dot: String
    public var hlc: String
    /// True when the node already held exactly these values and wrote nothing; `dot` is
    /// then the existing version's.
    public var unchanged: Bool?

    public init(key: String, dot: String, hlc: String, unchanged: Bool? = nil) {
        self.key = key
        self.dot = dot
        self.hlc = hlc
        self.unchanged = unchanged
    }
}

/// The node's answer. Exactly one payload field is set when `ok`; `error` when not.
public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    /// One-line reason when `ok` is false.
    public var error: String?
    /// A stable code for the failure: `not_found`, `invalid`, `refused`, `internal`.
    public var errorCode: String?
    public var status: StatusReport?
    public var records: [RecordView]?
    public var entries: [LogEntryView]?
    public var importResult: ImportResult?
    public var write: WriteResult?
    /// `log`: the position of the last entry in the log when the answer was made (pass
    /// it as ``ControlRequest/after`` to get only newer entries). Clamped to the
    /// entries returned when `after` and `limit` cut the answer short.
    public var logPosition: Int?
    /// `export`: what this page holds; the records are in the frame's blob.
    public var export: ExportPage?

    public init(
        ok: Bool = true, error: String? = nil, errorCode: String? = nil, status: StatusReport? = nil,
        records: [RecordView]? = nil, entries: [LogEntryView]? = nil, importResult: ImportResult? = nil,
        write: WriteResult? = nil
    ) {
        self.ok = ok
        self.error = error
        self.errorCode = errorCode
        self.status = status
        self.records = records
        self.entries = entries
        self.importResult = importResult
        self.write = write
    }

    /// A failure with its code and one-line reason.
    public static func failure(_ code: String, _ reason: String) -> ControlResponse {
        ControlResponse(ok: false, error: reason, errorCode: code)
    }

    enum CodingKeys: String, CodingKey {
        case ok, error, status, records, entries, write, export
        case errorCode = "error_code", importResult = "import", logPosition = "log_position"
    }
}
