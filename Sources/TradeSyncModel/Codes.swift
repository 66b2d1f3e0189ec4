/// Record limits: each is a named maximum with its unit. `Protocol/PROTOCOL.md` repeats
/// the table; the wire and the log refuse anything larger.
public enum RecordLimits {
    /// Longest area code, in bytes (ISO alpha-3 is 3; Comtrade areas such as `_X` are shorter).
    public static let areaCodeBytesMax = 4
    /// Longest commodity code, in bytes: 10-digit national extensions, or `TOTAL`.
    public static let commodityBytesMax = 10
    /// Longest customs-procedure or mode-of-transport code, in bytes (`C00`, `9110`, `all`).
    public static let breakdownCodeBytesMax = 8
    /// Longest quantity unit, in bytes (`kg`, `u`, `Number of items`).
    public static let quantityUnitBytesMax = 32
    /// Longest canonical key text, in bytes: every field at its maximum plus six colons.
    public static let keyTextBytesMax = 2 * areaCodeBytesMax + 3 + commodityBytesMax + 6 + 2 * breakdownCodeBytesMax + 6

    /// ``areaCodeBytesMax`` with its name, for decoders' errors.
    public static let areaCode = NamedLimit("areaCodeBytesMax", areaCodeBytesMax)
    /// ``commodityBytesMax`` with its name.
    public static let commodity = NamedLimit("commodityBytesMax", commodityBytesMax)
    /// ``breakdownCodeBytesMax`` with its name.
    public static let breakdownCode = NamedLimit("breakdownCodeBytesMax", breakdownCodeBytesMax)
    /// ``quantityUnitBytesMax`` with its name.
    public static let quantityUnit = NamedLimit("quantityUnitBytesMax", quantityUnitBytesMax)
}

/// Why a field of a trade record is invalid. `field` names it as the CLI spells it.
public struct FieldError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The field, e.g. `reporter`, `period`, `value_usd`.
    public let field: String
    /// What is wrong, in one line.
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}

private func isCodeByte(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "_")
}

/// A reporter or partner area: an ISO 3166-1 alpha-3 code (`DEU`) or a Comtrade
/// statistical area (`W00` World, `S19` Other Asia nes, `_X` Areas nes, `X1` Bunkers).
///
/// Stored trimmed and upper-case; `WLD` is normalised to `W00` so both spellings of
/// World name the same key.
public struct AreaCode: Hashable, Sendable, Comparable, TextCodable {
    /// The canonical code, 2...``RecordLimits/areaCodeBytesMax`` bytes of `A-Z0-9_`.
    public let rawValue: String

    /// World, as Comtrade writes it.
    public static let world = AreaCode(trusted: "W00")

    private init(trusted: String) { rawValue = trusted }

    /// Validates and normalises a code (trims spaces, upper-cases, maps `WLD` to `W00`).
    /// - Throws: ``FieldError`` naming `field` when the code is empty, too long or has
    ///   characters outside `A-Z0-9_`.
    public init(_ text: some StringProtocol, field: String = "area") throws(FieldError) {
        let trimmed = text.trimmingSpaces().uppercased()
        guard trimmed.utf8.count >= 2, trimmed.utf8.count <= RecordLimits.areaCodeBytesMax,
            trimmed.utf8.allSatisfy(isCodeByte)
        else { throw FieldError(field: field, reason: "'\(text)' is not an ISO 3166 alpha-3 or Comtrade area code") }
        rawValue = trimmed == "WLD" ? "W00" : trimmed
    }

    /// Accepts `text` only when it already is a canonical code (what ``rawValue`` holds):
    /// no allocation, for decoders of canonical encodings. Nil otherwise.
    package init?(canonical text: String) {
        guard text.utf8.count >= 2, text.utf8.count <= RecordLimits.areaCodeBytesMax, text.utf8.allSatisfy(isCodeByte),
            text != "WLD"
        else { return nil }
        rawValue = text
    }

    public var description: String { rawValue }
    public static func < (lhs: AreaCode, rhs: AreaCode) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A trade flow, by its Comtrade flow code.
///
/// The codes are those of Comtrade Plus (`flowCode`); the legacy API's names and
/// numbers (`Import`/1, `Export`/2, `Re-Export`/3, `Re-Import`/4) map onto them.
public enum Flow: String, Hashable, Sendable, CaseIterable, Comparable, Codable {
    case `import` = "M"
    case export = "X"
    case reImport = "RM"
    case reExport = "RX"
    case domesticExport = "DX"
    case foreignImport = "FM"
    case importForInwardProcessing = "MIP"
    case exportAfterInwardProcessing = "XIP"
    case importAfterOutwardProcessing = "MOP"
    case exportForOutwardProcessing = "XOP"
    case importToIndustrialFreeZone = "MIF"
    case exportFromIndustrialFreeZone = "XIF"

