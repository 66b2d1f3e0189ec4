/// One row's fields as byte ranges of the file buffer. Reused from row to row, so
/// scanning allocates nothing once the arrays have grown to the widest row.
struct FieldRow {
    /// 1-based physical line on which the row starts.
    var line = 0
    /// Start offset of each field in the buffer.
    var starts: [Int] = []
    /// End offset (exclusive) of each field in the buffer.
    var ends: [Int] = []
    /// Set when the row is readable but damaged (text after a closing quote, a JSON
    /// value that is not a scalar): the row is rejected with this reason.
    var damage: String?

    var count: Int { starts.count }

    mutating func removeAll() {
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        damage = nil
    }

    mutating func append(start: Int, end: Int) {
        starts.append(start)
        ends.append(end)
    }
}

/// Read access to the fields of a ``FieldRow``.
struct RowView {
    let bytes: UnsafeBufferPointer<UInt8>
    let row: FieldRow

    /// The field at `index` without surrounding ASCII spaces and tabs (`"_X "` → `_X`);
    /// empty when the column is absent (`nil`) or the row is shorter.
    func field(_ index: Int?) -> UnsafeBufferPointer<UInt8> {
        guard let index, index < row.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        var start = row.starts[index]
        var end = row.ends[index]
        while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }
}

/// A byte-level RFC 4180 CSV scanner over a mutable file buffer.
///
/// Accepts LF, CRLF or lone CR line ends; quoted fields with commas, line breaks and
/// doubled quotes (unescaped in place, so every field is a plain byte range afterwards);
/// a leading UTF-8 BOM; blank lines anywhere (skipped, but counted in line numbers).
/// A quote inside an unquoted field is kept as a literal character.
///
/// Complexity: O(n) over the file; no allocation per row once warmed up.
struct CSVScanner {
    private let bytes: UnsafeMutableBufferPointer<UInt8>
    private let file: String
    /// Offset of the next unread byte.
    private(set) var offset: Int
    /// Physical line (1-based) of the byte at ``offset``.
    private(set) var line = 1

    /// The file buffer, for reading fields of scanned rows.
    var readOnlyBytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(bytes) }

    /// Starts at `offset` (after any BOM the caller skipped).
    init(bytes: UnsafeMutableBufferPointer<UInt8>, offset: Int, file: String) {
        self.bytes = bytes
        self.offset = offset
        self.file = file
    }

    /// Reads the next non-blank row into `row`. Returns false at the end of the file.
    /// - Throws: ``ImportError/malformed(file:line:reason:)`` for an unterminated quoted
    ///   field (naming the line where it opened) or a row wider than
    ///   ``ImportLimits/fieldsPerRowMax``.
    mutating func nextRow(into row: inout FieldRow) throws(ImportError) -> Bool {
        row.removeAll()
        skipBlankLines()
        guard offset < bytes.count else { return false }
        row.line = line
        while true {
            guard row.count < ImportLimits.fieldsPerRowMax else {
                throw .malformed(
                    file: file, line: row.line, reason: "row has more than \(ImportLimits.fieldsPerRowMax) fields")
            }
            if offset < bytes.count && bytes[offset] == quote {
                try scanQuotedField(into: &row)
            } else {
                let start = offset
                while offset < bytes.count {
                    let byte = bytes[offset]
                    if byte == comma || byte == lineFeed || byte == carriageReturn { break }
                    offset += 1
                }
                row.append(start: start, end: offset)
            }
            guard offset < bytes.count else { return true }
            let delimiter = bytes[offset]
            offset += 1
            if delimiter == comma { continue }
            if delimiter == carriageReturn && offset < bytes.count && bytes[offset] == lineFeed { offset += 1 }
            line += 1
            return true
        }
    }

    private mutating func skipBlankLines() {
        while offset < bytes.count {
            let byte = bytes[offset]
            guard byte == lineFeed || byte == carriageReturn else { return }
            offset += 1
            if byte == carriageReturn && offset < bytes.count && bytes[offset] == lineFeed { offset += 1 }
            line += 1
        }
    }

    /// Scans `"…"` starting at the opening quote, unescaping `""` in place.
    private mutating func scanQuotedField(into row: inout FieldRow) throws(ImportError) {
        let openLine = line
        offset += 1
        let start = offset
        var write = offset
        while true {
            guard offset < bytes.count else {
                throw .malformed(
                    file: file, line: openLine,
                    reason: "unterminated quoted field (field \(row.count + 1), opened on line \(openLine))")
            }
            let byte = bytes[offset]
            if byte == quote {
                if offset + 1 < bytes.count && bytes[offset + 1] == quote {
                    bytes[write] = quote
                    write += 1
                    offset += 2
                    continue
                }
                offset += 1
                break
            }
            if byte == lineFeed
                || (byte == carriageReturn && !(offset + 1 < bytes.count && bytes[offset + 1] == lineFeed))
            {
                line += 1
            }
            bytes[write] = byte
            write += 1
            offset += 1
        }
        row.append(start: start, end: write)
        // Text between the closing quote and the delimiter: keep scanning, reject the row.
        if offset < bytes.count, bytes[offset] != comma, bytes[offset] != lineFeed, bytes[offset] != carriageReturn {
            if row.damage == nil { row.damage = "field \(row.count): text after the closing quote" }
            while offset < bytes.count {
                let byte = bytes[offset]
                if byte == comma || byte == lineFeed || byte == carriageReturn { break }
                offset += 1
            }
        }
    }
}

private let comma = UInt8(ascii: ",")
private let quote = UInt8(ascii: "\"")
private let lineFeed = UInt8(ascii: "\n")
private let carriageReturn = UInt8(ascii: "\r")
