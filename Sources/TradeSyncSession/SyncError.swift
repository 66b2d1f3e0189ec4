import TradeSyncClock
import TradeSyncModel
import TradeSyncWire

/// Why a ``SyncSession`` closed. Each case names one reason; ``description`` is one line
/// with the numbers, and ``errorCode`` is the ERROR code sent to the peer (when one is sent).
/// Source: `Protocol/PROTOCOL.md`, "Session flow" and "Error codes".
public enum SyncError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer's bytes could not be decoded: oversize frame, bad magic, malformed or
    /// unknown message, bad zlib stream.
    case wire(WireError)
    /// The HELLO version ranges do not overlap.
    case versionMismatch(ours: ClosedRange<UInt16>, theirs: ClosedRange<UInt16>)
    /// The peer's HELLO and VECTOR did not both arrive within this time of connecting.
    case handshakeTimeout(Duration)
    /// Nothing was received from the peer for this long.
    case idleTimeout(Duration)
    /// The oldest batch in flight waited this long for its ACK (a lost BATCH or ACK, which
    /// the PINGs that keep the session alive would otherwise hide).
    case ackTimeout(batchID: UInt64, Duration)
    /// A BATCH arrived while `windowBatchesMax` batches were already unacknowledged.
    case windowExceeded(batchID: UInt64, windowBatchesMax: Int)
    /// A well-formed message that breaks the session rules (wrong order, unknown batch
    /// acknowledged, a gap in an origin's sequence numbers).
    case protocolViolation(String)
    /// The peer sent ERROR and closed.
    case peerError(code: ErrorCode, reason: String)
    /// The peer has our own node ID: a connection to ourselves, or a cloned data directory.
    case sameNode(NodeID)
    /// The connection ended (the driver reported `.disconnected`).
    case disconnected
    /// This node ends the session on purpose (it is stopping, or the peer left its
    /// config): ERROR `shutdown` tells the peer so, with this reason.
    case closing(String)
    /// The node refused a batch: an entry its origin's signature does not vouch for
    /// (forged or altered on the way). The text names origin, dots and reason.
    case forgedEntry(String)

    /// One line with the numbers; also the reason text of the ERROR sent to the peer.
    public var description: String {
        switch self {
        case .wire(let error): error.description
        case .versionMismatch(let ours, let theirs):
            WireError.versionMismatch(ours: ours, theirs: theirs).description
        case .handshakeTimeout(let limit): "handshake not completed within handshakeTimeout = \(seconds(limit)) s"
        case .idleTimeout(let limit): "nothing received from the peer for idleTimeout = \(seconds(limit)) s"
        case .ackTimeout(let batchID, let limit):
            "batch \(batchID) not acknowledged within idleTimeout = \(seconds(limit)) s"
        case .windowExceeded(let batchID, let max):
            "BATCH \(batchID) beyond the window: \(Self.windowLimitName(max)) = \(max) batches already unacknowledged"
        case .protocolViolation(let reason): "protocol violation: \(reason)"
        case .peerError(let code, let reason) where code == .shutdown: "closed by the peer: \(reason)"
        case .peerError(let code, let reason): "peer refused (\(code), code \(code.rawValue)): \(reason)"
        case .closing(let reason): reason
        case .sameNode(let id): "peer has our own node ID \(id.short) (connected to itself, or a cloned data directory)"
        case .disconnected: "connection closed"
        case .forgedEntry(let reason): "forged entry refused: \(reason)"
        }
    }

    /// The code of the ERROR message a session sends before closing for this reason.
    public var errorCode: ErrorCode {
        switch self {
        case .wire(let error): error.errorCode
        case .versionMismatch: .versionMismatch
        case .handshakeTimeout, .idleTimeout, .ackTimeout: .timeout
        case .windowExceeded: .limitExceeded
        case .protocolViolation: .unexpectedMessage
        case .peerError(let code, _): code
        case .sameNode: .sameNode
        case .disconnected, .closing: .shutdown
        case .forgedEntry: .forgedEntry
        }
    }
}

extension SyncError {
    /// The limit a window of `batches` is: `windowBatchesMaxWide` when both HELLOs set
    /// `window-16`, else `windowBatchesMax`.
    static func windowLimitName(_ batches: Int) -> String {
        batches == Limits.windowBatchesMaxWide ? "windowBatchesMaxWide" : "windowBatchesMax"
    }

    /// The name of the limit (PROTOCOL.md "Limits") this refusal enforces, e.g.
    /// `frameBytesMax`, `handshakeTimeout`; nil when the reason is not a limit.
    public var limitName: String? {
        switch self {
        case .wire(let error): error.limit?.name
        case .handshakeTimeout: "handshakeTimeout"
        case .idleTimeout, .ackTimeout: "idleTimeout"
        case .windowExceeded(_, let max): Self.windowLimitName(max)
        case .versionMismatch, .protocolViolation, .peerError, .sameNode, .disconnected, .closing, .forgedEntry: nil
        }
    }

    /// True for refusals that another attempt will meet again (no common version, our own
    /// node ID): the dialler backs off long instead of retrying soon.
    public var isPersistentRefusal: Bool {
        switch self {
        case .versionMismatch, .sameNode: true
        case .peerError(let code, _): code == .versionMismatch || code == .sameNode
        default: false
        }
    }

    /// True when the peer ended the session on purpose (ERROR `shutdown`: it is stopping,
    /// or it no longer configures this node): a normal event, not a failure.
    public var isOrderlyClose: Bool {
        if case .peerError(let code, _) = self { return code == .shutdown }
        return false
    }
}

private func seconds(_ duration: Duration) -> String {
    let (whole, atto) = duration.components
    let millis = atto / 1_000_000_000_000_000
    return millis == 0 ? "\(whole)" : "\(whole).\(String(millis + 1000).dropFirst())"
}

/// Byte, frame, entry and batch counts of one session, for metrics and the CLI.
///
/// Units: bytes count everything on the wire (frame headers included) except where named
/// otherwise. Compression ratio = ``uncompressedBytesSent`` / ``payloadBytesSent``.
public struct SessionCounters: Equatable, Sendable {
    /// Bytes received, as fed to the session.
    public internal(set) var bytesIn: UInt64 = 0
    /// Bytes emitted in `.send` outputs.
    public internal(set) var bytesOut: UInt64 = 0
    /// Complete frames received.
    public internal(set) var framesIn: UInt64 = 0
    /// Frames sent (one per `.send`).
    public internal(set) var framesOut: UInt64 = 0
    /// Entries sent in BATCH messages.
    public internal(set) var entriesSent: UInt64 = 0
    /// Entries received in BATCH messages.
    public internal(set) var entriesReceived: UInt64 = 0
    /// BATCH messages sent.
    public internal(set) var batchesSent: UInt64 = 0
    /// BATCH messages received.
    public internal(set) var batchesReceived: UInt64 = 0
    /// Uncompressed payload bytes of the batches sent (their `uncompressedLength`).
    public internal(set) var uncompressedBytesSent: UInt64 = 0
    /// Payload bytes of the batches sent as they went out (deflated where that helped).
    public internal(set) var payloadBytesSent: UInt64 = 0

    /// All counters at zero.
    public init() {}
}