    /// Parses a flow code (`M`, `RX`, …) or a legacy name (`Import`, `Re-Export`, …).
    /// - Throws: ``FieldError`` for `flow`.
    public init(code text: some StringProtocol) throws(FieldError) {
        let trimmed = text.trimmingSpaces()
        if let flow = Flow(rawValue: trimmed.uppercased()) {
            self = flow
            return
        }
        switch trimmed.lowercased() {
        case "import", "imports": self = .import
        case "export", "exports": self = .export
        case "re-import", "reimport", "re-imports": self = .reImport
        case "re-export", "reexport", "re-exports": self = .reExport
        default:
            throw FieldError(field: "flow", reason: "'\(text)' is not a Comtrade flow code (M, X, RM, RX, DX, FM, …)")
        }
    }

    public static func < (lhs: Flow, rhs: Flow) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A commodity code: HS at 2/4/6 digits, national extensions to 10 digits, `TOTAL`
/// for all commodities, or Comtrade's alphanumeric specials (`9999AA`).
public struct CommodityCode: Hashable, Sendable, Comparable, TextCodable {
    /// The canonical code, upper-case.
    public let rawValue: String

    /// All commodities.
    public static let total = CommodityCode(trusted: "TOTAL")

    private init(trusted: String) { rawValue = trusted }

    /// Validates a code. It does not restore lost leading zeros: that is the importer's
    /// business, because only it knows the file lost them.
    /// - Throws: ``FieldError`` for `commodity`.
    public init(_ text: some StringProtocol) throws(FieldError) {
        let trimmed = text.trimmingSpaces().uppercased()
        guard trimmed.utf8.count >= 2, trimmed.utf8.count <= RecordLimits.commodityBytesMax,
            trimmed.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) })
        else { throw FieldError(field: "commodity", reason: "'\(text)' is not an HS code (2–10 digits or Comtrade's letters, as in 9999AA) or TOTAL") }
        rawValue = trimmed
    }

    /// Accepts `text` only when it already is a canonical code: no allocation, for
    /// decoders of canonical encodings. Nil otherwise.
    package init?(canonical text: String) {
        guard text.utf8.count >= 2, text.utf8.count <= RecordLimits.commodityBytesMax,
            text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) })
        else { return nil }
        rawValue = text
    }

    public var description: String { rawValue }
    public static func < (lhs: CommodityCode, rhs: CommodityCode) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A reference period: a year (`2022`) or a month (`202203`).
public struct Period: Hashable, Sendable, Comparable, TextCodable {
    /// The year, 1900...2199.
    public let year: UInt16
    /// The month 1...12, or 0 for an annual period.
    public let month: UInt8

    /// Creates a period. - Throws: ``FieldError`` for `period` when out of range.
    public init(year: Int, month: Int = 0) throws(FieldError) {
        guard (1900...2199).contains(year), (0...12).contains(month) else {
            throw FieldError(field: "period", reason: "year \(year) month \(month) is out of range")
        }
        self.year = UInt16(year)
        self.month = UInt8(month)
    }

    /// Parses `YYYY` or `YYYYMM`. - Throws: ``FieldError`` for `period`.
    public init(_ text: some StringProtocol) throws(FieldError) {
        let trimmed = text.trimmingSpaces()
        let digits = trimmed.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        guard digits, trimmed.utf8.count == 4 || trimmed.utf8.count == 6, let number = Int(trimmed) else {
            throw FieldError(field: "period", reason: "'\(text)' is not YYYY or YYYYMM")
        }
        if trimmed.utf8.count == 4 {
            try self.init(year: number)
        } else {
            let month = number % 100
            guard month >= 1 else { throw FieldError(field: "period", reason: "'\(text)' has month 00") }
            try self.init(year: number / 100, month: month)
        }
    }

    public var description: String {
        month == 0 ? String(year) : String(year) + (month < 10 ? "0" : "") + String(month)
    }

    public static func < (lhs: Period, rhs: Period) -> Bool {
        (lhs.year, lhs.month) < (rhs.year, rhs.month)
    }
}

extension StringProtocol {
    /// The text without leading and trailing ASCII spaces, tabs, CR and NBSP.
    public func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{A0}" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

/// A value that travels in JSON as its canonical text (``description``), validated by
/// ``init(text:)`` on the way in.
public protocol TextCodable: Codable, CustomStringConvertible {
    /// Parses and validates the canonical text. - Throws: ``FieldError``.
    init(text: String) throws(FieldError)
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { try self.init(text: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension AreaCode {
    public init(text: String) throws(FieldError) { try self.init(text) }
}

extension CommodityCode {
    public init(text: String) throws(FieldError) { try self.init(text) }
}

extension Period {
    public init(text: String) throws(FieldError) { try self.init(text) }
}
