import TradeSyncModel

/// A ``TradeKey`` as the replica's key table holds it: 16 bytes of interned code indices
/// instead of ~96 bytes of strings (the key table, a ``SlotTable``, keeps one per key beside
/// up to two 8-byte buckets, so this is most of a key's cost).
///
/// `high`: bits 32–63 the (reporter, partner) pair's index, 0–31 the commodity's index.
/// `low`: bits 32–63 the (customs, transport) pair's index, 16–31 the year, 8–15 the month,
/// 0–7 the flow's position in ``Flow/allCases``. Indices are into ``KeyCodes``; they are in
/// first-use order, so two packed keys compare only through ``KeyCodes/ranks()``.
struct PackedKey: Hashable, Sendable {
    let high: UInt64
    let low: UInt64
}

/// Reporter and partner of a key, interned together (real data has a few tens of
/// thousands of pairs).
struct AreaPair: Hashable, Sendable, Word64Packable {
    let reporter: AreaCode
    let partner: AreaCode

    /// The reporter's bytes, then the partner's, each zero-padded to 32 bits: codes are 2–4
    /// bytes of `A-Z0-9_` (never 0), so distinct pairs give distinct words.
    var word: UInt64 { UInt64(Self.word(reporter)) << 32 | UInt64(Self.word(partner)) }

    private static func word(_ code: AreaCode) -> UInt32 {
        var word: UInt32 = 0
        for byte in code.rawValue.utf8 { word = word << 8 | UInt32(byte) }
        return word
    }
}

extension CommodityCode: Word64Packable {
    /// Six bits per character, `0-9` as 1–10 and `A-Z` as 11–36: codes are 2–10 such
    /// characters (``RecordLimits/commodityBytesMax``), so 60 bits with no zero digit,
    /// distinct for distinct codes.
    var word: UInt64 {
        var word: UInt64 = 0
        for byte in rawValue.utf8 { word = word << 6 | UInt64(byte <= 0x39 ? byte &- 0x2F : byte &- 0x36) }
        return word
    }
}

/// Customs procedure and mode of transport of a key, interned together (a handful in practice).
struct Breakdown: Hashable, Sendable {
    let customs: String
    let transport: String
}

/// The replica-wide code tables a ``PackedKey`` indexes. Each grows only when a new key
/// brings a new code, so a table never holds more entries than there are keys (< 2^32).
struct KeyCodes: Sendable {
    var areaPairs = WordInterner<AreaPair>()
    var commodities = WordInterner<CommodityCode>()
    var breakdowns = Interner<Breakdown>()

    /// The flows in ``Flow/allCases`` order.
    private static let flows: [Flow] = Array(Flow.allCases)
    /// Each flow's position in ``Flow/allCases`` (what a packed key stores), without hashing.
    static func flowIndex(_ flow: Flow) -> UInt64 {
        switch flow {
        case .import: 0
        case .export: 1
        case .reImport: 2
        case .reExport: 3
        case .domesticExport: 4
        case .foreignImport: 5
        case .importForInwardProcessing: 6
        case .exportAfterInwardProcessing: 7
        case .importAfterOutwardProcessing: 8
        case .exportForOutwardProcessing: 9
        case .importToIndustrialFreeZone: 10
        case .exportFromIndustrialFreeZone: 11
        }
    }

    /// Packs `key`, interning any code seen for the first time.
    mutating func pack(_ key: TradeKey) -> PackedKey {
        let pair = areaPairs.index(AreaPair(reporter: key.reporter, partner: key.partner))
        let commodity = commodities.index(key.commodity)
        let breakdown = breakdowns.indexRepeating(Breakdown(customs: key.customs, transport: key.transport))
        return Self.packed(pair, commodity, breakdown, key)
    }

    /// Packs `key` without interning: nil when one of its codes is in no key held (so the
    /// key is not held either).
    func lookup(_ key: TradeKey) -> PackedKey? {
        guard let pair = areaPairs.lookup(AreaPair(reporter: key.reporter, partner: key.partner)),
            let commodity = commodities.lookup(key.commodity),
            let breakdown = breakdowns.lookup(Breakdown(customs: key.customs, transport: key.transport))
        else { return nil }
        return Self.packed(pair, commodity, breakdown, key)
    }

    private static func packed(_ pair: UInt32, _ commodity: UInt32, _ breakdown: UInt32, _ key: TradeKey) -> PackedKey {
        let flow = flowIndex(key.flow)
        return PackedKey(
            high: UInt64(pair) << 32 | UInt64(commodity),
            low: UInt64(breakdown) << 32 | UInt64(key.period.year) << 16 | UInt64(key.period.month) << 8 | flow)
    }

    /// The key `packed` stands for.
    /// - Precondition: `packed` came from ``pack(_:)`` on these tables.
    func key(_ packed: PackedKey) -> TradeKey {
        let pair = areaPairs[UInt32(truncatingIfNeeded: packed.high >> 32)]
        let breakdown = breakdowns[UInt32(truncatingIfNeeded: packed.low >> 32)]
        return TradeKey(
            validatedReporter: pair.reporter, partner: pair.partner, flow: Self.flows[Int(packed.low & 0xFF)],
            commodity: commodities[UInt32(truncatingIfNeeded: packed.high)], period: Self.period(packed), customs: breakdown.customs,
            transport: breakdown.transport)
    }

    private static func period(_ packed: PackedKey) -> Period {
        let year = Int(packed.low >> 16 & 0xFFFF)
        let month = Int(packed.low >> 8 & 0xFF)
        // Packed from a valid Period, so this cannot fail.
        guard let period = try? Period(year: year, month: month) else { preconditionFailure("packed period \(year) \(month)") }
        return period
    }

    /// Every packed key in `keys`, sorted in ``TradeKey`` order (reporter, partner, flow,
    /// commodity, period, customs, transport). O(n log n) with the tables' ranks, no key rebuilt.
    func sorted(_ keys: some Sequence<PackedKey>) -> [PackedKey] {
        let pairRank = Self.ranks(areaPairs.values) { ($0.reporter, $0.partner) < ($1.reporter, $1.partner) }
        let commodityRank = Self.ranks(commodities.values) { $0 < $1 }
        let breakdownRank = Self.ranks(breakdowns.values) { ($0.customs, $0.transport) < ($1.customs, $1.transport) }
        let flowRank = Self.ranks(Self.flows) { $0 < $1 }
        func order(_ key: PackedKey) -> (UInt64, UInt64, UInt32) {
            let first = UInt64(pairRank[Int(key.high >> 32)]) << 8 | UInt64(flowRank[Int(key.low & 0xFF)])
            let second = UInt64(commodityRank[Int(key.high & 0xFFFF_FFFF)]) << 32 | (key.low >> 8 & 0xFF_FFFF)
            return (first, second, breakdownRank[Int(key.low >> 32)])
        }
        var ordered = keys.map { (order($0), $0) }
        ordered.sort { $0.0 < $1.0 }
        return ordered.map(\.1)
    }

    /// rank[i] = the position of `values[i]` in ascending order (equal values share the
    /// first position; interned values are distinct).
    private static func ranks<T>(_ values: [T], by less: (T, T) -> Bool) -> [UInt32] {
        let order = values.indices.sorted { less(values[$0], values[$1]) }
        var rank = [UInt32](repeating: 0, count: values.count)
        for (position, index) in order.enumerated() { rank[index] = UInt32(position) }
        return rank
    }
}
