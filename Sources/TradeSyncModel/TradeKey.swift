/// The natural key of a trade record: (reporter, partner, flow, commodity, period,
/// customs procedure, mode of transport).
///
/// Text form, used everywhere in the CLI:
/// `REPORTER:PARTNER:FLOW:COMMODITY:PERIOD[:CUSTOMS:TRANSPORT]`, e.g.
/// `CHN:DEU:X:850760:2022` or `AZE:W00:M:252310:2019:C01:3200`. Customs procedure and
/// mode of transport default to ``TradeKey/all`` and are then left out of the text.
///
/// Ordering is field by field in the order above; it is the order of keys in the state
/// digest and in listings.
public struct TradeKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The breakdown code meaning "all customs procedures" or "all modes of transport".
    public static let all = "all"

    public let reporter: AreaCode
    public let partner: AreaCode
    public let flow: Flow
    public let commodity: CommodityCode
    public let period: Period
    /// Customs procedure code (`C01`, `C20`…), or ``all``.
    public let customs: String
    /// Mode of transport code (`1000` air, `2100` sea…), or ``all``.
    public let transport: String

    /// Creates a key; breakdown codes are validated and `C00`/`0`-style totals become ``all``.
    /// - Throws: ``FieldError`` for `customs` or `transport`.
    public init(
        reporter: AreaCode, partner: AreaCode, flow: Flow, commodity: CommodityCode, period: Period,
        customs: String = TradeKey.all, transport: String = TradeKey.all
    ) throws(FieldError) {
        self.reporter = reporter
        self.partner = partner
        self.flow = flow
        self.commodity = commodity
        self.period = period
        self.customs = try Self.breakdownCode(customs, field: "customs", totals: Self.customsTotals)
        self.transport = try Self.breakdownCode(transport, field: "transport", totals: Self.transportTotals)
    }

    /// Creates a key from fields that are already valid and canonical, without checking them
    /// again: for decoders that validated each distinct code once (the replica snapshot).
    /// `customs` and `transport` must be codes this type's validating initializer returns.
    package init(
        validatedReporter reporter: AreaCode, partner: AreaCode, flow: Flow, commodity: CommodityCode, period: Period,
        customs: String, transport: String
    ) {
        self.reporter = reporter
        self.partner = partner
        self.flow = flow
        self.commodity = commodity
        self.period = period
        self.customs = customs
        self.transport = transport
    }

    /// Codes that mean "all customs procedures" (Comtrade `C00`).
    private static let customsTotals: Set<String> = ["C00", "ALL", "TOTAL"]
    /// Codes that mean "all modes of transport" (Comtrade `0`).
    private static let transportTotals: Set<String> = ["0", "ALL", "TOTAL"]

    private static func breakdownCode(_ text: String, field: String, totals: Set<String>) throws(FieldError) -> String {
        if text == all { return all }
        let trimmed = text.trimmingSpaces()
        if trimmed.isEmpty || totals.contains(trimmed.uppercased()) { return all }
        guard trimmed.utf8.count <= RecordLimits.breakdownCodeBytesMax,
            trimmed.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) })
        else { throw FieldError(field: field, reason: "'\(text)' is not a \(field) code") }
        return trimmed
    }

    /// Parses the text form. - Throws: ``FieldError`` naming the bad field; `key` when the
    /// number of parts is wrong.
    public init(parsing text: some StringProtocol) throws(FieldError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 5 || parts.count == 7 else {
            throw FieldError(
                field: "key",
                reason: "'\(text)' is not REPORTER:PARTNER:FLOW:COMMODITY:PERIOD[:CUSTOMS:TRANSPORT]")
        }
        try self.init(
            reporter: AreaCode(parts[0], field: "reporter"), partner: AreaCode(parts[1], field: "partner"),
            flow: Flow(code: parts[2]), commodity: CommodityCode(parts[3]), period: Period(parts[4]),
            customs: parts.count == 7 ? String(parts[5]) : TradeKey.all,
            transport: parts.count == 7 ? String(parts[6]) : TradeKey.all)
    }

    /// The canonical text form; parsing it gives back an equal key.
    public var description: String {
        var text = "\(reporter):\(partner):\(flow.rawValue):\(commodity):\(period)"
        if customs != Self.all || transport != Self.all { text += ":\(customs):\(transport)" }
        return text
    }

    /// Hashes the fields' UTF-8 bytes directly. Every code is validated ASCII (`A-Z0-9_`,
    /// or `all`), for which `String` equality is byte equality, so this agrees with `==`;
    /// it skips `String`'s Unicode-aware hashing, a large part of filling a replica of a
    /// million keys at restart.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(period.year)
        hasher.combine(period.month)
        hasher.combine(flow)
        Self.combine(reporter.rawValue, into: &hasher)
        Self.combine(partner.rawValue, into: &hasher)
        Self.combine(commodity.rawValue, into: &hasher)
        Self.combine(customs, into: &hasher)
        Self.combine(transport, into: &hasher)
    }

    @inline(__always)
    private static func combine(_ text: String, into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(UInt8(0xFF))  // a separator: "AB" + "C" hashes apart from "A" + "BC"
    }

    public static func < (lhs: TradeKey, rhs: TradeKey) -> Bool {
        if lhs.reporter != rhs.reporter { return lhs.reporter < rhs.reporter }
        if lhs.partner != rhs.partner { return lhs.partner < rhs.partner }
        if lhs.flow != rhs.flow { return lhs.flow < rhs.flow }
        if lhs.commodity != rhs.commodity { return lhs.commodity < rhs.commodity }
        if lhs.period != rhs.period { return lhs.period < rhs.period }
        if lhs.customs != rhs.customs { return lhs.customs < rhs.customs }
        return lhs.transport < rhs.transport
    }

    /// Appends the canonical encoding: the seven fields as length-prefixed strings, the
    /// period as year (u16) and month (u8).
    public func encode(into writer: inout ByteWriter) {
        writer.writeString(reporter.rawValue)
        writer.writeString(partner.rawValue)
        writer.writeString(flow.rawValue)
        writer.writeString(commodity.rawValue)
        writer.writeU16(period.year)
        writer.writeU8(period.month)
        writer.writeString(customs)
        writer.writeString(transport)
    }

    /// Reads a key written by ``encode(into:)``, validating every field. Only the canonical
    /// encoding is accepted (codes as ``AreaCode/rawValue`` and the others hold them), so an
    /// entry's bytes are a function of its fields.
    /// - Throws: ``DecodeError`` (`badValue` names the field) on malformed or non-canonical input.
    public static func decode(from reader: inout ByteReader) throws(DecodeError) -> TradeKey {
        let start = reader.offset
        let reporter = try reader.readString(limit: RecordLimits.areaCode)
        let partner = try reader.readString(limit: RecordLimits.areaCode)
        let flow = try reader.readString(lengthMax: 3)
        let commodity = try reader.readString(limit: RecordLimits.commodity)
        let year = try reader.readU16()
        let month = try reader.readU8()
        let customs = try reader.readString(limit: RecordLimits.breakdownCode)
        let transport = try reader.readString(limit: RecordLimits.breakdownCode)
        // Fast path: every field already canonical (what an encoder writes).
        if let reporterCode = AreaCode(canonical: reporter), let partnerCode = AreaCode(canonical: partner),
            let flowValue = Flow(rawValue: flow), let commodityCode = CommodityCode(canonical: commodity),
            let period = try? Period(year: Int(year), month: Int(month)),
            customs == all || (try? breakdownCode(customs, field: "customs", totals: customsTotals)) == customs,
            transport == all || (try? breakdownCode(transport, field: "transport", totals: transportTotals)) == transport
        {
            return TradeKey(
                validatedReporter: reporterCode, partner: partnerCode, flow: flowValue, commodity: commodityCode,
                period: period, customs: customs, transport: transport)
        }
        do throws(FieldError) {
            guard let flowValue = Flow(rawValue: flow) else {
                throw FieldError(field: "flow", reason: "unknown flow code '\(flow)'")
            }
            // Names the field that is invalid, if one is.
            _ = try TradeKey(
                reporter: AreaCode(reporter, field: "reporter"), partner: AreaCode(partner, field: "partner"),
                flow: flowValue, commodity: CommodityCode(commodity), period: Period(year: Int(year), month: Int(month)),
                customs: customs, transport: transport)
        } catch {
            throw .badValue(offset: start, field: "key \(error.field)", reason: error.reason)
        }
        // Every field is valid, yet one is not written canonically (lower case, spaces, WLD).
        throw .badValue(offset: start, field: "key", reason: "not canonical (codes must be written as stored)")
    }
}

extension TradeKey: TextCodable {
    /// Keys travel in JSON as their text form.
    public init(text: String) throws(FieldError) { try self.init(parsing: text) }
}
