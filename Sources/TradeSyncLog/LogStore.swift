import TradeSyncClock

/// What the node needs from a log: durable appends, reads by origin and seq, and replay.
///
/// ``FileLog`` is the real one; the deterministic simulator supplies one that loses or
/// tears unsynced writes when its node crashes. Both keep the same contract:
/// - entries of one origin are appended in seq order without gaps (else
///   ``LogError/notContiguous(dot:expectedSeq:)`` and nothing is written);
/// - ``append(_:)`` returns only once the entries are durable (fsynced);
/// - ``vector`` is origin → highest seq held, and only grows while the store is open.
public protocol LogStore: AnyObject {
    /// Origin → highest seq held.
    var vector: VersionVector { get }
    /// Entries held.
    var entryCount: Int { get }
    /// Appends durably, all or nothing. - Throws: ``LogError``.
    func append(_ entries: [Entry]) throws(LogError)
    /// Entries of `origin` with seq in `(after, after + limit]`, ascending.
    /// - Throws: ``LogError`` when a read fails.
    func entries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [Entry]
    /// The last `limit` entries in append order.
    func recent(limit: Int) throws(LogError) -> [Entry]
    /// Visits every entry in append order; rethrows the visitor's errors.
    func replay(_ visit: (Entry) throws -> Void) throws
}

extension FileLog: LogStore {}
