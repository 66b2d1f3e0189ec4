/// An exact decimal number: `mantissa × 10^-scale`. Never a binary float.
///
/// Used for trade values (US dollars), net weights (kg) and quantities. Values are kept
/// normalised (no trailing fractional zeros: `1.50` is stored as mantissa 15, scale 1),
/// so equal numbers have equal representations, equal text and equal encodings.
///
/// Range: |mantissa| < 2^63, scale 0...``scaleMax`` (enough for cents and for the
/// thousandths that Comtrade CIF/FOB columns and BACI tonnes carry).
public struct ExactDecimal: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The most fractional digits kept. More are an error, never silently rounded.
    public static let scaleMax: UInt8 = 9

    /// The integer digits of the value, sign included.
    public let mantissa: Int64
    /// The number of fractional digits, 0...``scaleMax``.
    public let scale: UInt8

    /// Zero.
    public static let zero = ExactDecimal(normalizingMantissa: 0, scale: 0)

    /// Creates a value from an integer.
    public init(_ integer: Int64) {
        self.init(normalizingMantissa: integer, scale: 0)
    }

    /// Creates `mantissa × 10^-scale`, stripping trailing fractional zeros.
    /// - Precondition: `scale <= scaleMax`.
    public init(normalizingMantissa mantissa: Int64, scale: UInt8) {
        precondition(scale <= Self.scaleMax, "ExactDecimal scale \(scale) above \(Self.scaleMax)")
        var m = mantissa
        var s = scale
        while s > 0 && m % 10 == 0 {
            m /= 10
            s -= 1
        }
        self.mantissa = m
        self.scale = s
    }

    /// Why a decimal text could not be read.
    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case notANumber(String)
        case tooManyFractionDigits(String)
        case outOfRange(String)

        public var description: String {
            switch self {
            case .empty: "empty number"
            case .notANumber(let text): "'\(text)' is not a decimal number"
            case .tooManyFractionDigits(let text): "'\(text)' has more than \(ExactDecimal.scaleMax) fractional digits"
            case .outOfRange(let text): "'\(text)' is out of range"
            }
        }
    }

    /// Parses decimal text: optional sign, digits, optional `.digits`, and an optional
    /// exponent (`1.5E+3`, as some JSON writers print large numbers).
    ///
    /// Surrounding spaces are ignored. Trailing fractional zeros are dropped before the
    /// scale limit is checked, so `6804128143.0` and `1.50000000000` parse.
    /// - Throws: ``ParseError`` naming the text.
    public init(parsing text: some StringProtocol) throws(ParseError) {
        let trimmed = text.utf8.drop(while: { $0 == 0x20 }).reversed().drop(while: { $0 == 0x20 }).reversed()
        let raw = Array(trimmed)
        guard !raw.isEmpty else { throw .empty }
        var index = 0
        var negative = false
        if raw[0] == UInt8(ascii: "-") || raw[0] == UInt8(ascii: "+") {
            negative = raw[0] == UInt8(ascii: "-")
            index = 1
        }
        var digits: [UInt8] = []
        var fractionDigits = 0
        var seenPoint = false
        var exponent = 0
        let original = String(decoding: raw, as: UTF8.self)
        while index < raw.count {
            let byte = raw[index]
            if byte >= 0x30 && byte <= 0x39 {
                digits.append(byte - 0x30)
                if seenPoint { fractionDigits += 1 }
            } else if byte == UInt8(ascii: ".") && !seenPoint {
                seenPoint = true
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                guard let parsed = Int(String(decoding: raw[(index + 1)...], as: UTF8.self)), abs(parsed) < 40
                else { throw .notANumber(original) }
                exponent = parsed
                break
            } else {
                throw .notANumber(original)
            }
            index += 1
        }
        guard !digits.isEmpty else { throw .notANumber(original) }
        // Apply the exponent to the count of fractional digits.
        fractionDigits -= exponent
        while fractionDigits < 0 {
            digits.append(0)
            fractionDigits += 1
        }
        // Drop trailing fractional zeros before checking the scale.
        while fractionDigits > 0, digits.last == 0 {
            digits.removeLast()
            fractionDigits -= 1
        }
        guard fractionDigits <= Int(Self.scaleMax) else { throw .tooManyFractionDigits(original) }
        var mantissa: Int64 = 0
        for digit in digits {
            let (times10, overflow1) = mantissa.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { throw .outOfRange(original) }
            mantissa = sum
        }
        self.init(normalizingMantissa: negative ? -mantissa : mantissa, scale: UInt8(fractionDigits))
    }

    /// Multiplies by `10^power` exactly (for unit changes such as thousand USD → USD or
    /// tonnes → kg). Returns nil when the result would not fit.
    public func scaled(byPowerOf10 power: Int) -> ExactDecimal? {
        var m = mantissa
        var s = Int(scale) - power
        while s < 0 {
            let (next, overflow) = m.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            m = next
            s += 1
        }
        guard s <= Int(Self.scaleMax) else { return nil }
        return ExactDecimal(normalizingMantissa: m, scale: UInt8(s))
    }

    /// Canonical text: `-123.45`, `0.5`, `1200`. Parsing it gives the same value.
    public var description: String {
        let magnitude = String(mantissa.magnitude)
        let sign = mantissa < 0 ? "-" : ""
        guard scale > 0 else { return sign + magnitude }
        let padded = String(repeating: "0", count: max(0, Int(scale) + 1 - magnitude.count)) + magnitude
        let split = padded.index(padded.endIndex, offsetBy: -Int(scale))
        return sign + padded[..<split] + "." + padded[split...]
    }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
        // Bring both to the larger scale; fall back to text-free comparison by sign on overflow.
        let scale = max(lhs.scale, rhs.scale)
        guard let l = lhs.scaled(byPowerOf10: Int(scale - lhs.scale)),
            let r = rhs.scaled(byPowerOf10: Int(scale - rhs.scale))
        else { return Double(lhs.mantissa) / pow10(lhs.scale) < Double(rhs.mantissa) / pow10(rhs.scale) }
        return l.mantissa < r.mantissa
    }

    private static func pow10(_ exponent: UInt8) -> Double {
        var result = 1.0
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    /// Appends the canonical encoding: zig-zag varint mantissa, then one scale byte.
    public func encode(into writer: inout ByteWriter) {
        writer.writeZigZag(mantissa)
        writer.writeU8(scale)
    }

    /// Reads a value written by ``encode(into:)``.
    /// - Throws: ``DecodeError`` on truncation, a scale above ``scaleMax`` or a
    ///   non-normalised value (which would break canonical encoding).
    public static func decode(from reader: inout ByteReader) throws(DecodeError) -> ExactDecimal {
        let start = reader.offset
        let mantissa = try reader.readZigZag()
        let scale = try reader.readU8()
        guard scale <= scaleMax else {
            throw .badValue(offset: start, field: "decimal scale", reason: "\(scale) > \(scaleMax)")
        }
        guard scale == 0 || mantissa % 10 != 0 else {
            throw .badValue(offset: start, field: "decimal", reason: "not normalised")
        }
        return ExactDecimal(normalizingMantissa: mantissa, scale: scale)
    }
}

extension ExactDecimal: Codable {
    /// Decimals travel in JSON as their canonical text, so no float ever touches them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try ExactDecimal(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
