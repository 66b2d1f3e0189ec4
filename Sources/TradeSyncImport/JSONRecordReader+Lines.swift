/// TradeSync JSON Lines: one flat record object per line (`tradesync export --format jsonl`),
/// and the probe that tells such a file from a Comtrade JSON document.
extension JSONRecordReader {
    /// Reads JSON Lines: each non-blank line one record object (a value that is not an
    /// object is a damaged row). `progress` is called every 8192 records with the offset
    /// reached. - Throws: ``ImportError/malformed(file:line:reason:)`` for invalid JSON.
    mutating func readLines(each: (FieldRow) -> Void, progress: (Int) -> Void) throws(ImportError) {
        var row = FieldRow()
        var records = 0
        skipWhitespace()
        while offset < bytes.count {  // bound: each pass consumes one value
            try readElement(into: &row, notObject: "line is not a JSON object")
            each(row)
            records += 1
            if records % 8192 == 0 { progress(offset) }
            skipWhitespace()
        }
    }

    /// The keys of the one flat JSON object `scratch` holds (nested values skipped), or
    /// nil when it holds anything else or invalid JSON. Unescapes `scratch` in place.
    static func objectKeys(_ scratch: inout [UInt8]) -> [String]? {
        scratch.withUnsafeMutableBufferPointer { buffer -> [String]? in
            var reader = JSONRecordReader(bytes: buffer, offset: 0, file: "", fieldNames: [])
            return try? reader.readObjectKeys()
        }
    }

    private mutating func readObjectKeys() throws(ImportError) -> [String] {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        var keys: [String] = []
        skipWhitespace()
        var more = try peek() != UInt8(ascii: "}")
        if !more { offset += 1 }
        while more {
            keys.append(String(decoding: bytes[try readKeyAndColon()], as: UTF8.self))
            try skipValue()
            more = try afterMember(closer: UInt8(ascii: "}"))
        }
        skipWhitespace()
        guard offset == bytes.count else { throw malformed("more than one value") }
        return keys
    }

    /// Reads one value into a fresh `row` (at the current line, every column empty): a
    /// record when it is an object, else skipped and marked damaged with `notObject`.
    /// - Throws: ``ImportError/malformed(file:line:reason:)`` for invalid JSON.
    mutating func readElement(into row: inout FieldRow, notObject: String) throws(ImportError) {
        row.removeAll()
        row.line = line
        for _ in 0..<columnCount { row.append(start: 0, end: 0) }
        if try peek() == UInt8(ascii: "{") {
            try readRecord(into: &row)
        } else {
            try skipValue()
            row.damage = notObject
        }
    }
}
