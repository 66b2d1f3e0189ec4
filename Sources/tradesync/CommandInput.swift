import TradeSyncControl
import TradeSyncModel

/// Validation of command-line input before anything is sent, so a typo gets a clear
/// message and exit 2 without contacting the node.
enum CommandInput {
    /// The fields `put` and `resolve` accept, in display order.
    static let fieldNames = ["value_usd", "net_weight_kg", "qty", "qty_unit", "flags"]

    /// Parses a key and returns its canonical text.
    /// - Throws: ``CLIFailure`` (exit 2) naming the bad part.
    static func key(_ text: String) throws(CLIFailure) -> String {
        do {
            return try TradeKey(parsing: text).description
        } catch {
            throw CLIFailure(error)
        }
    }

    /// Parses `field=value` arguments and checks each against a scratch ``TradeValues``.
    /// - Throws: ``CLIFailure`` (exit 2) for a missing `=`, an unknown field, a bad value
    ///   or a field given twice.
    static func assignments(_ texts: [String]) throws(CLIFailure) -> [FieldAssignment] {
        var scratch = TradeValues()
        var seen: Set<String> = []
        var assignments: [FieldAssignment] = []
        for text in texts {
            do throws(FieldError) {
                let assignment = try FieldAssignment(parsing: text)
                try scratch.set(field: assignment.field, text: assignment.value)
                guard seen.insert(assignment.field).inserted else {
                    throw FieldError(field: assignment.field, reason: "given more than once")
                }
                assignments.append(assignment)
            } catch {
                throw CLIFailure(error)
            }
        }
        return assignments
    }

    /// Checks a dot's text form `SHORTID:SEQ` (hex digits, a colon, a decimal seq ≥ 1).
    /// - Throws: ``CLIFailure`` (exit 2).
    static func dot(_ text: String) throws(CLIFailure) -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let isHex: (Character) -> Bool = { $0.isHexDigit && $0.isASCII }
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, parts[0].allSatisfy(isHex),
            let seq = UInt64(parts[1]), seq > 0
        else {
            throw CLIFailure(.invalidInput, "dot: '\(text)' is not SHORTID:SEQ (e.g. 3f2a9c1b0d4e:12, as get shows)")
        }
        return text.lowercased()
    }

    /// Validates the `query` criteria and returns them in canonical form
    /// (`wld` → `W00`, `Export` → `X`, `2015..2019`).
    /// - Throws: ``CLIFailure`` (exit 2) naming the bad criterion.
    static func filter(
        reporter: String?, partner: String?, flow: String?, commodity: String?, period: String?, includeDeleted: Bool
    ) throws(CLIFailure) -> QueryFilter {
        do throws(FieldError) {
            var filter = QueryFilter(includeDeleted: includeDeleted ? true : nil)
            if let reporter { filter.reporter = try AreaCode(reporter, field: "reporter").rawValue }
            if let partner { filter.partner = try AreaCode(partner, field: "partner").rawValue }
            if let flow { filter.flow = try Flow(code: flow).rawValue }
            if let commodity { filter.commodity = try commodityPrefix(commodity) }
            if let period { filter.period = try PeriodRange(parsing: period).description }
            return filter
        } catch {
            throw CLIFailure(error)
        }
    }

    /// A commodity prefix: 1...``RecordLimits/commodityBytesMax`` of `0-9A-Z`, upper-cased.
    private static func commodityPrefix(_ text: String) throws(FieldError) -> String {
        let prefix = text.trimmingSpaces().uppercased()
        guard !prefix.isEmpty, prefix.utf8.count <= RecordLimits.commodityBytesMax,
            prefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) })
        else {
            throw FieldError(field: "commodity", reason: "'\(text)' is not an HS code prefix (digits, or TOTAL)")
        }
        return prefix
    }
}
