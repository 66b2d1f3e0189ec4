/// A point on a monotonic clock, in nanoseconds from an arbitrary origin.
///
/// The pure core never reads a clock: the daemon passes `ContinuousClock` readings in,
/// and the deterministic simulation passes its own virtual time.
public struct MonotonicInstant: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public let nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = MonotonicInstant(nanoseconds: 0)

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// This instant plus a non-negative duration (negative durations count as zero).
    public func advanced(by duration: Duration) -> MonotonicInstant {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return self }
        let nanos = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        return MonotonicInstant(nanoseconds: nanoseconds &+ nanos)
    }

    /// The time from `earlier` to `self` (zero if `earlier` is later).
    public func duration(since earlier: MonotonicInstant) -> Duration {
        nanoseconds > earlier.nanoseconds ? .nanoseconds(Int64(nanoseconds - earlier.nanoseconds)) : .zero
    }

    public var description: String { "\(nanoseconds)ns" }
}
