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

    @Test("E2E: --skip-invalid sends chunks while parsing: 1,000-record chunks import the cement file as one request does; a file damaged midway keeps the chunks sent before it and says how many")
    func streamedChunks() throws {
        let root = Harness.tempDir("streamed")
        defer { try? FileManager.default.removeItem(at: root) }
        let nodes = (0..<3).map { NodeProcess(name: "n\($0)", root: root, port: Harness.freePort()) }
        defer { for node in nodes { node.stop() } }
        for node in nodes { try node.start() }
        let cement = Harness.dataFile(CLIUsabilityTests.cement)
        // 9 whole chunks while parsing, then the last 553 records with the rejected count.
        let chunked = try nodes[0].json(ImportJSON.self, ["import", "--skip-invalid", "--chunk-records", "1000", cement])
        let whole = try nodes[1].json(ImportJSON.self, ["import", "--skip-invalid", cement])
        #expect(chunked.written == 9_553 && whole.written == 9_553)
        #expect(chunked.rowsRead == whole.rowsRead && chunked.skipped == whole.skipped && chunked.skipped > 0)
        let (first, second) = (try nodes[0].status(), try nodes[1].status())
        #expect(first.records == 9_553 && first.entries == 9_553)
        #expect(first.contentDigest != nil && first.contentDigest == second.contentDigest)

        // The first 4,000 lines, then a field whose quote never closes (file-level damage).
        let bytes = try Data(contentsOf: URL(fileURLWithPath: cement))
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var damaged = Data(lines.prefix(4_000).joined(separator: [UInt8(ascii: "\n")]))
        damaged.append(contentsOf: Array("\nH0,\"1999,1999\n".utf8))
        let file = root.appendingPathComponent("damaged.csv").path
        try damaged.write(to: URL(fileURLWithPath: file))
        let cut = try nodes[2].cli(["import", "--skip-invalid", "--chunk-records", "1000", file])
        #expect(cut.status == 2, "\(cut.stderr)")
        let held = try nodes[2].status().records
        // Whole chunks only: the rows parsed after the last one were never sent.
        #expect(held > 0 && held % 1_000 == 0, "\(held)")
        #expect(cut.stderr.contains("\(held) records were sent before this failure"), "\(cut.stderr)")
        #expect(cut.stderr.contains("damaged.csv"), "\(cut.stderr)")
        // Without --skip-invalid nothing is sent before the whole file is parsed.
        let refused = try nodes[1].cli(["import", "--chunk-records", "1000", file])
        let after = try nodes[1].status()
        #expect(refused.status == 2 && after.entries == 9_553, "\(refused.stderr)")
    }
}
