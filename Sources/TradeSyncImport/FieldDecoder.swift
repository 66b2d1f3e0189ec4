import TradeSyncModel

/// A field's text could not become a model value; `reason` is one line for a ``RowError``.
struct RowReject: Error {
    let reason: String

    init(_ reason: String) { self.reason = reason }
    init(_ error: FieldError) { reason = error.description }
}

/// Up to 15 bytes packed into two words with their length: a dictionary key that costs
/// no allocation. Longer texts have no key and are parsed without caching.
struct ByteKey: Hashable {
    let low: UInt64
    let high: UInt64

    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= 15 else { return nil }
        var low: UInt64 = 0
        var high = UInt64(bytes.count) << 56
        for index in 0..<bytes.count {
            if index < 8 {
                low |= UInt64(bytes[index]) << UInt64(8 * index)
            } else {
                high |= UInt64(bytes[index]) << UInt64(8 * (index - 8))
            }
        }
        self.low = low
        self.high = high
    }
}

/// Memoises `parse(text)` per distinct field text, errors included, up to
/// ``ImportLimits/parseCacheEntriesMax`` entries.
struct ParseCache<Value> {
    private var entries: [ByteKey: Result<Value, FieldError>] = [:]

    mutating func value(
        _ bytes: UnsafeBufferPointer<UInt8>, parse: (UnsafeBufferPointer<UInt8>) throws(FieldError) -> Value
    ) throws(FieldError) -> Value {
        guard let key = ByteKey(bytes) else { return try parse(bytes) }
        if let hit = entries[key] { return try hit.get() }
        let result: Result<Value, FieldError>
        do { result = .success(try parse(bytes)) } catch { result = .failure(error) }
        if entries.count < ImportLimits.parseCacheEntriesMax { entries[key] = result }
        return try result.get()
    }
}

/// Turns trimmed field bytes into model values. One per import: it holds the file's
/// text encoding and the memo caches.
///
/// Text encoding: UTF-8 when the whole file is valid UTF-8, else Windows-1252 (the
/// Comtrade Plus downloads). Only fields that become stored strings are ever decoded,
/// so descriptions in any encoding never fail a row.
struct FieldDecoder {
    /// True when the file is valid UTF-8; false means Windows-1252.
    let isUTF8: Bool
    private var areas = ParseCache<AreaCode>()
    private var flows = ParseCache<Flow>()
    private var commodities = ParseCache<CommodityCode>()
    private var periods = ParseCache<Period>()
    private var strings: [ByteKey: String] = [:]

    init(isUTF8: Bool) { self.isUTF8 = isUTF8 }

