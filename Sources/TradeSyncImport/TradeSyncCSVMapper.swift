import TradeSyncModel

/// TradeSync CSV: `reporter,partner,flow,hs6,period,value_usd,net_weight_kg,qty,qty_unit`
/// (`commodity` may replace `hs6`), optional `customs,transport,flags`, any column order.
///
/// Our own format, so fields map one to one: reporter/partner alpha-3 or a numeric
/// M49/Comtrade code, flow code or name, blank customs/transport = all. `qty_unit` `NA`
/// (or blank) means no unit; `qty` is read as given. `flags` holds flag names
/// (`estimated`, `qty_estimated`, `net_weight_estimated`, `confidential`) separated by
/// `;`, `|`, `,` or spaces. An odd-length all-digit commodity code gets its leading zero
/// back, as in every layout.
struct TradeSyncCSVMapper: RowMapper {
    /// The columns every TradeSync CSV header has.
    static let requiredNames = ["reporter", "partner", "flow", "period", "value_usd"]

    private var decoder: FieldDecoder
    private let reporter, partner, flow, commodity, period, customs, transport: Int?
    private let value, netWeight, quantity, quantityUnit, flags: Int?

    /// True when `header` looks like a TradeSync CSV header.
    static func matches(_ header: HeaderColumns) -> Bool {
        requiredNames.allSatisfy { header.index($0) != nil }
            && (header.index("hs6") != nil || header.index("commodity") != nil)
    }

    init(header: HeaderColumns, decoder: FieldDecoder) {
        self.decoder = decoder
        reporter = header.index("reporter")
        partner = header.index("partner")
        flow = header.index("flow")
        commodity = header.index("hs6") ?? header.index("commodity")
        period = header.index("period")
        customs = header.index("customs")
        transport = header.index("transport")
        value = header.index("value_usd")
        netWeight = header.index("net_weight_kg")
        quantity = header.index("qty")
        quantityUnit = header.index("qty_unit")
        flags = header.index("flags")
    }

    mutating func record(_ row: RowView) throws(RowReject) -> TradeRecord {
        do throws(FieldError) {
            let key = try TradeKey(
                reporter: decoder.area(row.field(reporter), field: "reporter"),
                partner: decoder.area(row.field(partner), field: "partner"),
                flow: decoder.flow(row.field(flow)),
                commodity: decoder.commodity(row.field(commodity)),
                period: decoder.period(row.field(period)),
                customs: decoder.string(row.field(customs)),
                transport: decoder.string(row.field(transport)))
            let unitBytes = row.field(quantityUnit)
            let unit = FieldDecoder.equals(unitBytes, "NA") ? "" : decoder.string(unitBytes)
            guard unit.utf8.count <= RecordLimits.quantityUnitBytesMax else {
                throw FieldError(
                    field: "qty_unit", reason: "'\(unit)' is longer than \(RecordLimits.quantityUnitBytesMax) bytes")
            }
            let values = TradeValues(
                valueUSD: try decoder.decimal(row.field(value), field: "value_usd"),
                netWeightKg: try decoder.decimal(row.field(netWeight), field: "net_weight_kg"),
                quantity: try decoder.decimal(row.field(quantity), field: "qty"),
                quantityUnit: unit,
                flags: try recordFlags(row.field(flags)))
            return TradeRecord(key: key, values: values)
        } catch {
            throw RowReject(error)
        }
    }

    private mutating func recordFlags(_ bytes: UnsafeBufferPointer<UInt8>) throws(FieldError) -> RecordFlags {
        if bytes.isEmpty { return [] }
        let separators: Set<Character> = [";", "|", ",", " "]
        var parsed: RecordFlags = []
        for name in decoder.string(bytes).split(whereSeparator: { separators.contains($0) }) {
            guard let flag = RecordFlags.names.first(where: { $0.1 == name })?.0 else {
                throw FieldError(field: "flags", reason: "unknown flag '\(name)'")
            }
            parsed.insert(flag)
        }
        return parsed
    }
}
