/// Protocol versions and their negotiation (`Protocol/PROTOCOL.md`, "Version negotiation").
public enum ProtocolVersion {
    /// The versions this build speaks. Version 2 (issue 6) adds signed entries: every
    /// BATCH has a signature section, and receivers verify before appending. Version 1
    /// carried unsigned entries, which a v2 node must not accept, so it is not offered.
    /// Version 3 sends BATCH payloads columnar (flag bit 2, ``ColumnarPayload``); a v3
    /// receiver takes row payloads too.
    public static let supported: ClosedRange<UInt16> = 2...3

    /// The first version whose BATCHes may be columnar (flag bit 2).
    public static let columnarMin: UInt16 = 3

    /// Picks the version two peers speak: the highest version in both ranges, that is
    /// `min(ours.max, theirs.max)` when it is at least `max(ours.min, theirs.min)`.
    ///
    /// Symmetric: both peers compute the same result from the two HELLOs.
    /// - Throws: ``WireError/versionMismatch(ours:theirs:)`` when the ranges do not overlap.
    public static func negotiate(
        ours: ClosedRange<UInt16>, theirs: ClosedRange<UInt16>
    ) throws(WireError) -> UInt16 {
        let chosen = min(ours.upperBound, theirs.upperBound)
        guard chosen >= max(ours.lowerBound, theirs.lowerBound) else {
            throw .versionMismatch(ours: ours, theirs: theirs)
        }
        return chosen
    }

    /// `[min,max]`, the text form of a version range in descriptions and ERROR reasons.
    public static func text(_ range: ClosedRange<UInt16>) -> String { "[\(range.lowerBound),\(range.upperBound)]" }
}

/// The code of an ERROR message (`Protocol/PROTOCOL.md`, "Error codes"), a `u16`.
///
/// A struct rather than an enum so that codes a later version adds still decode; known
/// codes have names, unknown ones print as their number.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The code as sent on the wire.
    public let rawValue: UInt16

    /// Wraps a code, known or not.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// A frame or message body does not follow its layout (includes bad HELLO magic).
    public static let malformed = ErrorCode(rawValue: 1)
    /// The HELLO version ranges do not overlap; the reason gives both ranges.
    public static let versionMismatch = ErrorCode(rawValue: 2)
    /// A frame, batch, vector or string exceeds a limit of the "Limits" table.
    public static let limitExceeded = ErrorCode(rawValue: 3)
    /// A well-formed message that is not allowed now (before HELLO, an ACK out of order,
    /// a batch beyond the window, a gap in sequence numbers).
    public static let unexpectedMessage = ErrorCode(rawValue: 4)
    /// A message type this version does not define.
    public static let unknownMessageType = ErrorCode(rawValue: 5)
    /// A deflated payload is corrupt, truncated, or inflates to other than its declared length.
    public static let compression = ErrorCode(rawValue: 6)
    /// The handshake or the idle timer expired.
    public static let timeout = ErrorCode(rawValue: 7)
    /// The peer connected to itself (its node ID equals ours).
    public static let sameNode = ErrorCode(rawValue: 8)
    /// The sender is shutting down.
    public static let shutdown = ErrorCode(rawValue: 9)
    /// The sender failed for a reason of its own (zlib initialisation, storage).
    public static let internalError = ErrorCode(rawValue: 10)
    /// A BATCH held an entry whose origin's signature does not verify, or none vouches
    /// for it (forged or altered on the way; PROTOCOL.md "Signed entries").
    public static let forgedEntry = ErrorCode(rawValue: 11)

    private static let names: [UInt16: String] = [
        1: "malformed", 2: "versionMismatch", 3: "limitExceeded", 4: "unexpectedMessage", 5: "unknownMessageType",
        6: "compression", 7: "timeout", 8: "sameNode", 9: "shutdown", 10: "internalError", 11: "forgedEntry",
    ]

    /// The code's name (`versionMismatch`), or `code N` when this version does not know it.
    public var description: String { Self.names[rawValue] ?? "code \(rawValue)" }
}
