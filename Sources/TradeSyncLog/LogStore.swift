import TradeSyncClock

/// What the node needs from a log: appends that become durable, reads by origin and seq,
/// replay, and the state a checkpoint saved.
///
/// ``FileLog`` is the real one; the deterministic simulator supplies one that loses or
/// tears unsynced writes when its node crashes. Both keep the same contract:
/// - entries of one origin are appended in seq order without gaps (else
///   ``LogError/notContiguous(dot:expectedSeq:)`` and nothing is written);
/// - ``write(_:)`` returns a ticket (the entry count after the batch); the batch is
///   durable once ``durableCount`` reaches it, which ``sync()`` (or a group commit)
///   brings about; ``append(_:)`` is both;
/// - ``vector`` is origin → highest seq written, ``durableVector`` the same over durable
///   entries only; both only grow while the store is open.
public protocol LogStore: AnyObject {
    /// Origin → highest seq written.
    var vector: VersionVector { get }
    /// Origin → highest seq durable (what may be acknowledged or sent).
    var durableVector: VersionVector { get }
    /// Entries written.
    var entryCount: Int { get }
    /// Entries durable: the first `durableCount` in log order.
    var durableCount: Int { get }
    /// The state a valid checkpoint saved and the entries it covers; nil without one.
    var checkpoint: LogCheckpoint? { get }
    /// Writes a batch, all or nothing, not yet durable; returns the entry count after it.
    /// - Throws: ``LogError``.
    func write(_ entries: [Entry]) throws(LogError) -> Int
    /// Makes every written entry durable. - Throws: ``LogError``.
    func sync() throws(LogError)
    /// Writes durably, all or nothing. - Throws: ``LogError``.
    func append(_ entries: [Entry]) throws(LogError)
    /// Entries of `origin` with seq in `(after, after + limit]`, ascending.
    /// - Throws: ``LogError`` when a read fails.
    func entries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [Entry]
    /// The last `limit` entries in log order.
    func recent(limit: Int) throws(LogError) -> [Entry]
    /// Visits every entry from entry number `first` on, in log order; rethrows the
    /// visitor's errors.
    func replay(from first: Int, _ visit: (Entry) throws -> Void) throws
    /// ``write(_:)`` with the seals some entries carry, stored with them.
    /// - Throws: ``LogError``.
    func write(sealed: [SealedEntry]) throws(LogError) -> Int
    /// ``entries(origin:after:limit:)`` with each entry's stored seal, if any.
    /// - Throws: ``LogError`` when a read fails.
    func sealedEntries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [SealedEntry]
}

extension LogStore {
    /// A store that keeps no seals (the simulator's) drops them.
    public func write(sealed: [SealedEntry]) throws(LogError) -> Int { try write(sealed.map(\.entry)) }
    /// A store that keeps no seals returns none.
    public func sealedEntries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [SealedEntry] {
        try entries(origin: origin, after: seq, limit: limit).map { SealedEntry($0) }
    }
}

extension FileLog: LogStore {}
