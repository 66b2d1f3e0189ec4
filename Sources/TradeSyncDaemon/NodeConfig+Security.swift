import TOMLKit
import TradeSyncClock
import TradeSyncTransport

/// Transport security settings (issue 6 §2): TLS 1.3 with pinned peers by default, plain
/// TCP only with `insecure`, and only on loopback addresses unless `insecure_force`.
///
/// ```toml
/// insecure = false          # plain TCP, no authentication: only with this set
/// insecure_force = false    # allow insecure on non-loopback listen/peer addresses
/// [[peer]]
/// id = "FULL-NODE-ID"       # required unless insecure; `tradesyncd --print-id` shows it
/// address = "10.1.2.3:7400" # optional; omit for a peer that only dials in
/// origins = ["FULL-NODE-ID"]  # optional: origins this peer may send (default: any)
/// ```
extension NodeConfig {
    /// One `[[peer]]` table: a peer pinned by its full node ID.
    public struct PinnedPeer: Sendable, Equatable {
        /// The node ID its TLS certificate must prove.
        public var id: NodeID
        /// Where to dial it; nil for a peer that only dials in.
        public var address: PeerAddress?
        /// Origins whose entries this peer may send; nil means any. Parsed here, applied
        /// by the node's receive path.
        public var origins: Set<NodeID>?

        /// A pin for `id`, dialled at `address` when given, sending only `origins` when given.
        public init(id: NodeID, address: PeerAddress? = nil, origins: Set<NodeID>? = nil) {
            self.id = id
            self.address = address
            self.origins = origins
        }
    }

    /// Every address the node dials, in config order: pinned peers with an address first
    /// (with the ID TLS must prove there), then the unpinned `peers` (insecure only).
    public var dialTargets: [(address: PeerAddress, expected: NodeID?)] {
        pinnedPeers.compactMap { peer in peer.address.map { ($0, peer.id) } } + peers.map { ($0, nil) }
    }

    /// The pins TLS checks peers against.
    public var pinning: PeerPinning {
        PeerPinning(pins: pinnedPeers.map { PeerPinning.Pin(id: $0.id, address: $0.address) })
    }

    /// Reads one of the keys `insecure`, `insecure_force`, `peer` from a TOML file.
    /// - Throws: ``ConfigError`` naming the file, the key and the reason.
    mutating func loadSecurityKey(_ key: String, _ value: any TOMLValueConvertible, _ path: String)
        throws(ConfigError)
    {
        switch key {
        case "insecure": insecure = try Self.boolean(value, key, path)
        case "insecure_force": insecureForce = try Self.boolean(value, key, path)
        default:
            guard let array = value.array else {
                throw ConfigError(source: path, reason: "peer must be an array of tables ([[peer]] with id, address, origins)")
            }
            for (index, item) in array.enumerated() {
                guard let table = item.table else {
                    throw ConfigError(source: path, reason: "peer[\(index + 1)] must be a table ([[peer]])")
                }
                try loadPeerTable(table, name: "peer[\(index + 1)]", path)
            }
        }
    }

    private mutating func loadPeerTable(_ table: TOMLTable, name: String, _ path: String) throws(ConfigError) {
        var id: NodeID?
        var address: PeerAddress?
        var origins: Set<NodeID>?
        for (key, value) in table {
            switch key {
            case "id": id = try Self.pinnedID(Self.string(value, "\(name).id", path), "\(name).id", path)
            case "address":
                address = try Self.address(Self.string(value, "\(name).address", path), "\(name).address", path)
            case "origins":
                guard let array = value.array else {
                    throw ConfigError(source: path, reason: "\(name).origins must be an array of full node IDs")
                }
                var set = Set<NodeID>()
                for item in array {
                    set.insert(try Self.pinnedID(Self.string(item, "\(name).origins", path), "\(name).origins", path))
                }
                origins = set
            default:
                throw ConfigError(source: path, reason: "unknown key '\(name).\(key)' (id, address, origins)")
            }
        }
        guard let id else {
            guard let address, origins == nil else {
                throw ConfigError(
                    source: path,
                    reason: "\(name) has no id: add id = \"FULL-NODE-ID\" (tradesyncd --print-id shows it)")
            }
            peers.append(address)  // unpinned: allowed only when insecure (validateSecurity)
            return
        }
        pinnedPeers.append(PinnedPeer(id: id, address: address, origins: origins))
    }

