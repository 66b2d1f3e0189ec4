import TradeSyncModel

/// Column positions by header name. The first column of a name wins; names are
/// compared after trimming spaces.
struct HeaderColumns {
    /// The header names as read, for messages.
    let names: [String]
    private let indexByName: [String: Int]

    init(names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() where index[name] == nil {
            index[name] = position
        }
        indexByName = index
    }

    /// The position of `name`, or nil when the header lacks it.
    func index(_ name: String) -> Int? { indexByName[name] }

    /// The header as one line, shortened for messages.
    var quoted: String {
        let joined = names.joined(separator: ",")
        return joined.count <= 300 ? "'\(joined)'" : "'\(joined.prefix(300))…'"
    }
}

/// Maps one row of one file layout to a record.
protocol RowMapper {
    /// - Throws: ``RowReject`` with the reason the row cannot be imported.
    mutating func record(_ row: RowView) throws(RowReject) -> TradeRecord
}

/// Helpers shared by the Comtrade layouts.
enum ComtradeFields {
    /// Rejects a row whose second partner is a specific area. The record key has no
    /// second partner, so storing the row would silently merge it with the World row.
    static func checkSecondPartner(
        iso: UnsafeBufferPointer<UInt8>, code: UnsafeBufferPointer<UInt8>, isoColumn: String, codeColumn: String,
        decoder: inout FieldDecoder
    ) throws(RowReject) {
        let named: String
        if !iso.isEmpty {
            if FieldDecoder.equals(iso, "W00") || FieldDecoder.equals(iso, "WLD") { return }
            named = "\(isoColumn) '\(decoder.string(iso))'"
        } else {
            if code.isEmpty || decoder.integer(code) == 0 { return }
            named = "\(codeColumn) '\(decoder.string(code))'"
        }
        throw RowReject(
            "\(named) is a specific 2nd partner, not World: the record key has no 2nd partner, "
                + "so the row cannot be stored without losing it")
    }

    /// The area from its ISO column when that is not blank, else from its numeric code.
    static func area(
        iso: UnsafeBufferPointer<UInt8>, code: UnsafeBufferPointer<UInt8>, field: String, decoder: inout FieldDecoder
    ) throws(FieldError) -> AreaCode {
        if !iso.isEmpty { return try decoder.area(iso, field: field) }
        if !code.isEmpty { return try decoder.area(code, field: field) }
        throw FieldError(field: field, reason: "missing (ISO and code columns are both blank)")
    }

    /// Quantity and unit: none when the unit says there is none (`N/A`, `No Quantity`,
    /// unit code -1) or the quantity is blank; the unit is then empty too, so equal
    /// information gives equal values.
    static func quantity(
        amount: UnsafeBufferPointer<UInt8>, unit: UnsafeBufferPointer<UInt8>, unitCode: UnsafeBufferPointer<UInt8>,
        decoder: inout FieldDecoder
    ) throws(FieldError) -> (ExactDecimal?, String) {
        let noUnit =
            decoder.integer(unitCode) == -1 || FieldDecoder.equals(unit, "N/A")
            || FieldDecoder.equals(unit, "No Quantity")
        guard !noUnit, let amount = try decoder.decimal(amount, field: "qty") else { return (nil, "") }
        let text = decoder.string(unit)
        guard text.utf8.count <= RecordLimits.quantityUnitBytesMax else {
            throw FieldError(
                field: "qty_unit", reason: "'\(text)' is longer than \(RecordLimits.quantityUnitBytesMax) bytes")
        }
        return (amount, text)
    }

    /// An estimation flag column (`Flag`, `legacyEstimationFlag`): blank or 0 is not estimated.
    static func estimated(_ bytes: UnsafeBufferPointer<UInt8>, column: String, decoder: inout FieldDecoder)
        throws(FieldError)
        -> Bool
    {
        if bytes.isEmpty { return false }
        guard let flag = decoder.integer(bytes) else {
            throw FieldError(field: column, reason: "'\(decoder.string(bytes))' is not an integer flag")
        }
        return flag != 0
    }
}
