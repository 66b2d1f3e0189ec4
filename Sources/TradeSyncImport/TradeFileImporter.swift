import TradeSyncModel

/// Reads trade files (the five ``ImportFormat``s) into records.
///
/// The format is detected from the first bytes and the header, never from the file name:
/// a first line that is one whole JSON object with the TradeSync CSV column names as keys
/// → ``ImportFormat/tradeSyncJSONL``; other `{` or `[` → ``ImportFormat/comtradeAPIJSON``;
/// a CSV header with `cmdCode` and
/// `primaryValue` → ``ImportFormat/comtradePlusCSV``; with `Commodity Code` and
/// `Trade Value (US$)` → ``ImportFormat/comtradeLegacyCSV``; with `reporter`, `partner`,
/// `flow`, `hs6`/`commodity`, `period`, `value_usd` → ``ImportFormat/tradeSyncCSV``.
///
/// Row-level problems never throw: each bad row becomes a ``RowError`` in
/// ``ImportReport/rejected``. Duplicate keys: a later row with the same key and equal
/// values is dropped and counted in ``ImportReport/duplicatesCollapsed``; with different
/// values it is rejected (`duplicate key KEY with different values (first at line N)`).
///
/// Complexity: O(file bytes) time; memory is the file plus the records. Encoding: UTF-8
/// when the whole file is valid UTF-8, else Windows-1252; a UTF-8 BOM is skipped.
public enum TradeFileImporter {
    /// Told how far a parse got: bytes of the file parsed so far and the file's size.
    /// Called every 8192 rows and once at the end, on the parsing thread.
    public typealias Progress = (_ bytesParsed: Int, _ bytesTotal: Int) -> Void

    /// The record fields of TradeSync JSON Lines, in row order (`hs6` is read as `commodity`).
    static let jsonLinesFieldNames = [
        "reporter", "partner", "flow", "commodity", "period", "customs", "transport", "value_usd", "net_weight_kg",
        "qty", "qty_unit", "flags",
    ]

    /// Most bytes of a file's first line looked at to tell JSON Lines from a Comtrade
    /// JSON document (a TradeSync record line is about 250 bytes).
    static let jsonLinesProbeBytesMax = 64 * 1024

    /// Reads and parses the file at `path` (the report's `file` is `path` as given).
    /// - Throws: ``ImportError/unreadable(file:reason:)`` when the file cannot be read,
    ///   is not a regular file or exceeds ``ImportLimits/fileBytesMax``; otherwise as
    ///   ``parse(bytes:file:)``.
    /// - Parameter stream: hands the good rows over in blocks while the file is parsed
    ///   (``RowStream``); the report still holds every row.
    public static func read(path: String, progress: Progress? = nil, stream: RowStream? = nil) throws(ImportError)
        -> ImportReport
    {
        var bytes = try FileBytes.load(path: path)
        // Unescapes in place: no copy of the file.
        return try parse(owned: &bytes, file: path, progress: progress, stream: stream)
    }

    /// Parses a whole file's bytes. `file` is used only in messages and the report.
    /// - Throws: ``ImportError/unknownFormat(file:reason:)`` (empty file, unknown header
    ///   or JSON shape, header lacking a needed column); ``ImportError/malformed(file:line:reason:)``
    ///   for file-level damage (unterminated quote, invalid JSON, over-wide row).
    public static func parse(bytes: [UInt8], file: String) throws(ImportError) -> ImportReport {
        var buffer = bytes  // one copy: quoted fields and JSON strings are unescaped in place
        return try parse(owned: &buffer, file: file)
    }

    /// Parses `bytes`, overwriting escaped text in place (the array is scratch afterwards).
    private static func parse(
        owned bytes: inout [UInt8], file: String, progress: Progress? = nil, stream: RowStream? = nil
    ) throws(ImportError) -> ImportReport {
        var outcome: Result<ImportReport, ImportError> = .failure(
            .unknownFormat(file: file, reason: "the file is empty"))
        let total = bytes.count
        let report: (Int) -> Void = { done in progress?(done, total) }
        bytes.withUnsafeMutableBufferPointer { pointer in
            let whole = pointer
            do throws(ImportError) {
                outcome = .success(try parseBuffer(whole, file: file, progress: report, stream: stream))
            } catch {
                outcome = .failure(error)
            }
        }
        if case .success = outcome { progress?(total, total) }
        return try outcome.get()
    }

