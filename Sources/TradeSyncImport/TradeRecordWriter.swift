import TradeSyncModel

/// The two layouts `tradesync export` writes; the importer reads both back.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// TradeSync CSV (``ImportFormat/tradeSyncCSV``): ``TradeRecordWriter/csvHeader``,
    /// then one line per record.
    case csv
    /// TradeSync JSON Lines (``ImportFormat/tradeSyncJSONL``): one object per line.
    case jsonl
}

/// Writes records in the layouts the importer reads back to equal records: TradeSync CSV
/// and TradeSync JSON Lines.
///
/// Field by field, in both layouts: `reporter`, `partner`, `flow` (code), `commodity`,
/// `period` (`YYYY` or `YYYYMM`), `customs` and `transport` (`all` for the totals),
/// `value_usd`, `net_weight_kg`, `qty` as canonical decimal text (``ExactDecimal/description``;
/// an absent value is an empty CSV field or JSON `null`), `qty_unit` (empty for none),
/// `flags` (names joined by `;`, empty for none). JSON decimals are strings, so no reader
/// takes them for binary floats.
///
/// A few values read back differently and are reported by ``roundTripProblem(_:)``
/// instead of being written wrong in silence.
public enum TradeRecordWriter {
    /// The CSV header line (without its line feed).
    public static let csvHeader =
        "reporter,partner,flow,commodity,period,customs,transport,value_usd,net_weight_kg,qty,qty_unit,flags"

    /// One CSV line (without its line feed). `qty_unit` is quoted when it holds a comma,
    /// a quote or a line break (quotes doubled, RFC 4180); every other field is a code or
    /// a number that never needs quoting.
    public static func csvLine(_ record: TradeRecord) -> String {
        let key = record.key
        let values = record.values
        var fields = [
            key.reporter.rawValue, key.partner.rawValue, key.flow.rawValue, key.commodity.rawValue,
            key.period.description, key.customs, key.transport,
            values.valueUSD?.description ?? "", values.netWeightKg?.description ?? "", values.quantity?.description ?? "",
        ]
        fields.append(csvQuoted(values.quantityUnit))
        fields.append(values.flags.nameList.joined(separator: ";"))
        return fields.joined(separator: ",")
    }

    /// One JSON Lines object (without its line feed), keys in ``csvHeader`` order.
    public static func jsonLine(_ record: TradeRecord) -> String {
        let key = record.key
        let values = record.values
        var text = "{\"reporter\":\"\(key.reporter.rawValue)\",\"partner\":\"\(key.partner.rawValue)\""
        text += ",\"flow\":\"\(key.flow.rawValue)\",\"commodity\":\"\(key.commodity.rawValue)\""
        text += ",\"period\":\"\(key.period.description)\",\"customs\":\"\(key.customs)\""
        text += ",\"transport\":\"\(key.transport)\""
        text += ",\"value_usd\":" + jsonDecimal(values.valueUSD)
        text += ",\"net_weight_kg\":" + jsonDecimal(values.netWeightKg)
        text += ",\"qty\":" + jsonDecimal(values.quantity)
        text += ",\"qty_unit\":" + jsonString(values.quantityUnit)
        text += ",\"flags\":\"" + values.flags.nameList.joined(separator: ";") + "\"}"
        return text
    }

    /// The line for `record` in `format`.
    public static func line(_ record: TradeRecord, format: ExportFormat) -> String {
        switch format {
        case .csv: csvLine(record)
        case .jsonl: jsonLine(record)
        }
    }

    /// Why `record` would not import back as itself, or nil when it would. The importer
    /// reads an all-digit area code as an M49 number, gives an odd-length all-digit
    /// commodity code its lost leading zero, trims spaces and tabs around a field, and
    /// reads a `qty_unit` of `NA` as no unit. Records written by the importer never hit
    /// these; records typed in with `tradesync put` can.
    public static func roundTripProblem(_ record: TradeRecord) -> String? {
        let key = record.key
        for (field, code) in [("reporter", key.reporter.rawValue), ("partner", key.partner.rawValue)]
        where isDigits(code) {
            return "\(field) '\(code)' is numeric: import would read it as an M49 number"
        }
        let commodity = key.commodity.rawValue
        if isDigits(commodity) && commodity.utf8.count % 2 == 1 {
            return "commodity '\(commodity)' has an odd number of digits: import would add a leading zero"
        }
        let unit = record.values.quantityUnit
        if let first = unit.utf8.first, let last = unit.utf8.last, isBlank(first) || isBlank(last) {
            return "qty_unit '\(unit)' starts or ends with a space or tab: import would trim it"
        }
        if unit.uppercased() == "NA" {
            return "qty_unit '\(unit)': import reads NA as no unit"
        }
        return nil
    }

    private static func isDigits(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    private static func csvQuoted(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return text }
        return "\"" + text.replacingQuotes() + "\""
    }

    private static func jsonDecimal(_ value: ExactDecimal?) -> String {
        value.map { "\"\($0.description)\"" } ?? "null"
    }

    /// A JSON string literal: `"` and `\` escaped, control characters as `\u00XX`, the
    /// rest as UTF-8.
    static func jsonString(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": scalars.append(contentsOf: "\\\"".unicodeScalars)
            case "\\": scalars.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": scalars.append(contentsOf: "\\n".unicodeScalars)
            case "\r": scalars.append(contentsOf: "\\r".unicodeScalars)
            case "\t": scalars.append(contentsOf: "\\t".unicodeScalars)
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    scalars.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
                } else {
                    scalars.append(scalar)
                }
            }
        }
        scalars.append("\"")
        return String(scalars)
    }
}

extension String {
    /// The text with each `"` doubled (CSV quoting).
    fileprivate func replacingQuotes() -> String {
        var result = ""
        for character in self {
            result.append(character)
            if character == "\"" { result.append("\"") }
        }
        return result
    }
}