    static func boolean(_ value: any TOMLValueConvertible, _ key: String, _ source: String)
        throws(ConfigError) -> Bool
    {
        guard let flag = value.bool else { throw ConfigError(source: source, reason: "\(key) must be true or false") }
        return flag
    }

    /// Parses a node ID that pins a peer: the full text form (or 64 hex digits).
    /// - Throws: ``ConfigError`` for the short form (80 bits: too few to pin), or with
    ///   ``NodeIDText/parse(_:)``'s reason (a wrong check symbol, a bad character).
    public static func pinnedID(_ text: String, _ key: String, _ source: String) throws(ConfigError) -> NodeID {
        let subject = key.isEmpty ? "'\(text)'" : "\(key) '\(text)'"
        let symbols = text.utf8.filter { $0 != UInt8(ascii: "-") }.count
        if symbols == 17 {
            throw ConfigError(
                source: source,
                reason:
                    "\(subject) is a short node ID (80 bits), too short to pin a peer: use the full ID (53 characters; `tradesyncd --print-id` or `tradesync id` shows it)")
        }
        do { return try NodeIDText.parse(text) } catch {
            throw ConfigError(source: source, reason: "\(subject): \(error.description)")
        }
    }

    /// Applies the `--peer` flags: `ID@HOST:PORT` pins a peer, `HOST:PORT` is an unpinned
    /// peer (insecure only). Given flags replace the config file's peers.
    /// - Throws: ``ConfigError`` naming `--peer` and the bad value.
    public mutating func applyPeerFlags(_ flags: [String]) throws(ConfigError) {
        guard !flags.isEmpty else { return }
        peers = []
        pinnedPeers = []
        for flag in flags {
            if let at = flag.firstIndex(of: "@") {
                let id = try Self.pinnedID(String(flag[..<at]), "", "--peer")
                let address = try Self.address(String(flag[flag.index(after: at)...]), "", "--peer")
                pinnedPeers.append(PinnedPeer(id: id, address: address))
            } else {
                peers.append(try Self.address(flag, "", "--peer"))
            }
        }
    }

    /// Checks the security rules once the file and the flags are merged.
    /// - Without `insecure`: every dialled peer is pinned by a node ID.
    /// - With `insecure`: the listen and peer addresses are loopback, unless `insecure_force`.
    /// - Throws: ``ConfigError`` from `source` (the config file or `command line`) naming
    ///   the address.
    public func validateSecurity(source: String) throws(ConfigError) {
        if !insecure {
            if let unpinned = peers.first {
                throw ConfigError(
                    source: source,
                    reason: source == "command line"
                        ? "--peer '\(unpinned)' has no pinned node ID: give it as --peer ID@\(unpinned) (tradesyncd --print-id shows a node's ID), or add --insecure (--insecure-force alone does not turn TLS off)"
                        : "peer '\(unpinned)' has no pinned node ID: add [[peer]] id = … or set insecure = true")
            }
            return
        }
        guard !insecureForce else { return }
        let addresses = [("listen", listen)] + dialTargets.map { ("peer", $0.address) }
        if let (role, address) = addresses.first(where: { !$0.1.isLoopback }) {
            throw ConfigError(
                source: source,
                reason:
                    "insecure (plain TCP, no authentication) on the non-loopback \(role) address \(address) is refused: use TLS with pinned peers, or set insecure_force = true (--insecure-force)")
        }
    }
}

extension PeerAddress {
    /// True for 127.0.0.0/8 and ::1 (`localhost` is read as 127.0.0.1). Host names are
    /// not resolved, so they count as non-loopback.
    public var isLoopback: Bool {
        if host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in UInt8(part).map { _ in true } ?? false }
    }
}
