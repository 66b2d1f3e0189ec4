import Foundation
import Testing
import TradeSyncControl

/// What a node does with its log across a crash.
@Suite(.serialized) struct DurabilityEndToEndTests {
    /// A running node that has acknowledged three puts (three log entries).
    static func nodeWithThreeWrites(_ root: URL) throws -> NodeProcess {
        let node = NodeProcess(name: "n", root: root, port: Harness.freePort())
        try node.start()
        for value in 1...3 {
            #expect(try node.cli(["put", "KOR:USA:X:852352:202\(value)", "value_usd=\(value)"]).status == 0)
        }
        return node
    }

    @Test("E2E: a torn last entry is cut off and logged at start; acknowledged writes survive")
    func tornTailIsCut() throws {
        let root = Harness.tempDir("torn")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = try Self.nodeWithThreeWrites(root)
        defer { node.stop() }
        let before = try node.status()
        #expect(node.stop() == 0)
        // Offline verify rebuilds the same state the node reported.
        let verified = try Harness.run("tradesync", ["verify", "--data-dir", node.dataDir.path, "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let report = try JSONDecoder().decode([String: AnyCodableValue].self, from: Data(verified.stdout.utf8))
        #expect(report["digest"] == .string(before.digest))
        #expect(report["entries"] == .int(3))

        // A crash mid-append: the length and checksum of a 200-byte record, then only 7 bytes of it.
        let log = node.dataDir.appendingPathComponent("segment-00000001.log")
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 200, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7]))
        try handle.close()
        let tornSize = try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int ?? 0
        let torn = try Harness.run("tradesync", ["verify", "--data-dir", node.dataDir.path])
        #expect(torn.status == 4 && torn.stderr.contains("torn tail of 15 bytes"), "\(torn.stderr)")

        try node.start()
        let after = try node.status()
        #expect(after.digest == before.digest)
        #expect(after.entries == 3 && after.records == 3)
        #expect(node.log().contains("cut torn tail of 15 bytes"), "\(node.log())")
        let cutSize = try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int ?? 0
        #expect(cutSize == tornSize - 15)
        // Nothing is destroyed unseen: the cut bytes are kept beside the log.
        let kept = try Data(contentsOf: URL(fileURLWithPath: log.path + ".torn-\(cutSize)"))
        #expect(kept == Data([0, 0, 0, 200, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7]))
        // The node keeps writing after the repair.
        #expect(try node.cli(["put", "KOR:USA:X:852352:2024", "value_usd=4"]).status == 0)
        #expect(try node.status().entries == 4)
    }

    @Test("E2E: damage before the tail stops the node with the file and byte offset")
    func midLogCorruptionStops() throws {
        let root = Harness.tempDir("corrupt")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = try Self.nodeWithThreeWrites(root)
        defer { node.stop() }
        #expect(node.stop() == 0)
        let log = node.dataDir.appendingPathComponent("segment-00000001.log")
        var bytes = try Data(contentsOf: log)
        // The first record starts after the 40-byte segment header; flip a byte in its
        // payload. The clean stop wrote a checkpoint covering it: the start-up checksum
        // pass must still catch it.
        #expect(FileManager.default.fileExists(atPath: node.dataDir.appendingPathComponent("checkpoint").path))
        bytes[40 + 40 + 20] ^= 0xFF
        try bytes.write(to: log)

        let result = try Harness.run(
            "tradesyncd", ["--data-dir", node.dataDir.path, "--listen", "127.0.0.1:\(Harness.freePort())"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(log.path) && result.stderr.contains("offset 40"), "\(result.stderr)")
        #expect(try Data(contentsOf: log) == bytes, "the damaged log must be left untouched")
        let verified = try Harness.run("tradesync", ["verify", "--data-dir", node.dataDir.path])
        #expect(verified.status == 4)
        #expect(verified.stderr.contains(log.path) && verified.stderr.contains("offset 40"), "\(verified.stderr)")
        #expect(try Data(contentsOf: log) == bytes)
    }
}

/// A JSON scalar, for reading a few keys of a report without its full type.
enum AnyCodableValue: Decodable, Equatable {
    case int(Int), string(String), other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            self = .other
        }
    }
}
