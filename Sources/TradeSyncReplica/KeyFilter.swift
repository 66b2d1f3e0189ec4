import TradeSyncModel

/// A filter over keys, as `tradesync query` takes it.
public struct KeyFilter: Sendable, Equatable {
    public var reporter: AreaCode?
    public var partner: AreaCode?
    public var flow: Flow?
    /// A prefix of the commodity code (`85` matches `850760`).
    public var commodityPrefix: String?
    /// The periods to include (a year bound covers its months).
    public var period: PeriodRange?
    /// Include keys whose winner is a tombstone.
    public var includeDeleted: Bool

    public init(
        reporter: AreaCode? = nil, partner: AreaCode? = nil, flow: Flow? = nil, commodityPrefix: String? = nil,
        period: PeriodRange? = nil, includeDeleted: Bool = false
    ) {
        self.reporter = reporter
        self.partner = partner
        self.flow = flow
        self.commodityPrefix = commodityPrefix
        self.period = period
        self.includeDeleted = includeDeleted
    }

    /// True when `key` passes every set criterion.
    public func matches(_ key: TradeKey) -> Bool {
        if let reporter, key.reporter != reporter { return false }
        if let partner, key.partner != partner { return false }
        if let flow, key.flow != flow { return false }
        if let commodityPrefix, !key.commodity.rawValue.hasPrefix(commodityPrefix.uppercased()) { return false }
        if let period, !period.contains(key.period) { return false }
        return true
    }
}