    private static func parseBuffer(
        _ bytes: UnsafeMutableBufferPointer<UInt8>, file: String, progress: (Int) -> Void, stream: RowStream?
    ) throws(ImportError) -> ImportReport {
        let readOnly = UnsafeBufferPointer(bytes)
        let hasBOM = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
        let start = hasBOM ? 3 : 0
        let decoder = FieldDecoder(isUTF8: FieldDecoder.isValidUTF8(UnsafeBufferPointer(rebasing: readOnly[start...])))
        var first = start
        while first < bytes.count,
            bytes[first] == 0x20 || bytes[first] == 0x09 || bytes[first] == 0x0A || bytes[first] == 0x0D
        {
            first += 1
        }
        guard first < bytes.count else { throw .unknownFormat(file: file, reason: "the file is empty") }
        if bytes[first] == UInt8(ascii: "{") && isTradeSyncJSONLines(UnsafeBufferPointer(bytes), from: first) {
            return try importJSONLines(
                bytes, start: start, decoder: decoder, file: file, progress: progress, stream: stream)
        }
        if bytes[first] == UInt8(ascii: "{") || bytes[first] == UInt8(ascii: "[") {
            return try importJSON(bytes, start: start, decoder: decoder, file: file, stream: stream)
        }
        return try importCSV(bytes, start: start, decoder: decoder, file: file, progress: progress, stream: stream)
    }

    /// True when the line starting at `first` is one whole JSON object whose keys name
    /// the TradeSync CSV columns (a Comtrade document's first line is not: it opens an
    /// envelope or an array of Comtrade records).
    private static func isTradeSyncJSONLines(_ bytes: UnsafeBufferPointer<UInt8>, from first: Int) -> Bool {
        let limit = min(bytes.count, first + jsonLinesProbeBytesMax)
        var end = first
        while end < limit && bytes[end] != 0x0A { end += 1 }
        guard end < limit || limit == bytes.count else { return false }
        var scratch = Array(bytes[first..<end])  // the reader unescapes in place: probe a copy
        guard let keys = JSONRecordReader.objectKeys(&scratch) else { return false }
        return TradeSyncCSVMapper.matches(HeaderColumns(names: keys))
    }

    private static func importJSONLines(
        _ bytes: UnsafeMutableBufferPointer<UInt8>, start: Int, decoder: FieldDecoder, file: String,
        progress: (Int) -> Void, stream: RowStream?
    ) throws(ImportError) -> ImportReport {
        let header = HeaderColumns(names: jsonLinesFieldNames)
        var mapper = TradeSyncCSVMapper(header: header, decoder: decoder)
        var builder = ReportBuilder(file: file, rowsExpected: 0, stream: stream)
        var reader = JSONRecordReader(
            bytes: bytes, offset: start, file: file, fieldNames: jsonLinesFieldNames, aliases: ["hs6": "commodity"])
        let readOnly = UnsafeBufferPointer(bytes)
        try reader.readLines(each: { row in builder.add(row, bytes: readOnly, mapper: &mapper) }, progress: progress)
        return builder.report(format: .tradeSyncJSONL)
    }

    private static func importJSON(
        _ bytes: UnsafeMutableBufferPointer<UInt8>, start: Int, decoder: FieldDecoder, file: String, stream: RowStream?
    ) throws(ImportError) -> ImportReport {
        let header = HeaderColumns(names: ComtradePlusMapper.fieldNames)
        var mapper = try ComtradePlusMapper(header: header, decoder: decoder, file: file)
        var builder = ReportBuilder(file: file, rowsExpected: 0, stream: stream)
        var reader = JSONRecordReader(bytes: bytes, offset: start, file: file)
        let readOnly = UnsafeBufferPointer(bytes)
        try reader.read { row in
            builder.add(row, bytes: readOnly, mapper: &mapper)
        }
        return builder.report(format: .comtradeAPIJSON)
    }

    private static func importCSV(
        _ bytes: UnsafeMutableBufferPointer<UInt8>, start: Int, decoder: FieldDecoder, file: String,
        progress: (Int) -> Void, stream: RowStream?
    ) throws(ImportError) -> ImportReport {
        var scanner = CSVScanner(bytes: bytes, offset: start, file: file)
        var row = FieldRow()
        guard try scanner.nextRow(into: &row) else { throw .unknownFormat(file: file, reason: "the file is empty") }
        var decoder = decoder
        let view = RowView(bytes: UnsafeBufferPointer(bytes), row: row)
        let header = HeaderColumns(names: (0..<row.count).map { decoder.string(view.field($0)) })
        let signature: (([String]) -> Bool) = { names in names.allSatisfy { header.index($0) != nil } }
        if signature(ComtradePlusMapper.signature) {
            var mapper = try ComtradePlusMapper(header: header, decoder: decoder, file: file)
            return try readRows(
                &scanner, mapper: &mapper, format: .comtradePlusCSV, columns: row.count, file: file, progress: progress,
                stream: stream)
        }
        if signature(ComtradeLegacyMapper.signature) {
            var mapper = try ComtradeLegacyMapper(header: header, decoder: decoder, file: file)
            return try readRows(
                &scanner, mapper: &mapper, format: .comtradeLegacyCSV, columns: row.count, file: file, progress: progress,
                stream: stream)
        }
        if TradeSyncCSVMapper.matches(header) {
            var mapper = TradeSyncCSVMapper(header: header, decoder: decoder)
            return try readRows(
                &scanner, mapper: &mapper, format: .tradeSyncCSV, columns: row.count, file: file, progress: progress,
                stream: stream)
        }
        throw .unknownFormat(
            file: file,
            reason: "header \(header.quoted) (line \(row.line)) is none of comtrade-legacy-csv, comtrade-plus-csv, "
                + "comtrade-api-json, tradesync-csv, tradesync-jsonl")
    }

