import Synchronization
import Testing
import TradeSyncImport
import TradeSyncModel

#if canImport(Glibc)
    import Glibc
#endif

/// ``RowStream``: the blocks a parse hands over while it reads are the report's first rows,
/// in order, whole blocks only, with duplicates already collapsed or rejected.
@Suite struct RowStreamTests {
    /// Collects what a stream hands over (the stream's closure is `@Sendable`).
    final class Blocks: Sendable {
        let taken = Mutex<[(records: [TradeRecord], rowsExpected: Int)]>([])
    }

    @Test("Import: a RowStream gets whole blocks of the report's first rows in file order, for the real files of three formats", arguments: [(TestData.cement, 1_000), (TestData.plusThailand, 100), (TestData.apiJSON, 7)])
    func blocksAreTheFirstRows(name: String, blockRows: Int) throws {
        let blocks = Blocks()
        let stream = RowStream(blockRows: blockRows) { records, expected in
            blocks.taken.withLock { $0.append((records, expected)) }
        }
        let report = try TradeFileImporter.read(path: TestData.path(name), stream: stream)
        let taken = blocks.taken.withLock { $0 }
        #expect(taken.count == report.rows.count / blockRows, "\(name): \(taken.count) blocks of \(report.rows.count) rows")
        #expect(taken.allSatisfy { $0.records.count == blockRows })
        let handed = taken.flatMap(\.records)
        #expect(handed == report.rows.prefix(handed.count).map(\.record), "\(name)")
        #expect(report.rows.count - handed.count < blockRows)
        // The same file read without a stream gives the same report.
        let plain = try TradeFileImporter.read(path: TestData.path(name))
        #expect(plain.rows == report.rows && plain.rejected == report.rejected && plain.rowsRead == report.rowsRead)
    }

    @Test("Import: a duplicate after its block was handed over is collapsed (equal values) or rejected (different), never handed over again")
    func duplicatesAfterTheirBlock() throws {
        var csv = "reporter,partner,flow,hs6,period,value_usd,net_weight_kg,qty,qty_unit\n"
        for index in 0..<6 { csv += "CHN,DEU,X,85070\(index),2022,\(100 + index),1,1,kg\n" }
        csv += "CHN,DEU,X,850700,2022,100,1,1,kg\n"  // line 8: the first key again, equal values
        csv += "CHN,DEU,X,850701,2022,999,1,1,kg\n"  // line 9: the second key, other values
        csv += "CHN,DEU,X,850799,2022,7,1,1,kg\n"
        let path = "/tmp/tradesync-rowstream-\(getpid()).csv"
        let bytes = Array(csv.utf8)
        let handle = try #require(fopen(path, "w"))
        #expect(fwrite(bytes, 1, bytes.count, handle) == bytes.count)
        fclose(handle)
        defer { unlink(path) }
        let blocks = Blocks()
        let report = try TradeFileImporter.read(
            path: path, stream: RowStream(blockRows: 3) { records, expected in blocks.taken.withLock { $0.append((records, expected)) } })
        let taken = blocks.taken.withLock { $0 }
        #expect(report.rows.count == 7 && report.duplicatesCollapsed == 1 && report.rejected.map(\.line) == [9])
        // Two blocks of three (lines 2–7); the seventh row (line 10) stays in the report's tail.
        #expect(taken.map(\.records.count) == [3, 3])
        #expect(taken.flatMap(\.records) == report.rows.prefix(6).map(\.record))
        #expect(taken.allSatisfy { $0.rowsExpected >= 10 })
    }
}
