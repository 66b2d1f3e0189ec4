import FoundationEssentials
import Testing
import TradeSyncControl
import TradeSyncModel

/// The JSON the CLI and the node exchange: key names, round trips, `field=value` parsing.
@Suite struct ControlMessagesTests {
    /// The top-level key names of a JSON object.
    struct KeyNames: Decodable {
        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        let names: Set<String>

        init(from decoder: any Decoder) throws {
            names = Set(try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue))
        }
    }

    static func keyNames(of value: some Encodable) throws -> Set<String> {
        try JSONDecoder().decode(KeyNames.self, from: try JSONEncoder().encode(value)).names
    }

    static func roundTrip<Value: Codable & Equatable>(_ value: Value) throws -> Value {
        try JSONDecoder().decode(Value.self, from: try JSONEncoder().encode(value))
    }

    static let peer = PeerStatus(
        address: "10.0.0.2:7400", nodeID: String(repeating: "7b", count: 32), connected: true, behind: 3,
        inSync: false, protocolVersion: 1, bytesSent: 1536, bytesReceived: 812, entriesSent: 40,
        entriesReceived: 2,
        lastError: "reset by peer")

    static let status = StatusReport(
        nodeID: String(repeating: "3f", count: 32), records: 9553, keys: 9554, conflicts: 1, tombstones: 1,
        entries: 9600, vector: [String(repeating: "3f", count: 32): 9590, String(repeating: "7b", count: 32): 10],
        digest: String(repeating: "ab", count: 32), peers: [peer], listen: "0.0.0.0:7400",
        dataDir: "/var/lib/tradesync", logInstance: String(repeating: "cd", count: 16))

    @Test("FieldAssignment: field=value: split at the first '='")
    func assignmentParsing() throws {
        let money = try FieldAssignment(parsing: "value_usd=1200.5")
        #expect(money == FieldAssignment(field: "value_usd", value: "1200.5"))
        #expect(try FieldAssignment(parsing: "qty_unit=a=b") == FieldAssignment(field: "qty_unit", value: "a=b"))
        #expect(try FieldAssignment(parsing: "qty=") == FieldAssignment(field: "qty", value: ""))
        #expect(try FieldAssignment(parsing: "=5") == FieldAssignment(field: "", value: "5"))
        #expect(try FieldAssignment(parsing: "qty_unit=Number of items").value == "Number of items")
    }

    @Test("FieldAssignment: no '=': FieldError naming the text")
    func assignmentWithoutEquals() {
        #expect(throws: FieldError(field: "qty", reason: "expected field=value")) {
            try FieldAssignment(parsing: "qty")
        }
        #expect(throws: FieldError.self) { try FieldAssignment(parsing: "") }
    }

    @Test("StatusReport: JSON keys: snake_case names the README and scripts rely on")
    func statusKeys() throws {
        let names = try Self.keyNames(of: Self.status)
        let expected: Set<String> = [
            "node_id", "records", "keys", "conflicts", "tombstones", "entries", "vector", "digest", "peers", "listen",
            "data_dir", "log_instance",
        ]
        #expect(names == expected)
        #expect(try Self.roundTrip(Self.status) == Self.status)
        var checkpointed = Self.status
        checkpointed.checkpointEntries = 988_000
        checkpointed.checkpointPending = false
        #expect(try Self.keyNames(of: checkpointed) == expected.union(["checkpoint_entries", "checkpoint_pending"]))
        #expect(try Self.roundTrip(checkpointed) == checkpointed)
    }

    @Test("PeerStatus: JSON keys: snake_case, optional ones left out when nil")
    func peerKeys() throws {
        #expect(
            try Self.keyNames(of: Self.peer) == [
                "address", "node_id", "connected", "behind", "in_sync", "protocol_version", "bytes_sent",
                "bytes_received", "entries_sent", "entries_received", "last_error",
            ])
        let bare = PeerStatus(address: "10.0.0.3:7400")
        #expect(!(try Self.keyNames(of: bare)).contains("node_id"))
        #expect(try Self.roundTrip(Self.peer) == Self.peer)
    }

    @Test("ControlRequest: import command and query filter: wire names and round trip")
    func requestWireNames() throws {
        let request = ControlRequest(
            command: .importRecords, fields: [FieldAssignment(field: "qty", value: "1")], pick: "3f2a9c1b0d4e:12",
            filter: QueryFilter(reporter: "DEU", period: "2015..2019", includeDeleted: true), limit: 5, file: "a/b.csv")
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(json.contains(#""command":"import""#))
        #expect(try Self.roundTrip(request) == request)
        let filterNames = try Self.keyNames(of: try #require(request.filter))
        #expect(filterNames == ["reporter", "period", "include_deleted"])
        let decoded = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"command":"status"}"#.utf8))
        #expect(decoded == ControlRequest(command: .status))
    }

    @Test("ControlResponse: failure and import result: error_code and import keys")
    func responseWireNames() throws {
        let failure = ControlResponse.failure("not_found", "no record for AUS:W00:X:2523:1988")
        #expect(try Self.keyNames(of: failure) == ["ok", "error", "error_code"])
        #expect(try Self.roundTrip(failure) == failure)
        let imported = ControlResponse(importResult: ImportResult(file: "a.csv", received: 3, written: 2, unchanged: 1))
        #expect(try Self.keyNames(of: imported) == ["ok", "import"])
        #expect(try Self.roundTrip(imported) == imported)
    }

    @Test("RecordView: values travel as decimal text and flag names, and come back equal")
    func recordViewRoundTrip() throws {
        var values = TradeValues(quantityUnit: "kg", flags: [.estimated])
        try values.set(field: "value_usd", text: "58552.25")
        let sibling = SiblingView(
            dots: ["3f2a9c1b0d4e:12"], hlc: "1700000000000.3", deleted: false, values: values, winner: true)
        let tombstone = SiblingView(
            dots: ["7b1c00aa11bb:4"], hlc: "1699999999999.0", deleted: true, values: nil, winner: false)
        let view = RecordView(
            key: "AUS:W00:X:252310:1988", deleted: false, conflict: true, values: values,
            siblings: [sibling, tombstone])
        let json = String(decoding: try JSONEncoder().encode(view), as: UTF8.self)
        #expect(json.contains(#""value_usd":"58552.25""#))
        #expect(json.contains(#""flags":["estimated"]"#))
        #expect(try Self.roundTrip(view) == view)
        let response = ControlResponse(records: [view])
        #expect(try Self.roundTrip(response) == response)
    }

    @Test("Export and log --follow: cursor, after, log_position, export page and content_digest keys")
    func exportAndFollowWireNames() throws {
        var request = ControlRequest(command: .export, limit: 20_000)
        request.cursor = "AUS:W00:X:252310:1988"
        #expect(try Self.keyNames(of: request) == ["command", "cursor", "limit"])
        #expect(try Self.roundTrip(request) == request)
        var follow = ControlRequest(command: .log, limit: 10_000)
        follow.after = 9_553
        #expect(try Self.keyNames(of: follow) == ["command", "after", "limit"])
        var page = ControlResponse()
        page.export = ExportPage(records: 2, conflicts: 1, next: "AZE:W00:M:252310:2019:C01:3200")
        #expect(try Self.keyNames(of: page) == ["ok", "export"])
        #expect(try Self.keyNames(of: try #require(page.export)) == ["records", "conflicts", "next"])
        #expect(try Self.roundTrip(page) == page)
        var entry = LogEntryView(dot: "3f2a9c1b0d4e:12", hlc: "1700000000000.3", key: "AUS:W00:X:252310:1988", op: "delete", values: nil, context: [:])
        entry.position = 12
        var entries = ControlResponse(entries: [entry])
        entries.logPosition = 12
        #expect(try Self.keyNames(of: entries) == ["ok", "entries", "log_position"])
        #expect(try Self.keyNames(of: entry).contains("position"))
        #expect(try Self.roundTrip(entries) == entries)
        var status = Self.status
        status.contentDigest = String(repeating: "ef", count: 32)
        #expect(try Self.keyNames(of: status).contains("content_digest"))
        #expect(try Self.roundTrip(status) == status)
    }
}
