/// Flags on a trade record's values, as Comtrade marks them.
public struct RecordFlags: OptionSet, Hashable, Sendable, Codable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The trade value is an estimate (Comtrade legacy `Flag` ≠ 0, or `legacyEstimationFlag` ≠ 0).
    public static let estimated = RecordFlags(rawValue: 1 << 0)
    /// The quantity is an estimate (`isQtyEstimated`).
    public static let quantityEstimated = RecordFlags(rawValue: 1 << 1)
    /// The net weight is an estimate (`isNetWgtEstimated`).
    public static let netWeightEstimated = RecordFlags(rawValue: 1 << 2)
    /// The value is confidential or suppressed at the source.
    public static let confidential = RecordFlags(rawValue: 1 << 3)

    /// Every defined flag; other bits are refused on decode.
    public static let known: RecordFlags = [.estimated, .quantityEstimated, .netWeightEstimated, .confidential]

    /// The flag names as the CLI prints and parses them, in bit order.
    public static let names: [(RecordFlags, String)] = [
        (.estimated, "estimated"), (.quantityEstimated, "qty_estimated"),
        (.netWeightEstimated, "net_weight_estimated"), (.confidential, "confidential"),
    ]

    /// The set flags' names in bit order, e.g. `["estimated"]`.
    public var nameList: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
}

/// The values of a trade record. Every field is optional: a source may not report it.
///
/// Units: ``valueUSD`` in US dollars, ``netWeightKg`` in kilograms, ``quantity`` in
/// ``quantityUnit`` (free text such as `kg`, `u`, `Number of items`; empty when none).
/// Two values are equal exactly when their canonical encodings are equal.
public struct TradeValues: Hashable, Sendable, Codable {
    public var valueUSD: ExactDecimal?
    public var netWeightKg: ExactDecimal?
    public var quantity: ExactDecimal?
    public var quantityUnit: String
    public var flags: RecordFlags

    public init(
        valueUSD: ExactDecimal? = nil, netWeightKg: ExactDecimal? = nil, quantity: ExactDecimal? = nil,
        quantityUnit: String = "", flags: RecordFlags = []
    ) {
        self.valueUSD = valueUSD
        self.netWeightKg = netWeightKg
        self.quantity = quantity
        self.quantityUnit = quantityUnit
        self.flags = flags
    }

    enum CodingKeys: String, CodingKey {
        case valueUSD = "value_usd", netWeightKg = "net_weight_kg", quantity = "qty", quantityUnit = "qty_unit"
        case flags
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        valueUSD = try container.decodeIfPresent(ExactDecimal.self, forKey: .valueUSD)
        netWeightKg = try container.decodeIfPresent(ExactDecimal.self, forKey: .netWeightKg)
        quantity = try container.decodeIfPresent(ExactDecimal.self, forKey: .quantity)
        quantityUnit = try container.decodeIfPresent(String.self, forKey: .quantityUnit) ?? ""
        let names = try container.decodeIfPresent([String].self, forKey: .flags) ?? []
        var flags: RecordFlags = []
        for name in names {
            guard let flag = RecordFlags.names.first(where: { $0.1 == name })?.0 else {
                throw DecodingError.dataCorruptedError(forKey: .flags, in: container, debugDescription: "unknown flag \(name)")
            }
            flags.insert(flag)
        }
        self.flags = flags
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(valueUSD, forKey: .valueUSD)
        try container.encode(netWeightKg, forKey: .netWeightKg)
        try container.encode(quantity, forKey: .quantity)
        try container.encode(quantityUnit, forKey: .quantityUnit)
        try container.encode(flags.nameList, forKey: .flags)
    }

    /// Sets one field from its CLI text (`value_usd=1200.50`, `qty_unit=kg`, empty text clears).
    /// - Throws: ``FieldError`` for an unknown field or a bad number.
    public mutating func set(field: String, text: String) throws(FieldError) {
        func decimal() throws(FieldError) -> ExactDecimal? {
            if text.isEmpty { return nil }
            let value: ExactDecimal
            do { value = try ExactDecimal(parsing: text) } catch { throw FieldError(field: field, reason: error.description) }
            guard value.mantissa >= 0 else { throw FieldError(field: field, reason: "'\(text)' is negative") }
            return value
        }
        switch field {
        case "value_usd": valueUSD = try decimal()
        case "net_weight_kg": netWeightKg = try decimal()
        case "qty": quantity = try decimal()
        case "qty_unit":
            guard text.utf8.count <= RecordLimits.quantityUnitBytesMax else {
                throw FieldError(field: field, reason: "longer than \(RecordLimits.quantityUnitBytesMax) bytes")
            }
            quantityUnit = text
        case "flags":
            var parsed: RecordFlags = []
            for name in text.split(separator: ",") {
                guard let flag = RecordFlags.names.first(where: { $0.1 == name })?.0 else {
                    throw FieldError(field: field, reason: "unknown flag '\(name)'")
                }
                parsed.insert(flag)
            }
            flags = parsed
        default:
            throw FieldError(field: field, reason: "unknown field (value_usd, net_weight_kg, qty, qty_unit, flags)")
        }
    }

    /// Appends the canonical encoding: a presence byte, the present decimals in field
    /// order, the unit string and the flags byte.
    public func encode(into writer: inout ByteWriter) {
        var presence: UInt8 = 0
        if valueUSD != nil { presence |= 1 }
        if netWeightKg != nil { presence |= 2 }
        if quantity != nil { presence |= 4 }
        writer.writeU8(presence)
        valueUSD?.encode(into: &writer)
        netWeightKg?.encode(into: &writer)
        quantity?.encode(into: &writer)
        writer.writeString(quantityUnit)
        writer.writeU8(flags.rawValue)
    }

    /// Reads values written by ``encode(into:)``.
    /// - Throws: ``DecodeError`` on truncation, unknown presence or flag bits, or a unit
    ///   longer than ``RecordLimits/quantityUnitBytesMax``.
    public static func decode(from reader: inout ByteReader) throws(DecodeError) -> TradeValues {
        let start = reader.offset
        let presence = try reader.readU8()
        guard presence & ~7 == 0 else { throw .badValue(offset: start, field: "presence", reason: "unknown bits") }
        let value = presence & 1 != 0 ? try ExactDecimal.decode(from: &reader) : nil
        let weight = presence & 2 != 0 ? try ExactDecimal.decode(from: &reader) : nil
        let quantity = presence & 4 != 0 ? try ExactDecimal.decode(from: &reader) : nil
        let unit = try reader.readString(limit: RecordLimits.quantityUnit)
        let flagOffset = reader.offset
        let flags = RecordFlags(rawValue: try reader.readU8())
        guard RecordFlags.known.isSuperset(of: flags) else {
            throw .badValue(offset: flagOffset, field: "flags", reason: "unknown bits \(flags.rawValue)")
        }
        return TradeValues(valueUSD: value, netWeightKg: weight, quantity: quantity, quantityUnit: unit, flags: flags)
    }
}

/// A trade record: its key and its values.
public struct TradeRecord: Hashable, Sendable, Codable {
    public var key: TradeKey
    public var values: TradeValues

    public init(key: TradeKey, values: TradeValues) {
        self.key = key
        self.values = values
    }
}
