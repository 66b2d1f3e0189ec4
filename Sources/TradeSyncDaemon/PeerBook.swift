import Foundation
import TradeSyncClock
import TradeSyncLog

/// What the node remembers about one peer across restarts.
///
/// Configured peers are keyed by their configured address; peers that only dialled in are
/// keyed by node ID (their remote port changes with every connection). Timestamps are UTC,
/// ISO 8601 to the second.
struct PeerRecord: Codable, Equatable, Sendable {
    /// The configured `HOST:PORT`, or the remote address of the last inbound connection.
    var address: String
    /// True for a peer in the config's peer list (dialled by this node).
    var configured: Bool
    /// The peer's node ID (hex), from its last HELLO.
    var nodeID: String?
    /// The protocol version negotiated in the last session that got through its handshake.
    var lastVersion: Int?
    /// The version range the peer offered in its last HELLO, `[min,max]`.
    var peerVersions: String?
    /// The peer's log instance ID (hex) from its last HELLO.
    var logInstance: String?
    /// Why the last session ended or the last dial failed; nil once a session is up.
    var lastError: String?
    /// When `lastError` was last seen.
    var lastErrorAt: String?
    /// When the last session got through its handshake.
    var lastSessionAt: String?
    /// What the peer held (origin hex → seq) when its last session ended; progress
    /// saved against one log instance of the peer, dropped when that instance changes.
    var knownVector: [String: UInt64]?
    /// Set once the peer forwarded an entry that forks an origin: one line naming the dot.
    var fork: String?
    /// Set once the peer sent an entry its origin's signature does not vouch for (forged
    /// or altered): when, and the origin, dots and reason.
    var forged: String?
    /// Entries from this peer refused by authorization (origin or reporter not allowed).
    var refused: Int?

    enum CodingKeys: String, CodingKey {
        case address, configured
        case nodeID = "node_id", lastVersion = "last_version", peerVersions = "peer_versions"
        case logInstance = "log_instance", lastError = "last_error", lastErrorAt = "last_error_at"
        case lastSessionAt = "last_session_at", knownVector = "known_vector", fork, forged, refused
    }
}

/// The node's peer book, `DATA_DIR/peers.json`: one ``PeerRecord`` per peer, replaced
/// atomically (``AtomicFile``) whenever a record changes in a way worth keeping (a
/// handshake, a new error, a session's end), never per frame.
///
/// A missing file is an empty book. An unreadable one is set aside as
/// `peers.json.bad-<seconds>` with a warning: it holds nothing that a session with each
/// peer does not tell again, so it must not stop the node.
struct PeerBook: Sendable {
    static let fileName = "peers.json"

    let path: String
    private(set) var records: [PeerRecord]

    /// Loads the book from `dataDir` and makes sure every configured address has a record
    /// (in config order, first). Returns a warning when the file was unreadable.
    static func load(dataDir: String, configured: [String]) -> (book: PeerBook, warning: String?) {
        let path = dataDir + "/" + fileName
        var records: [PeerRecord] = []
        var warning: String?
        do {
            if let bytes = try AtomicFile.read(path) {
                records = try JSONDecoder().decode([PeerRecord].self, from: Data(bytes))
            }
        } catch {
            let aside = path + ".bad-\(Int(Date().timeIntervalSince1970))"
            _ = rename(path, aside)
            warning = "\(path) is unreadable (\(error)); set aside as \(aside), starting with an empty peer book"
            records = []
        }
        var book = PeerBook(path: path, records: records)
        book.configure(configured)
        return (book, warning)
    }

    /// Marks exactly these addresses as configured (in config order, first), as at load
    /// and on a config reload. Peers dropped from the config, and peers that dialled in,
    /// stay as unconfigured records of their node ID (they may dial in); addresses never
    /// reached are dropped.
    mutating func configure(_ configured: [String]) {
        var ordered: [PeerRecord] = []
        for address in configured {
            var record = records.first { $0.configured && $0.address == address }
                ?? PeerRecord(address: address, configured: true)
            record.configured = true
            ordered.append(record)
        }
        // Peers dropped from the config, and peers that dialled in, stay as unconfigured
        // records of their node ID (they may dial in); addresses never reached are dropped.
        for var record in records where !(record.configured && configured.contains(record.address)) {
            record.configured = false
            guard let node = record.nodeID, !ordered.contains(where: { $0.nodeID == node }) else { continue }
            ordered.append(record)
        }
        records = ordered
    }

    /// Most unconfigured records kept (peers that dialled in): beyond this the oldest
    /// is forgotten, so connections that send a HELLO with ever new node IDs cannot grow
    /// the file without bound.
    static let unconfiguredRecordsMax = 64

    /// The key of the configured peer at `address`, if configured.
    func key(configuredAddress address: String) -> String? {
        records.contains { $0.configured && $0.address == address } ? "address " + address : nil
    }

    /// The key of the record for `node`: a configured peer known to be that node, else
    /// an unconfigured record of it.
    func key(node: NodeID) -> String? {
        let hex = node.hex
        if let record = records.first(where: { $0.configured && $0.nodeID == hex }) { return "address " + record.address }
        return records.contains { !$0.configured && $0.nodeID == hex } ? "node " + hex : nil
    }

    /// The record key for a connection whose HELLO named `node`: outbound ones by
    /// configured address, inbound ones by node ID (a new unconfigured record when unknown;
    /// the oldest unconfigured one is forgotten beyond ``unconfiguredRecordsMax``).
    mutating func key(outbound: Bool, address: String, node: NodeID) -> String {
        if outbound, let key = key(configuredAddress: address) { return key }
        if let key = key(node: node) { return key }
        records.append(PeerRecord(address: address, configured: false, nodeID: node.hex))
        if records.filter({ !$0.configured }).count > Self.unconfiguredRecordsMax,
            let oldest = records.firstIndex(where: { !$0.configured })
        {
            records.remove(at: oldest)
        }
        return "node " + node.hex
    }

    private func index(_ key: String) -> Int? {
        if key.hasPrefix("address ") {
            let address = key.dropFirst("address ".count)
            return records.firstIndex { $0.configured && $0.address == address }
        }
        // A node first seen inbound may since have been found at a configured address.
        let hex = key.dropFirst("node ".count)
        return records.firstIndex { $0.configured && $0.nodeID.map { $0 == hex } == true }
            ?? records.firstIndex { !$0.configured && $0.nodeID.map { $0 == hex } == true }
    }

    /// Forgets the unconfigured record of `node` once a configured address is known to be
    /// that node (it dialled in before this node dialled it), keeping its fork note.
    mutating func mergeUnconfigured(into key: String, node: String) {
        guard let target = index(key), records[target].configured,
            let duplicate = records.firstIndex(where: { !$0.configured && $0.nodeID == node })
        else { return }
        if records[target].fork == nil { records[target].fork = records[duplicate].fork }
        records.remove(at: duplicate)
    }

    /// The record under `key`, or nil when it was forgotten meanwhile.
    subscript(key: String) -> PeerRecord? {
        get { index(key).map { records[$0] } }
        set {
            guard let index = index(key), let newValue else { return }
            records[index] = newValue
        }
    }

    /// Writes the book. - Throws: ``LogError`` naming the file.
    func save() throws(LogError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(records) } catch {
            throw .io(file: path, operation: "encode", errno: EINVAL)
        }
        try AtomicFile.write(path, contents: Array(data))
    }
}

/// Now, UTC, ISO 8601 to the second (`2026-11-30T05:41:07Z`).
func utcTimestamp() -> String {
    var seconds = time(nil)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
