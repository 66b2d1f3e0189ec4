import TradeSyncModel

/// UN Comtrade legacy CSV (the 35-column bulk/API header, or a column subset of it).
///
/// Columns are found by name. Reporter and partner come from `Reporter ISO`/`Partner ISO`
/// when present and not blank, else from the numeric `Reporter Code`/`Partner Code`
/// (Comtrade codes: 842 USA, 490 S19). The flow comes from `Trade Flow` (M, X, DX, FM,
/// RX, RM, XOP or Import/Export/Re-Export/Re-Import) and/or a nonzero `Trade Flow Code`
/// (1–4); when both are given they must agree. The period is `Period`, else `Year`.
struct ComtradeLegacyMapper: RowMapper {
    /// Header names that identify the layout.
    static let signature = ["Commodity Code", "Trade Value (US$)"]

    private var decoder: FieldDecoder
    private let reporterCode, reporterISO, partnerCode, partnerISO: Int?
    private let partner2Code, partner2ISO, flowCode, flowText: Int?
    private let commodity, period, year, customs, transport: Int?
    private let quantityUnitCode, quantityUnit, quantity, netWeight, value, flag: Int?

    /// - Throws: ``ImportError/unknownFormat(file:reason:)`` when a needed column is missing.
    init(header: HeaderColumns, decoder: FieldDecoder, file: String) throws(ImportError) {
        self.decoder = decoder
        reporterCode = header.index("Reporter Code")
        reporterISO = header.index("Reporter ISO")
        partnerCode = header.index("Partner Code")
        partnerISO = header.index("Partner ISO")
        partner2Code = header.index("2nd Partner Code")
        partner2ISO = header.index("2nd Partner ISO")
        flowCode = header.index("Trade Flow Code")
        flowText = header.index("Trade Flow")
        commodity = header.index("Commodity Code")
        period = header.index("Period")
        year = header.index("Year")
        customs = header.index("Customs Proc. Code")
        transport = header.index("Mode of Transport Code")
        quantityUnitCode = header.index("Qty Unit Code")
        quantityUnit = header.index("Qty Unit")
        quantity = header.index("Qty")
        netWeight = header.index("Netweight (kg)")
        value = header.index("Trade Value (US$)")
        flag = header.index("Flag")
        var missing: [String] = []
        if reporterISO == nil && reporterCode == nil { missing.append("Reporter ISO or Reporter Code") }
        if partnerISO == nil && partnerCode == nil { missing.append("Partner ISO or Partner Code") }
        if flowText == nil && flowCode == nil { missing.append("Trade Flow or Trade Flow Code") }
        if period == nil && year == nil { missing.append("Period or Year") }
        guard missing.isEmpty else {
            throw .unknownFormat(
                file: file,
                reason: "Comtrade legacy header \(header.quoted) lacks \(missing.joined(separator: ", "))")
        }
    }

    mutating func record(_ row: RowView) throws(RowReject) -> TradeRecord {
        try ComtradeFields.checkSecondPartner(
            iso: row.field(partner2ISO), code: row.field(partner2Code), isoColumn: "2nd Partner ISO",
            codeColumn: "2nd Partner Code", decoder: &decoder)
        do {
            let key = try TradeKey(
                reporter: ComtradeFields.area(
                    iso: row.field(reporterISO), code: row.field(reporterCode), field: "reporter", decoder: &decoder),
                partner: ComtradeFields.area(
                    iso: row.field(partnerISO), code: row.field(partnerCode), field: "partner", decoder: &decoder),
                flow: flow(row),
                commodity: decoder.commodity(row.field(commodity)),
                period: decoder.period(row.field(period).isEmpty ? row.field(year) : row.field(period)),
                customs: decoder.string(row.field(customs)),
                transport: decoder.string(row.field(transport)))
            let (amount, unit) = try ComtradeFields.quantity(
                amount: row.field(quantity), unit: row.field(quantityUnit), unitCode: row.field(quantityUnitCode),
                decoder: &decoder)
            let estimated = try ComtradeFields.estimated(row.field(flag), column: "Flag", decoder: &decoder)
            let values = TradeValues(
                valueUSD: try decoder.decimal(row.field(value), field: "value_usd"),
                netWeightKg: try decoder.decimal(row.field(netWeight), field: "net_weight_kg"),
                quantity: amount, quantityUnit: unit, flags: estimated ? .estimated : [])
            return TradeRecord(key: key, values: values)
        } catch {
            throw RowReject(error)
        }
    }

    /// The flow from `Trade Flow` and `Trade Flow Code` (0 or blank means "see the text").
    private mutating func flow(_ row: RowView) throws(FieldError) -> Flow {
        let text = row.field(flowText)
        let codeBytes = row.field(flowCode)
        var fromCode: Flow?
        if !codeBytes.isEmpty && decoder.integer(codeBytes) != 0 {
            switch decoder.integer(codeBytes) {
            case 1: fromCode = .import
            case 2: fromCode = .export
            case 3: fromCode = .reExport
            case 4: fromCode = .reImport
            default:
                throw FieldError(field: "flow", reason: "Trade Flow Code '\(decoder.string(codeBytes))' is not 0–4")
            }
        }
        if text.isEmpty {
            guard let fromCode else {
                throw FieldError(field: "flow", reason: "missing (Trade Flow and Trade Flow Code)")
            }
            return fromCode
        }
        let fromText = try decoder.flow(text)
        if let fromCode, fromCode != fromText {
            throw FieldError(
                field: "flow",
                reason:
                    "Trade Flow '\(decoder.string(text))' disagrees with Trade Flow Code \(decoder.string(codeBytes))")
        }
        return fromText
    }
}
