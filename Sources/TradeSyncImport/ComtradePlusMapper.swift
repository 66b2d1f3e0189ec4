import TradeSyncModel

/// UN Comtrade Plus / API v1 records, from the CSV download or the JSON `data` array
/// (same field names).
///
/// Reporter and partner come from `reporterISO`/`partnerISO` (trimmed: `_X `, `X1 `),
/// else `reporterCode`/`partnerCode`. `period` is `2022` or `202203`; without it,
/// `refYear` + `refMonth` (52 or 0 = annual). `mosCode` is not part of the key and is
/// ignored. Flags: `legacyEstimationFlag` ≠ 0 → estimated, `isQtyEstimated`,
/// `isNetWgtEstimated`.
struct ComtradePlusMapper: RowMapper {
    /// Header names that identify the layout.
    static let signature = ["cmdCode", "primaryValue"]

    /// Every field the mapper reads. The JSON reader builds its rows in this order.
    static let fieldNames = [
        "reporterCode", "reporterISO", "partnerCode", "partnerISO", "partner2Code", "partner2ISO", "flowCode",
        "cmdCode", "period", "refYear", "refMonth", "customsCode", "motCode", "qtyUnitCode", "qtyUnitAbbr", "qty",
        "isQtyEstimated", "netWgt", "isNetWgtEstimated", "primaryValue", "legacyEstimationFlag",
    ]

    private var decoder: FieldDecoder
    private let reporterCode, reporterISO, partnerCode, partnerISO, partner2Code, partner2ISO: Int?
    private let flowCode, commodity, period, refYear, refMonth, customs, transport: Int?
    private let quantityUnitCode, quantityUnit, quantity, quantityEstimated: Int?
    private let netWeight, netWeightEstimated, value, estimationFlag: Int?

    /// - Throws: ``ImportError/unknownFormat(file:reason:)`` when a needed column is missing.
    init(header: HeaderColumns, decoder: FieldDecoder, file: String) throws(ImportError) {
        self.decoder = decoder
        reporterCode = header.index("reporterCode")
        reporterISO = header.index("reporterISO")
        partnerCode = header.index("partnerCode")
        partnerISO = header.index("partnerISO")
        partner2Code = header.index("partner2Code")
        partner2ISO = header.index("partner2ISO")
        flowCode = header.index("flowCode")
        commodity = header.index("cmdCode")
        period = header.index("period")
        refYear = header.index("refYear")
        refMonth = header.index("refMonth")
        customs = header.index("customsCode")
        transport = header.index("motCode")
        quantityUnitCode = header.index("qtyUnitCode")
        quantityUnit = header.index("qtyUnitAbbr")
        quantity = header.index("qty")
        quantityEstimated = header.index("isQtyEstimated")
        netWeight = header.index("netWgt")
        netWeightEstimated = header.index("isNetWgtEstimated")
        value = header.index("primaryValue")
        estimationFlag = header.index("legacyEstimationFlag")
        var missing: [String] = []
        if reporterISO == nil && reporterCode == nil { missing.append("reporterISO or reporterCode") }
        if partnerISO == nil && partnerCode == nil { missing.append("partnerISO or partnerCode") }
        if flowCode == nil { missing.append("flowCode") }
        if period == nil && refYear == nil { missing.append("period or refYear") }
        guard missing.isEmpty else {
            throw .unknownFormat(
                file: file, reason: "Comtrade Plus header \(header.quoted) lacks \(missing.joined(separator: ", "))")
        }
    }

    mutating func record(_ row: RowView) throws(RowReject) -> TradeRecord {
        try ComtradeFields.checkSecondPartner(
            iso: row.field(partner2ISO), code: row.field(partner2Code), isoColumn: "partner2ISO",
            codeColumn: "partner2Code", decoder: &decoder)
        do {
            let key = try TradeKey(
                reporter: ComtradeFields.area(
                    iso: row.field(reporterISO), code: row.field(reporterCode), field: "reporter", decoder: &decoder),
                partner: ComtradeFields.area(
                    iso: row.field(partnerISO), code: row.field(partnerCode), field: "partner", decoder: &decoder),
                flow: decoder.flow(row.field(flowCode)),
                commodity: decoder.commodity(row.field(commodity)),
                period: recordPeriod(row),
                customs: decoder.string(row.field(customs)),
                transport: decoder.string(row.field(transport)))
            let (amount, unit) = try ComtradeFields.quantity(
                amount: row.field(quantity), unit: row.field(quantityUnit), unitCode: row.field(quantityUnitCode),
                decoder: &decoder)
            var flags: RecordFlags = []
            if try ComtradeFields.estimated(
                row.field(estimationFlag), column: "legacyEstimationFlag", decoder: &decoder)
            {
                flags.insert(.estimated)
            }
            if try decoder.bool(row.field(quantityEstimated), field: "isQtyEstimated") {
                flags.insert(.quantityEstimated)
            }
            if try decoder.bool(row.field(netWeightEstimated), field: "isNetWgtEstimated") {
                flags.insert(.netWeightEstimated)
            }
            let values = TradeValues(
                valueUSD: try decoder.decimal(row.field(value), field: "value_usd"),
                netWeightKg: try decoder.decimal(row.field(netWeight), field: "net_weight_kg"),
                quantity: amount, quantityUnit: unit, flags: flags)
            return TradeRecord(key: key, values: values)
        } catch {
            throw RowReject(error)
        }
    }

    /// `period`, else `refYear` with `refMonth` (1–12 monthly; 52, 0 or blank annual).
    private mutating func recordPeriod(_ row: RowView) throws(FieldError) -> Period {
        let text = row.field(period)
        if !text.isEmpty { return try decoder.period(text) }
        guard let year = decoder.integer(row.field(refYear)) else {
            throw FieldError(field: "period", reason: "missing (period and refYear are blank or not numbers)")
        }
        let monthBytes = row.field(refMonth)
        let month = monthBytes.isEmpty ? 0 : decoder.integer(monthBytes)
        switch month {
        case .some(0), .some(52): return try Period(year: year)
        case .some(let month) where (1...12).contains(month): return try Period(year: year, month: month)
        default:
            throw FieldError(field: "period", reason: "refMonth '\(decoder.string(monthBytes))' is not 1–12 or 52")
        }
    }
}
