import TradeSyncImport
import TradeSyncLog
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a simulation could not be set up.
public enum SimSetupError: Error, Sendable, CustomStringConvertible {
    /// The real trade files were not found or not readable in any of the places tried.
    case dataMissing(tried: [String], reason: String)

    public var description: String {
        switch self {
        case .dataMissing(let tried, let reason):
            "trade data not found (tried \(tried.joined(separator: ", "))): \(reason); set TRADESYNC_DATA_DIR"
        }
    }
}

/// The real rows the workload writes: the Comtrade legacy cement file (1988-2020) and the
/// Comtrade Plus Thai imports of HS 8542 (2014-2024), read once per process at setup.
public enum SimData {
    /// The files read, in this order.
    public static let cementFile = "comtrade_legacy_bulk_cement-252310_1988-2020.csv"
    public static let thaiFile = "comtradeplus_csv_tha-imports-8542_2014-2024.csv"

    /// Where the shared data lives: `$TRADESYNC_DATA_DIR`, else `../shared/data/trade`
    /// beside the package root, else `/work/shared/data/trade`.
    public static var candidateDirectories: [String] {
        var result: [String] = []
        if let value = getenv("TRADESYNC_DATA_DIR"), let text = String(validatingCString: value), !text.isEmpty {
            result.append(text)
        }
        let sourceDir = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        result.append(sourceDir + "/../../../shared/data/trade")
        result.append("/work/shared/data/trade")
        return result
    }

    /// The rows of one file, read at most once per process.
    public static func records(_ file: String) throws(SimSetupError) -> [TradeRecord] {
        switch file == thaiFile ? thai : cement {
        case .success(let rows): return rows
        case .failure(let error): throw error
        }
    }

    /// Both files' rows, cement first.
    public static func allRecords() throws(SimSetupError) -> [TradeRecord] {
        try records(cementFile) + records(thaiFile)
    }

    private static let cement = load(cementFile)
    private static let thai = load(thaiFile)

    private static func load(_ file: String) -> Result<[TradeRecord], SimSetupError> {
        var reason = "no directory tried"
        for directory in candidateDirectories {
            do {
                let report = try TradeFileImporter.read(path: directory + "/" + file)
                return .success(report.rows.map(\.record))
            } catch {
                reason = error.description
            }
        }
        return .failure(.dataMissing(tried: candidateDirectories, reason: reason))
    }
}

/// The random workload: puts, deletes, resolves and multi-key writes on a small hot key
/// set (so that concurrent writes happen), and batch imports of slices of the real rows.
/// Values vary over a few amounts, so concurrent equal values (which must collapse) occur too.
struct Workload {
    let rows: [TradeRecord]
    let hot: [TradeRecord]

    /// Picks `hotKeys` distinct rows as the hot set.
    init(rows: [TradeRecord], hotKeys: Int, random: inout SimRandom) {
        precondition(!rows.isEmpty, "the workload needs rows")
        self.rows = rows
        var hot: [TradeRecord] = []
        for _ in 0..<(hotKeys * 4) where hot.count < hotKeys {
            let row = rows[random.index(rows.count)]
            if !hot.contains(where: { $0.key == row.key }) { hot.append(row) }
        }
        self.hot = hot
    }

    /// A put of hot row `index` with one of six trade values.
    func put(_ index: Int, variant: Int) -> (key: TradeKey, operation: Operation) {
        var values = hot[index].values
        values.valueUSD = ExactDecimal(Int64(1_000 * (variant + 1)))
        return (key: hot[index].key, operation: .put(values))
    }

    /// A slice of the real rows, `count` long from `start` (wrapping).
    func slice(start: Int, count: Int) -> [TradeRecord] {
        (0..<count).map { rows[(start + $0) % rows.count] }
    }
}
