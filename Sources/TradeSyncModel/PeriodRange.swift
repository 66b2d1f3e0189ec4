
/// The period criterion of a query, as `QueryFilter.period` carries it:
/// `2015`, `201503`, `2015..2019`, `2015..` or `..2019`.
///
/// Shape: both bounds are inclusive. A bound written as a year covers the whole year:
/// as a lower bound it starts at the annual period (`2015` → 2015-00), as an upper bound
/// it ends at December (`2019` → 2019-12). A single period `P` means `P..P`. Periods
/// order by (year, month), month 0 (annual) before January, so the annual 2019 record
/// matches every range that reaches into 2019 from below.
///
/// The CLI parses it to refuse bad input before contacting the node; the node parses the
/// same text to filter, so both sides share one grammar.
public struct PeriodRange: Sendable, Equatable, CustomStringConvertible {
    /// First period included, as (year, month); nil for no lower bound.
    public let lower: Period?
    /// Last period included, as written (a year means its whole year); nil for no upper bound.
    public let upper: Period?

    /// Creates a range from its bounds.
    /// - Throws: ``FieldError`` for `period` when both are nil or `lower` comes after `upper`.
    public init(lower: Period?, upper: Period?) throws(FieldError) {
        guard lower != nil || upper != nil else {
            throw FieldError(field: "period", reason: "'..' needs at least one bound (YYYY[MM]..YYYY[MM])")
        }
        if let lower, let upper, Self.upperKey(upper) < Self.lowerKey(lower) {
            throw FieldError(
                field: "period", reason: "\(lower)..\(upper) is empty (the first period is after the last)")
        }
        self.lower = lower
        self.upper = upper
    }

    /// Parses `P`, `P..Q`, `P..` or `..Q`, each side `YYYY` or `YYYYMM`.
    /// - Throws: ``FieldError`` for `period` naming the bad text.
    public init(parsing text: some StringProtocol) throws(FieldError) {
        let trimmed = text.trimmingSpaces()
        guard let dots = trimmed.firstRange(of: "..") else {
            let single = try Period(trimmed)
            try self.init(lower: single, upper: single)
            return
        }
        let lowerText = trimmed[..<dots.lowerBound]
        let upperText = trimmed[dots.upperBound...]
        guard !upperText.contains(".") else {
            throw FieldError(field: "period", reason: "'\(text)' is not YYYY[MM], FROM..TO, FROM.. or ..TO")
        }
        try self.init(
            lower: lowerText.isEmpty ? nil : try Period(lowerText),
            upper: upperText.isEmpty ? nil : try Period(upperText))
    }

    /// True when `period` lies within the range.
    /// Complexity: O(1).
    public func contains(_ period: Period) -> Bool {
        let key = (Int(period.year), Int(period.month))
        if let lower, key < Self.lowerKey(lower) { return false }
        if let upper, Self.upperKey(upper) < key { return false }
        return true
    }

    /// The canonical text: `P` for a single period, else `LOWER..UPPER` with empty sides.
    public var description: String {
        if let lower, lower == upper { return lower.description }
        return (lower?.description ?? "") + ".." + (upper?.description ?? "")
    }

    private static func lowerKey(_ period: Period) -> (Int, Int) { (Int(period.year), Int(period.month)) }

    private static func upperKey(_ period: Period) -> (Int, Int) {
        (Int(period.year), period.month == 0 ? 12 : Int(period.month))
    }
}