    /// Reads the data rows after the header. A row must have as many fields as the
    /// header, or exactly one more that is empty (the Comtrade Plus trailing comma).
    private static func readRows<Mapper: RowMapper>(
        _ scanner: inout CSVScanner, mapper: inout Mapper, format: ImportFormat, columns: Int, file: String,
        progress: (Int) -> Void, stream: RowStream?
    ) throws(ImportError) -> ImportReport {
        let bytes = scanner.readOnlyBytes
        var builder = ReportBuilder(file: file, rowsExpected: lineCount(bytes[scanner.offset...]), stream: stream)
        var row = FieldRow()
        var rows = 0
        while try scanner.nextRow(into: &row) {
            rows += 1
            if rows % 8192 == 0 { progress(scanner.offset) }
            let trailingEmpty = row.count == columns + 1 && row.starts[columns] == row.ends[columns]
            if row.count != columns && !trailingEmpty && row.damage == nil {
                row.damage = "row has \(row.count) fields, the header has \(columns)"
            }
            builder.add(row, bytes: bytes, mapper: &mapper)
        }
        return builder.report(format: format)
    }
}

/// Line feeds plus one: an upper bound on the rows left in `bytes` (lone-CR files
/// are undercounted, which only costs a rehash).
private func lineCount(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Int {
    let raw = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes))
    var count = 1
    var offset = 0
    while offset + 8 <= raw.count {
        // Count 0x0A bytes in a word: zero bytes of (word XOR 0x0A…0A), SWAR style.
        let word = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self) ^ 0x0A0A_0A0A_0A0A_0A0A
        let high = ~(((word & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | word) & 0x8080_8080_8080_8080
        count += high.nonzeroBitCount
        offset += 8
    }
    while offset < raw.count {
        if raw[offset] == 0x0A { count += 1 }
        offset += 1
    }
    return count
}

/// Collects rows into an ``ImportReport``, collapsing or rejecting duplicate keys.
struct ReportBuilder {
    let file: String
    private var rowsRead = 0
    private var rows: [ImportedRow] = []
    private var rejected: [RowError] = []
    private var duplicatesCollapsed = 0
    private var indexByKey: [TradeKey: Int] = [:]
    private let stream: RowStream?
    private let rowsExpected: Int
    /// Rows handed to ``stream`` so far (they are ``rows``' first ones).
    private var handedOver = 0

    /// - Parameter rowsExpected: capacity to reserve (an upper estimate such as the
    ///   file's line count), so the record array and key index never rehash.
    init(file: String, rowsExpected: Int, stream: RowStream? = nil) {
        self.file = file
        self.stream = stream
        self.rowsExpected = rowsExpected
        rows.reserveCapacity(rowsExpected)
        indexByKey.reserveCapacity(rowsExpected)
    }

    /// Maps one data row and files the result.
    mutating func add<Mapper: RowMapper>(_ row: FieldRow, bytes: UnsafeBufferPointer<UInt8>, mapper: inout Mapper) {
        rowsRead += 1
        if let damage = row.damage {
            rejected.append(RowError(file: file, line: row.line, reason: damage))
            return
        }
        let record: TradeRecord
        do {
            record = try mapper.record(RowView(bytes: bytes, row: row))
        } catch {
            rejected.append(RowError(file: file, line: row.line, reason: error.reason))
            return
        }
        // One hash of the key, through the defaulting subscript: new keys (almost every row)
        // take the next position at once, instead of a lookup and then an insert.
        let index = Self.swap(&indexByKey[record.key, default: -1], with: rows.count)
        if index >= 0 {
            indexByKey[record.key] = index  // the first row of the key keeps its place
            let first = rows[index]
            if first.record.values == record.values {
                duplicatesCollapsed += 1
            } else {
                rejected.append(
                    RowError(
                        file: file, line: row.line,
                        reason: "duplicate key \(record.key) with different values (first at line \(first.line))"))
            }
            return
        }
        rows.append(ImportedRow(record: record, line: row.line))
        if let stream, rows.count - handedOver == stream.blockRows {
            // Copied out, not sliced: a slice would share the array and make the next
            // append copy it whole.
            stream.take(rows[handedOver...].map(\.record), rowsExpected)
            handedOver = rows.count
        }
    }

    /// Stores `new` and returns what was there.
    private static func swap(_ value: inout Int, with new: Int) -> Int {
        let old = value
        value = new
        return old
    }

    func report(format: ImportFormat) -> ImportReport {
        precondition(rowsRead == rows.count + rejected.count + duplicatesCollapsed, "every row is filed once")
        return ImportReport(
            file: file, format: format, rowsRead: rowsRead, rows: rows, rejected: rejected,
            duplicatesCollapsed: duplicatesCollapsed)
    }
}
