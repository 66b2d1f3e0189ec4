import TradeSyncClock
import TradeSyncLog
import TradeSyncSession
import TradeSyncWire

/// Identifies one TCP connection for the lifetime of the process.
public struct LinkID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "link-\(rawValue)" }
}

/// Which side opened a connection.
public enum LinkDirection: String, Sendable {
    case inbound, outbound
}

/// What ``SessionHost/persist(_:link:)`` returns.
public struct PersistResult: Sendable {
    /// The node's durable vector after the batch (what the ACK carries).
    public var vector: VersionVector
    /// Dots the batch forked: held here with other content.
    public var forks: [Dot]

    public init(vector: VersionVector, forks: [Dot] = []) {
        self.vector = vector
        self.forks = forks
    }
}

/// What ``SessionHost/compareHeads(_:link:)`` returns.
public struct HeadsComparison: Sendable {
    /// Dots whose heads differ from the local entry: send their origins again from there.
    public var resend: [Dot]
    /// Both entries of each known fork whose dot the peer holds.
    public var evidence: [Entry]

    public init(resend: [Dot] = [], evidence: [Entry] = []) {
        self.resend = resend
        self.evidence = evidence
    }
}

/// What a connection needs from the node that owns the log and the replica.
///
/// The node (an actor in the daemon) implements it; the transport drives one
/// ``SyncSession`` per connection and turns its requests into these calls. Every call is
/// made from that connection's single driver task, in the order the session asked.
public protocol SessionHost: Sendable {
    /// The node's current version vector.
    func localVector() async -> VersionVector

    /// The node's heads: per origin of its durable vector, that seq and the hash prefix of
    /// the entry there (sent as HEADS after VECTOR).
    func localHeads() async -> [Head]

    /// Compares the peer's heads with the local log: returns the dots the node holds with
    /// a different entry hash (each a fork; the session resends that origin from there),
    /// and both copies of each fork this node already holds evidence of whose dot the peer
    /// holds (sent to it, so the peer learns of the fork too).
    func compareHeads(_ heads: [Head], link: LinkID) async -> HeadsComparison

    /// Entries the node holds that `after` lacks: per origin in ascending seq order,
    /// starting right after `after[origin]`, at most `entriesMax` entries and about
    /// `bytesMax` bytes of encodings. Empty when `after` covers everything held.
    func fetch(after: VersionVector, entriesMax: Int, bytesMax: Int) async -> [SignedEntry]

    /// Appends a received batch durably (fsync) and applies it; returns the node's vector
    /// afterwards, and the dots at which the batch revealed a fork (the session then sends
    /// the peer our entries of that origin from there, so it holds the evidence too).
    /// Entries already held are skipped.
    /// Each origin's signature must vouch for its new entries (PROTOCOL.md "Signed entries").
    /// - Throws: ``SyncError/forgedEntry(_:)`` for a forged or altered entry (the session
    ///   sends ERROR `forgedEntry` and closes); any other error when the batch skips ahead
    ///   of what the node holds, or the log fails; the session is then closed.
    func persist(_ entries: [SignedEntry], link: LinkID) async throws -> PersistResult

    /// The peer's HELLO arrived on a connection (before negotiation: also when no
    /// version is common and the connection is about to be refused).
    func peerHello(link: LinkID, direction: LinkDirection, address: String, hello: Hello) async

    /// A handshake completed. Returns false when the node wants this connection closed
    /// (a duplicate session with the same peer, or a connection to itself).
    ///
    /// `authenticated` is the node ID the peer's TLS certificate proved (equal to `peer`,
    /// which the transport checked), nil on a plain-TCP (insecure) connection; per-peer
    /// settings apply to it. `notify` feeds the session a grown local vector (live push);
    /// `close` ends the session on purpose, telling the peer why (ERROR `shutdown` with
    /// the reason given): a later duplicate won, the node is stopping, or the peer left
    /// the config.
    func sessionStarted(
        link: LinkID, direction: LinkDirection, address: String, peer: NodeID, version: UInt16,
        authenticated: NodeID?, notify: @escaping @Sendable (VersionVector) -> Void,
        close: @escaping @Sendable (String) -> Void
    ) async -> Bool

    /// The peer acknowledged (or announced) this vector.
    func peerVector(link: LinkID, _ vector: VersionVector) async

    /// The peer has acknowledged everything the node holds.
    func inSync(link: LinkID) async

    /// Byte and entry counters of a live session, reported after each step.
    func counters(link: LinkID, _ counters: SessionCounters) async

    /// The connection ended; `reason` is nil for a clean local shutdown. `error` is the
    /// session's typed reason when the session itself closed (a refusal, a limit, a
    /// timeout, the peer's ERROR), nil for transport failures.
    func sessionEnded(link: LinkID, address: String, reason: String?, error: SyncError?) async
}
