import Foundation
import Testing
import TradeSyncControl
import TradeSyncModel

/// Imports through the real CLI and daemon.
@Suite(.serialized) struct ImportEndToEndTests {
    static let bicycles = "comtrade_legacy_api_bicycles-871200_2016-2019.csv"

    struct ImportJSON: Decodable {
        let rowsRead: Int
        let written: Int
        let unchanged: Int
        let skipped: Int
        enum CodingKeys: String, CodingKey {
            case written, unchanged, skipped
            case rowsRead = "rows_read"
        }
    }

    @Test("E2E: two offices import the same file apart, then meet: zero conflicts; re-import writes nothing")
    func sameFileTwoOffices() throws {
        let root = Harness.tempDir("samefile")
        defer { try? FileManager.default.removeItem(at: root) }
        let ports = (0..<2).map { _ in Harness.freePort() }
        let a = NodeProcess(name: "a", root: root, port: ports[0])
        let b = NodeProcess(name: "b", root: root, port: ports[1])
        defer { a.stop(); b.stop() }
        try a.start()
        try b.start()
        // comtrade_legacy_api_bicycles-871200_2016-2019.csv: 1,302 rows, all importable.
        let first = try a.json(ImportJSON.self, ["import", Harness.dataFile(Self.bicycles)])
        #expect(first.rowsRead == 1_302 && first.written == 1_302 && first.skipped == 0)
        #expect(try b.json(ImportJSON.self, ["import", Harness.dataFile(Self.bicycles)]).written == 1_302)
        let digestBefore = try a.status().digest
        let again = try a.json(ImportJSON.self, ["import", Harness.dataFile(Self.bicycles)])
        #expect(again.written == 0 && again.unchanged == 1_302)
        #expect(try a.status().digest == digestBefore)
        #expect(try a.status().entries == 1_302)

        // Now they meet: every key holds two equal concurrent versions, which collapse.
        b.stop()
        b.peers = [ports[0]]
        try b.start()
        let met = try Harness.waitUntil(seconds: 30) {
            let (sa, sb) = (try a.status(), try b.status())
            return sa.entries == 2 * 1_302 && sb.entries == 2 * 1_302 && sa.digest == sb.digest
        }
        #expect(met)
        for node in [a, b] {
            let status = try node.status()
            #expect(status.conflicts == 0)
            #expect(status.records == 1_302)
        }
        // comtrade_legacy_api_bicycles-871200_2016-2019.csv line 2: Albania imports from World, 2017, 1028137 USD.
        let record = try b.json(RecordView.self, ["get", "ALB:W00:M:871200:2017"])
        #expect(record.values?.valueUSD?.description == "1028137")
        #expect(record.siblings.count == 1 && record.siblings[0].dots.count == 2)
    }
}
