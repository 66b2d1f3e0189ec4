/// A hybrid logical clock timestamp: 48 bits of physical milliseconds since the Unix
/// epoch, then 16 bits of logical counter (Kulkarni, Demirbas, Madappa, Avva, Leone,
/// "Logical Physical Clocks", OPODIS 2014).
///
/// Ordering is the order of ``rawValue``; it is the first key of the winner rule.
public struct HLCTimestamp: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(physicalMs: UInt64, logical: UInt16) {
        rawValue = (physicalMs & 0xFFFF_FFFF_FFFF) << 16 | UInt64(logical)
    }

    /// Milliseconds since the Unix epoch.
    public var physicalMs: UInt64 { rawValue >> 16 }
    /// The logical counter within one millisecond.
    public var logical: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static let zero = HLCTimestamp(rawValue: 0)

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(physicalMs).\(logical)" }
}

/// The hybrid logical clock of one node. Pure: the physical time is passed in, so the
/// deterministic simulation can drive skewed clocks.
///
/// Timestamps it issues are strictly increasing and never below any timestamp it has
/// observed, so a write that causally follows another always carries a larger HLC.
public struct HybridLogicalClock: Sendable {
    /// The last timestamp issued or observed.
    public private(set) var last: HLCTimestamp

    public init(last: HLCTimestamp = .zero) { self.last = last }

    /// Issues the timestamp for a local event at physical time `nowMs` (ms since epoch).
    public mutating func tick(nowMs: UInt64) -> HLCTimestamp {
        let physical = max(nowMs, last.physicalMs)
        if physical == last.physicalMs {
            last = Self.bump(last)
        } else {
            last = HLCTimestamp(physicalMs: physical, logical: 0)
        }
        return last
    }

    /// Merges a timestamp received from another node (the HLC receive rule), so later
    /// local timestamps exceed it.
    public mutating func observe(_ remote: HLCTimestamp) {
        if remote > last { last = remote }
    }

    /// The next timestamp after `t`: logical + 1, carrying into the physical part on overflow.
    private static func bump(_ t: HLCTimestamp) -> HLCTimestamp {
        t.logical == UInt16.max
            ? HLCTimestamp(physicalMs: t.physicalMs + 1, logical: 0)
            : HLCTimestamp(rawValue: t.rawValue + 1)
    }
}
