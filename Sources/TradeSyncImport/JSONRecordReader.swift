/// Reads a Comtrade API v1 JSON response (`{"elapsedTime","count","data":[…],"error"}`,
/// or a bare array of records) into ``FieldRow``s laid out as
/// ``ComtradePlusMapper/fieldNames``.
///
/// Number-preserving: a JSON number becomes the byte range of its source text
/// (`6804128143.0`), which ``FieldDecoder/decimal(_:field:)`` reads exactly, so no value
/// ever passes through `Double`. Strings are unescaped in place (`\uXXXX` to UTF-8).
/// `null` and absent keys are blank fields; `true`/`false` keep their text.
///
/// With ``readLines(each:progress:)`` (`JSONRecordReader+Lines.swift`) it reads JSON Lines instead (TradeSync JSONL, as
/// `tradesync export --format jsonl` writes it): one flat record object per line, laid
/// out as the `fieldNames` given.
///
/// Iterative, no recursion: ignored values are skipped with an explicit stack bounded by
/// ``ImportLimits/jsonDepthMax``. Complexity O(n).
struct JSONRecordReader {
    let bytes: UnsafeMutableBufferPointer<UInt8>
    private let file: String
    var offset: Int
    var line = 1
    private let columnByKey: [String: Int]
    let columnCount: Int

    /// - Parameters:
    ///   - fieldNames: the row layout: a record's key `fieldNames[i]` fills field `i`.
    ///   - aliases: other keys for a field (`hs6` → `commodity`).
    init(
        bytes: UnsafeMutableBufferPointer<UInt8>, offset: Int, file: String,
        fieldNames: [String] = ComtradePlusMapper.fieldNames, aliases: [String: String] = [:]
    ) {
        self.bytes = bytes
        self.offset = offset
        self.file = file
        var columns: [String: Int] = [:]
        for (index, name) in fieldNames.enumerated() { columns[name] = index }
        for (alias, name) in aliases { columns[alias] = columns[name] }
        columnByKey = columns
        columnCount = fieldNames.count
    }

    /// Reads the document, handing each record of `data` to `each` in order.
    /// - Throws: ``ImportError/malformed(file:line:reason:)`` for invalid JSON, a `count`
    ///   that disagrees with `data`, or a non-empty `error`;
    ///   ``ImportError/unknownFormat(file:reason:)`` for an object without a `data` array.
    mutating func read(each: (FieldRow) -> Void) throws(ImportError) {
        skipWhitespace()
        if try peek() == UInt8(ascii: "[") {
            _ = try readRecords(each: each)
        } else {
            try readEnvelope(each: each)
        }
        skipWhitespace()
        guard offset == bytes.count else { throw malformed("text after the end of the JSON document") }
    }