    /// The field as a Swift string, decoded with the file's encoding.
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard let key = ByteKey(bytes) else { return Self.text(bytes, isUTF8: isUTF8) }
        if let hit = strings[key] { return hit }
        let text = Self.text(bytes, isUTF8: isUTF8)
        if strings.count < ImportLimits.parseCacheEntriesMax { strings[key] = text }
        return text
    }

    /// An area: alpha code (`DEU`, `_X `, `WLD`) or a numeric Comtrade/M49 code (`842`).
    /// - Throws: ``FieldError`` naming `field`.
    mutating func area(_ bytes: UnsafeBufferPointer<UInt8>, field: String) throws(FieldError) -> AreaCode {
        let utf8 = isUTF8
        do {
            return try areas.value(bytes) { raw throws(FieldError) in
                let text = Self.text(raw, isUTF8: utf8)
                guard Self.isDigits(raw) else { return try AreaCode(text) }
                guard let number = Int(text), let alpha = AreaCodeTable.alpha3ByNumber[number] else {
                    throw FieldError(
                        field: "area", reason: "numeric area code \(text) is not in the Comtrade/M49 table")
                }
                return try AreaCode(alpha)
            }
        } catch {
            throw FieldError(field: field, reason: error.reason)
        }
    }

    /// A flow code (`M`, `DX`) or legacy name (`Re-Export`). - Throws: ``FieldError`` (`flow`).
    mutating func flow(_ bytes: UnsafeBufferPointer<UInt8>) throws(FieldError) -> Flow {
        let utf8 = isUTF8
        return try flows.value(bytes) { raw throws(FieldError) in try Flow(code: Self.text(raw, isUTF8: utf8)) }
    }

    /// A commodity code. An all-digit code of odd length lost its leading zero to a
    /// spreadsheet (`1` → `01`, `10121` → `010121`) and gets it back: HS codes have 2, 4,
    /// 6, 8 or 10 digits. - Throws: ``FieldError`` (`commodity`).
    mutating func commodity(_ bytes: UnsafeBufferPointer<UInt8>) throws(FieldError) -> CommodityCode {
        let utf8 = isUTF8
        return try commodities.value(bytes) { raw throws(FieldError) in
            let text = Self.text(raw, isUTF8: utf8)
            let padded = Self.isDigits(raw) && raw.count % 2 == 1 ? "0" + text : text
            return try CommodityCode(padded)
        }
    }

    /// A period, `YYYY` or `YYYYMM`. - Throws: ``FieldError`` (`period`).
    mutating func period(_ bytes: UnsafeBufferPointer<UInt8>) throws(FieldError) -> Period {
        let utf8 = isUTF8
        return try periods.value(bytes) { raw throws(FieldError) in try Period(Self.text(raw, isUTF8: utf8)) }
    }

    /// A decimal number, or nil for an empty field. Plain `-123.45` text is read
    /// byte by byte; anything else (exponents, `+`, more than 9 fractional digits,
    /// 19+ digits) goes through ``ExactDecimal/init(parsing:)`` with the same result.
    /// Never a binary float. - Throws: ``FieldError`` naming `field`.
    func decimal(_ bytes: UnsafeBufferPointer<UInt8>, field: String) throws(FieldError) -> ExactDecimal? {
        if bytes.isEmpty { return nil }
        if let fast = Self.plainDecimal(bytes) { return fast }
        do {
            return try ExactDecimal(parsing: Self.text(bytes, isUTF8: isUTF8))
        } catch {
            throw FieldError(field: field, reason: error.description)
        }
    }

    /// An optional-sign integer of at most 18 digits, or nil (empty or not an integer).
    func integer(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        let negative = !bytes.isEmpty && bytes[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        guard bytes.count > index, bytes.count - index <= 18 else { return nil }
        var value = 0
        while index < bytes.count {
            let digit = Int(bytes[index]) - 0x30
            guard digit >= 0 && digit <= 9 else { return nil }
            value = value * 10 + digit
            index += 1
        }
        return negative ? -value : value
    }

    /// `true`/`false` (any case) or `1`/`0`; an empty field is false.
    /// - Throws: ``FieldError`` naming `field`.
    func bool(_ bytes: UnsafeBufferPointer<UInt8>, field: String) throws(FieldError) -> Bool {
        if bytes.isEmpty || Self.equals(bytes, "false") || Self.equals(bytes, "0") { return false }
        if Self.equals(bytes, "true") || Self.equals(bytes, "1") { return true }
        throw FieldError(field: field, reason: "'\(Self.text(bytes, isUTF8: isUTF8))' is not true or false")
    }

    // MARK: - Byte helpers

    static func isDigits(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// True when the field's bytes equal the ASCII text `ascii`, by default ignoring
    /// the case of letters.
    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ ascii: StaticString, ignoringCase: Bool = true) -> Bool {
        guard bytes.count == ascii.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: ascii.utf8Start, count: ascii.utf8CodeUnitCount)
        for index in 0..<bytes.count where bytes[index] != expected[index] {
            let letter = bytes[index] | 0x20
            guard ignoringCase, letter >= 0x61, letter <= 0x7A, letter == expected[index] | 0x20 else { return false }
        }
        return true
    }

    /// `-?digits(.digits)?` with at most 18 digits and 9 fractional digits, else nil.
    private static func plainDecimal(_ bytes: UnsafeBufferPointer<UInt8>) -> ExactDecimal? {
        guard !bytes.isEmpty else { return nil }
        var index = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        var mantissa: Int64 = 0
        var digits = 0
        var scale = 0
        var seenPoint = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= 0x30 && byte <= 0x39 {
                guard digits < 18 else { return nil }
                mantissa = mantissa * 10 + Int64(byte - 0x30)
                digits += 1
                if seenPoint { scale += 1 }
            } else if byte == UInt8(ascii: ".") && !seenPoint {
                seenPoint = true
            } else {
                return nil
            }
            index += 1
        }
        guard digits > 0, scale <= Int(ExactDecimal.scaleMax) else { return nil }
        return ExactDecimal(normalizingMantissa: negative ? -mantissa : mantissa, scale: UInt8(scale))
    }

    /// Decodes bytes as UTF-8 or, for a non-UTF-8 file, Windows-1252.
    static func text(_ bytes: UnsafeBufferPointer<UInt8>, isUTF8: Bool) -> String {
        if isUTF8 || bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(windows1252Scalar(byte)) }
        return String(scalars)
    }

    /// Windows-1252 → Unicode. The five unassigned bytes (81, 8D, 8F, 90, 9D) map to
    /// the C1 control of the same number, as Latin-1 does.
    static func windows1252Scalar(_ byte: UInt8) -> Unicode.Scalar {
        guard byte >= 0x80 && byte <= 0x9F else { return Unicode.Scalar(byte) }
        return Unicode.Scalar(windows1252High[Int(byte - 0x80)]) ?? Unicode.Scalar(byte)
    }

    private static let windows1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    /// Strict UTF-8 check: no overlong forms, no surrogates, nothing above U+10FFFF.
    /// Complexity: one pass, O(n).
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        let raw = UnsafeRawBufferPointer(bytes)
        while index < count {
            // ASCII fast path: eight bytes at a time.
            if index + 8 <= count
                && raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
                continue
            }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let extra: Int
            var scalar: UInt32
            let smallest: UInt32
            if lead & 0xE0 == 0xC0 {
                (extra, scalar, smallest) = (1, UInt32(lead & 0x1F), 0x80)
            } else if lead & 0xF0 == 0xE0 {
                (extra, scalar, smallest) = (2, UInt32(lead & 0x0F), 0x800)
            } else if lead & 0xF8 == 0xF0 {
                (extra, scalar, smallest) = (3, UInt32(lead & 0x07), 0x10000)
            } else {
                return false
            }
            guard index + extra < count else { return false }
            for offset in 1...extra {
                let next = bytes[index + offset]
                guard next & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            guard scalar >= smallest, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return false }
            index += extra + 1
        }
        return true
    }
}
