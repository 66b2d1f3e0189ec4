import TradeSyncModel

/// The layout of a trade file, detected from its header or first bytes (never its name).
public enum ImportFormat: String, Sendable {
    /// UN Comtrade legacy CSV: the 35-column header (`Classification,Year,Period,…,Flag`)
    /// or any column subset of it that still names reporter, partner, flow, commodity,
    /// period and trade value. Columns are matched by name.
    case comtradeLegacyCSV = "comtrade-legacy-csv"
    /// UN Comtrade Plus / API v1 CSV (`typeCode,freqCode,…,primaryValue,…`), often
    /// Windows-1252 with a trailing comma on data rows.
    case comtradePlusCSV = "comtrade-plus-csv"
    /// UN Comtrade API v1 JSON response: `{"elapsedTime","count","data":[…],"error"}`
    /// (a bare array of records is accepted too).
    case comtradeAPIJSON = "comtrade-api-json"
    /// TradeSync CSV: `reporter,partner,flow,hs6|commodity,period,value_usd,net_weight_kg,qty,qty_unit`
    /// with optional `customs,transport,flags`, as written by `gen_trade.py` and
    /// `tradesync export --format csv`.
    case tradeSyncCSV = "tradesync-csv"
    /// TradeSync JSON Lines: one object per line with the TradeSync CSV column names as
    /// keys (`commodity` or `hs6`), decimals as strings or numbers, `null` or absent for
    /// no value; as written by `tradesync export --format jsonl`.
    case tradeSyncJSONL = "tradesync-jsonl"
}

/// One row that could not be imported.
///
/// `line` is the 1-based physical line of the file on which the row starts (the CSV
/// header is line 1; for JSON, the line of the record's opening `{`).
public struct RowError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as given to the importer.
    public let file: String
    /// 1-based physical line where the row starts.
    public let line: Int
    /// Why the row was refused, in one line (e.g. `partner: '1' is not …`).
    public let reason: String

    /// Creates a row error.
    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    /// `FILE:LINE: reason`.
    public var description: String { "\(file):\(line): \(reason)" }
}

/// A record read from a file, with the line it came from.
public struct ImportedRow: Sendable, Equatable {
    /// The record as it will be stored.
    public let record: TradeRecord
    /// 1-based physical line where the row starts (see ``RowError/line``).
    public let line: Int

    /// Creates an imported row.
    public init(record: TradeRecord, line: Int) {
        self.record = record
        self.line = line
    }
}

/// The result of reading one trade file.
///
/// Shape: ``rows`` are the good records in file order, each key at most once;
/// ``rejected`` lists every row that cannot be imported, in file order. Every data row
/// read is in exactly one of ``rows``, ``rejected`` or ``duplicatesCollapsed``:
/// `rowsRead == rows.count + rejected.count + duplicatesCollapsed`.
/// Whether rejections abort an import (`--skip-invalid`) is the caller's decision.
public struct ImportReport: Sendable {
    /// The file name as given to the importer.
    public let file: String
    /// The detected layout.
    public let format: ImportFormat
    /// Data rows read (CSV: non-blank lines after the header; JSON: records in `data`).
    public let rowsRead: Int
    /// The good records in file order.
    public let rows: [ImportedRow]
    /// Rows that cannot be imported, with the reason, in file order.
    public let rejected: [RowError]
    /// Later rows that repeated an earlier row's key with identical values; they were dropped.
    public let duplicatesCollapsed: Int

    /// Creates a report.
    public init(
        file: String, format: ImportFormat, rowsRead: Int, rows: [ImportedRow], rejected: [RowError],
        duplicatesCollapsed: Int
    ) {
        self.file = file
        self.format = format
        self.rowsRead = rowsRead
        self.rows = rows
        self.rejected = rejected
        self.duplicatesCollapsed = duplicatesCollapsed
    }
}

/// Why a whole file cannot be imported. Row-level problems are ``RowError``s instead.
public enum ImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file cannot be opened or read (`reason` is the system's message), or it is
    /// larger than ``ImportLimits/fileBytesMax``.
    case unreadable(file: String, reason: String)
    /// The header (or JSON shape) is none of the ``ImportFormat``s; `reason` quotes what
    /// was seen.
    case unknownFormat(file: String, reason: String)
    /// File-level damage at `line` (1-based): an unterminated quoted field, invalid JSON,
    /// a row wider than ``ImportLimits/fieldsPerRowMax``.
    case malformed(file: String, line: Int, reason: String)

    /// One line: `FILE: cannot read: …`, `FILE: unknown format: …` or `FILE:LINE: malformed: …`.
    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "\(file): cannot read: \(reason)"
        case .unknownFormat(let file, let reason): "\(file): unknown format: \(reason)"
        case .malformed(let file, let line, let reason): "\(file):\(line): malformed: \(reason)"
        }
    }
}

/// Named maxima of the importer. Each bounds memory or a loop on untrusted input.
public enum ImportLimits {
    /// Largest file read, in bytes (2 GiB). The importer holds the whole file in memory;
    /// a 5M-row Comtrade legacy file is about 1 GB.
    public static let fileBytesMax = 1 << 31
    /// Most fields in one CSV row. Comtrade Plus has 47 (+1 trailing); anything near
    /// this is not a trade file, and the bound keeps a damaged file from growing a row
    /// without end.
    public static let fieldsPerRowMax = 1024
    /// Deepest JSON nesting skipped inside ignored values. Comtrade responses nest 3 deep.
    public static let jsonDepthMax = 64
    /// Most distinct field texts memoised per kind (areas, flows, commodities, periods,
    /// breakdown codes, units). Codes repeat heavily; the bound caps memory for files
    /// with many distinct commodity codes. Beyond it, fields are parsed without caching.
    public static let parseCacheEntriesMax = 1 << 16
}

/// Hands a parse's good rows over while the file is still being read
/// (``TradeFileImporter/read(path:progress:stream:)``): each block of ``blockRows`` records,
/// in file order, as soon as its last row is filed. A later row repeating one of their keys
/// is still collapsed (equal values) or rejected (different values) against them, as in the
/// report, so the blocks hold exactly the report's first rows. The rows after the last
/// whole block are handed over by nobody: the report's `rows` holds them (and every other).
/// ``take`` runs on the parsing thread; the parse waits while it runs.
public struct RowStream: Sendable {
    /// Records per block, at least 1.
    public let blockRows: Int
    /// Receives each block's records and the parse's estimate of the rows in the file (its
    /// line count for CSV, 0 when unknown).
    public let take: @Sendable (_ records: [TradeRecord], _ rowsExpected: Int) -> Void

    /// - Precondition: `blockRows >= 1`.
    public init(blockRows: Int, take: @escaping @Sendable (_ records: [TradeRecord], _ rowsExpected: Int) -> Void) {
        precondition(blockRows >= 1, "blockRows \(blockRows)")
        self.blockRows = blockRows
        self.take = take
    }
}