    private mutating func readEnvelope(each: (FieldRow) -> Void) throws(ImportError) {
        try expect(UInt8(ascii: "{"))
        var keys: [String] = []
        var records: Int?
        var count: (value: String, line: Int)?
        var apiError: (text: String, line: Int)?
        skipWhitespace()
        var more = try peek() != UInt8(ascii: "}")
        if !more { offset += 1 }
        while more {
            let key = String(decoding: bytes[try readKeyAndColon()], as: UTF8.self)
            if keys.count < 20 { keys.append(key) }
            skipWhitespace()
            let first = try peek()
            if key == "data" && first == UInt8(ascii: "[") {
                records = try readRecords(each: each)
            } else if key == "count" && (first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39)) {
                let startLine = line
                count = (String(decoding: bytes[try readNumber()], as: UTF8.self), startLine)
            } else if key == "error" && first == UInt8(ascii: "\"") {
                let startLine = line
                apiError = (String(decoding: bytes[try readString()], as: UTF8.self), startLine)
            } else {
                try skipValue()
            }
            more = try afterMember(closer: UInt8(ascii: "}"))
        }
        guard let records else {
            throw .unknownFormat(
                file: file, reason: "JSON object without a \"data\" array (keys: \(keys.joined(separator: ", ")))")
        }
        if let apiError, !apiError.text.isEmpty {
            throw .malformed(
                file: file, line: apiError.line, reason: "the response reports an error: '\(apiError.text)'")
        }
        if let count, count.value != String(records) {
            throw .malformed(
                file: file, line: count.line, reason: "count is \(count.value) but data holds \(records) records")
        }
    }

    /// Reads `[ … ]` of records; returns how many elements it held.
    private mutating func readRecords(each: (FieldRow) -> Void) throws(ImportError) -> Int {
        try expect(UInt8(ascii: "["))
        var row = FieldRow()
        var records = 0
        skipWhitespace()
        var more = try peek() != UInt8(ascii: "]")
        if !more { offset += 1 }
        while more {
            skipWhitespace()
            try readElement(into: &row, notObject: "data element is not a JSON object")
            records += 1
            each(row)
            more = try afterMember(closer: UInt8(ascii: "]"))
        }
        return records
    }

    /// Reads one flat record object into `row` (already sized, all fields blank).
    mutating func readRecord(into row: inout FieldRow) throws(ImportError) {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        var more = try peek() != UInt8(ascii: "}")
        if !more { offset += 1 }
        while more {
            let keyRange = try readKeyAndColon()
            let column = columnByKey[String(decoding: bytes[keyRange], as: UTF8.self)]
            skipWhitespace()
            let first = try peek()
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                try skipValue()
                if column != nil && row.damage == nil {
                    row.damage = "field \(String(decoding: bytes[keyRange], as: UTF8.self)) holds an object or array"
                }
            } else {
                let value = try readScalar()
                if let column, let value {
                    row.starts[column] = value.lowerBound
                    row.ends[column] = value.upperBound
                }
            }
            more = try afterMember(closer: UInt8(ascii: "}"))
        }
    }

    // MARK: - Tokens

    /// After a member or element: true at `,` (another follows), false at `closer`.
    mutating func afterMember(closer: UInt8) throws(ImportError) -> Bool {
        skipWhitespace()
        let next = try peek()
        offset += 1
        if next == UInt8(ascii: ",") { return true }
        guard next == closer else {
            throw malformed(
                "expected ',' or '\(Character(Unicode.Scalar(closer)))', found '\(Character(Unicode.Scalar(next)))'")
        }
        return false
    }

    /// A string, number or literal; its text range, or nil for `null`.
    private mutating func readScalar() throws(ImportError) -> Range<Int>? {
        let first = try peek()
        if first == UInt8(ascii: "\"") { return try readString() }
        if first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39) { return try readNumber() }
        let literal: StaticString
        switch first {
        case UInt8(ascii: "t"): literal = "true"
        case UInt8(ascii: "f"): literal = "false"
        case UInt8(ascii: "n"): literal = "null"
        default: throw malformed("unexpected character '\(Character(Unicode.Scalar(first)))'")
        }
        let start = offset
        let end = offset + literal.utf8CodeUnitCount
        let text = UnsafeBufferPointer(rebasing: bytes[start..<min(end, bytes.count)])
        guard end <= bytes.count, FieldDecoder.equals(text, literal, ignoringCase: false) else {
            throw malformed("invalid literal (expected \(literal))")
        }
        offset = end
        return first == UInt8(ascii: "n") ? nil : start..<end
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as source text.
    private mutating func readNumber() throws(ImportError) -> Range<Int> {
        let start = offset
        if offset < bytes.count && bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let integerDigits = skipDigits()
        guard integerDigits > 0, !(integerDigits > 1 && bytes[offset - integerDigits] == 0x30) else {
            throw malformed("invalid number")
        }
        if offset < bytes.count && bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard skipDigits() > 0 else { throw malformed("invalid number: no digits after '.'") }
        }
        if offset < bytes.count && (bytes[offset] | 0x20) == UInt8(ascii: "e") {
            offset += 1
            if offset < bytes.count && (bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-")) {
                offset += 1
            }
            guard skipDigits() > 0 else { throw malformed("invalid number: no exponent digits") }
        }
        return start..<offset
    }

    private mutating func skipDigits() -> Int {
        let start = offset
        while offset < bytes.count && bytes[offset] >= 0x30 && bytes[offset] <= 0x39 { offset += 1 }
        return offset - start
    }

    mutating func readKeyAndColon() throws(ImportError) -> Range<Int> {
        skipWhitespace()
        let key = try readString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"))
        return key
    }

    /// Reads `"…"`, unescaping in place; returns the range of the unescaped text.
    private mutating func readString() throws(ImportError) -> Range<Int> {
        try expect(UInt8(ascii: "\""))
        let start = offset
        var write = offset
        while true {
            guard offset < bytes.count else { throw malformed("unterminated string") }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                offset += 1
                return start..<write
            }
            guard byte >= 0x20 else { throw malformed("control character in a string") }
            if byte != UInt8(ascii: "\\") {
                bytes[write] = byte
                write += 1
                offset += 1
                continue
            }
            guard offset + 1 < bytes.count else { throw malformed("unterminated string") }
            let escape = bytes[offset + 1]
            offset += 2
            let plain: UInt8
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): plain = escape
            case UInt8(ascii: "b"): plain = 0x08
            case UInt8(ascii: "f"): plain = 0x0C
            case UInt8(ascii: "n"): plain = 0x0A
            case UInt8(ascii: "r"): plain = 0x0D
            case UInt8(ascii: "t"): plain = 0x09
            case UInt8(ascii: "u"):
                for byte in String(Character(try readUnicodeEscape())).utf8 {
                    bytes[write] = byte
                    write += 1
                }
                continue
            default:
                throw malformed("invalid escape '\\\(Character(Unicode.Scalar(escape)))'")
            }
            bytes[write] = plain
            write += 1
        }
    }

    /// The scalar of `XXXX` after `\u` (and a following `\uDC00`-style low surrogate).
    /// A lone surrogate becomes U+FFFD. UTF-8 output is never longer than the escape.
    private mutating func readUnicodeEscape() throws(ImportError) -> Unicode.Scalar {
        let high = try readHex4()
        guard (0xD800...0xDBFF).contains(high) else { return Unicode.Scalar(high) ?? "\u{FFFD}" }
        guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
        else {
            return "\u{FFFD}"
        }
        offset += 2
        let low = try readHex4()
        guard (0xDC00...0xDFFF).contains(low) else { return "\u{FFFD}" }
        return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}"
    }

    private mutating func readHex4() throws(ImportError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw malformed("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[offset]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw malformed("invalid \\u escape")
            }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }

    /// Skips one value of any shape, iteratively.
    mutating func skipValue() throws(ImportError) {
        var closers: [UInt8] = []
        while true {
            skipWhitespace()
            let first = try peek()
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                guard closers.count < ImportLimits.jsonDepthMax else {
                    throw malformed("nested deeper than \(ImportLimits.jsonDepthMax) levels")
                }
                offset += 1
                let closer = first == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                skipWhitespace()
                if try peek() != closer {
                    closers.append(closer)
                    if closer == UInt8(ascii: "}") { _ = try readKeyAndColon() }
                    continue
                }
                offset += 1
            } else {
                _ = try readScalar()
            }
            // A value is complete: close finished containers or step to the next member.
            while let closer = closers.last {
                guard !(try afterMember(closer: closer)) else {
                    if closer == UInt8(ascii: "}") { _ = try readKeyAndColon() }
                    break
                }
                closers.removeLast()
            }
            if closers.isEmpty { return }
        }
    }

    mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x0A: line += 1
            case 0x20, 0x09, 0x0D: break
            default: return
            }
            offset += 1
        }
    }

    func peek() throws(ImportError) -> UInt8 {
        guard offset < bytes.count else { throw malformed("unexpected end of file") }
        return bytes[offset]
    }

    mutating func expect(_ byte: UInt8) throws(ImportError) {
        guard try peek() == byte else {
            throw malformed(
                "expected '\(Character(Unicode.Scalar(byte)))', found '\(Character(Unicode.Scalar(bytes[offset])))'")
        }
        offset += 1
    }

    func malformed(_ reason: String) -> ImportError {
        .malformed(file: file, line: line, reason: "invalid JSON: \(reason)")
    }
}
