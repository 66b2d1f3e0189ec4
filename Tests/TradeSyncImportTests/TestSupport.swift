import Testing
import TradeSyncImport
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the real trade files live: `$TRADESYNC_DATA_DIR`, else `shared/data/trade`
/// next to the repository (`Tests/TradeSyncImportTests/X.swift` → `../../../shared/data/trade`).
enum TestData {
    static let directory: String = {
        if let value = getenv("TRADESYNC_DATA_DIR"), let text = String(validatingCString: value), !text.isEmpty {
            return text
        }
        let testsDirectory = String(
            #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        return testsDirectory + "/../../../shared/data/trade"
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    static let cement = "comtrade_legacy_bulk_cement-252310_1988-2020.csv"
    static let bicycles = "comtrade_legacy_api_bicycles-871200_2016-2019.csv"
    static let usaChinaHS2 = "comtrade_legacy_selectedcols_usa-chn_hs2_2017.csv"
    static let plusTotals = "comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv"
    static let plusThailand = "comtradeplus_csv_tha-imports-8542_2014-2024.csv"
    static let apiJSON = "comtrade_api_v1_get_C_A_HS_chn-2010.json"
    static let census = "us_census_intltrade_imports_hs6-fish_2018.csv"
    static let baci = "baci_HS22_Y2023_kor-852352.csv"

    /// Imports a shared data file (each call reads it afresh; the files are small).
    static func report(_ name: String) throws -> ImportReport {
        try TradeFileImporter.read(path: path(name))
    }
}

/// The raw bytes of a file (for checks on the file itself, not the importer).
func rawFile(_ path: String) throws -> [UInt8] {
    let handle = try #require(fopen(path, "rb"), "cannot open \(path)")
    defer { fclose(handle) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = fread(&chunk, 1, chunk.count, handle)
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
}

/// Exact decimal from text; never a float.
func dec(_ text: String) throws -> ExactDecimal { try ExactDecimal(parsing: text) }

/// The imported row whose key text is `key`.
func row(
    _ report: ImportReport, _ key: String, sourceLocation: SourceLocation = #_sourceLocation
) throws -> ImportedRow {
    try #require(
        report.rows.first { $0.record.key.description == key }, "no row with key \(key)",
        sourceLocation: sourceLocation)
}

/// The rejection reported for `line`.
func rejection(
    _ report: ImportReport, line: Int, sourceLocation: SourceLocation = #_sourceLocation
) throws -> RowError {
    try #require(
        report.rejected.first { $0.line == line }, "no rejection at line \(line)", sourceLocation: sourceLocation)
}

/// Parses literal text as a file named `name`.
func parse(_ text: String, name: String = "test.csv") throws(ImportError) -> ImportReport {
    try TradeFileImporter.parse(bytes: Array(text.utf8), file: name)
}

/// The import error thrown for `text`, or nil when it parsed.
func importError(_ bytes: [UInt8], name: String = "test.csv") -> ImportError? {
    do {
        _ = try TradeFileImporter.parse(bytes: bytes, file: name)
        return nil
    } catch {
        return error
    }
}
