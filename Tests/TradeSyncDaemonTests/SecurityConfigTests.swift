import Crypto
import Testing
import TradeSyncClock
import TradeSyncDaemon
import TradeSyncTransport

#if canImport(Glibc)
import Glibc
#endif

private func writeConfig(_ text: String) -> String {
    let path = "/tmp/tradesync-security-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).toml"
    let file = fopen(path, "w")
    fputs(text, file)
    fclose(file)
    return path
}

/// A node ID made from a fresh key, in full text form.
private func freshID() -> (id: NodeID, text: String) {
    let id = TLSIdentity.nodeID(of: Curve25519.Signing.PrivateKey().publicKey)
    return (id, NodeIDText.full(id))
}

/// Issue 6 §2: the `insecure`, `insecure_force` and `[[peer]]` keys, the `--peer ID@HOST:PORT`
/// flag, and the rules checked once file and flags are merged.
@Suite struct SecurityConfigTests {
    @Test("Config: [[peer]] tables pin node IDs, with optional address and origins")
    func peerTables() throws {
        let (b, bText) = freshID()
        let (c, cText) = freshID()
        let path = writeConfig(
            """
            [[peer]]
            id = "\(bText)"
            address = "10.1.2.3:7400"
            origins = ["\(bText)", "\(cText.lowercased())"]

            [[peer]]
            id = "\(c.hex)"
            """)
        defer { unlink(path) }
        let config = try NodeConfig.load(path: path)
        #expect(config.insecure == false && config.insecureForce == false)
        #expect(
            config.pinnedPeers == [
                NodeConfig.PinnedPeer(id: b, address: PeerAddress(host: "10.1.2.3", port: 7400), origins: [b, c]),
                NodeConfig.PinnedPeer(id: c, address: nil, origins: nil),
            ])
        #expect(config.dialTargets.map(\.address.description) == ["10.1.2.3:7400"])
        #expect(config.dialTargets.map(\.expected) == [b])
        #expect(config.pinning.pinnedID(for: PeerAddress(host: "10.1.2.3", port: 7400)) == b)
        try config.validateSecurity(source: path)
    }

    @Test("Config: TLS is the default; no peers is a valid config")
    func defaults() throws {
        let config = NodeConfig()
        #expect(!config.insecure && config.pinnedPeers.isEmpty && config.dialTargets.isEmpty)
        try config.validateSecurity(source: "command line")
    }

    @Test("Config: a short node ID cannot pin a peer: the message asks for the full ID")
    func shortIDRefused() {
        let (id, _) = freshID()
        let path = writeConfig("[[peer]]\nid = \"\(NodeIDText.short(id))\"\n")
        defer { unlink(path) }
        #expect {
            try NodeConfig.load(path: path)
        } throws: { error in
            "\(error)"
                == "\(path): peer[1].id '\(NodeIDText.short(id))' is a short node ID (80 bits), too short to pin a peer: use the full ID (53 characters; `tradesyncd --print-id` or `tradesync id` shows it)"
        }
    }

    @Test("Config: a mistyped node ID names the file, the key and NodeIDText's reason")
    func badCheckSymbol() throws {
        let (id, text) = freshID()
        // Change the check symbol (last character) to one that cannot be right.
        let check = try #require(text.last)
        let wrong = check == "0" ? "1" : "0"
        let typo = String(text.dropLast()) + wrong
        let reason = try #require(throws: NodeIDText.ParseError.self) { try NodeIDText.parse(typo) }
        let path = writeConfig("[[peer]]\nid = \"\(typo)\"\naddress = \"127.0.0.1:7401\"\n")
        defer { unlink(path) }
        #expect {
            try NodeConfig.load(path: path)
        } throws: { error in
            "\(error)" == "\(path): peer[1].id '\(typo)': \(reason.description)"
        }
        #expect(reason.description.contains("check symbol '\(wrong)' does not match, expected '\(check)'"))
        #expect(try NodeIDText.parse(text) == id)
    }

    @Test(
        "Config: bad [[peer]] tables are named",
        arguments: [
            ("[[peer]]\naddress = \"127.0.0.1:1\"\norigins = []\n", "peer[1] has no id: add id = \"FULL-NODE-ID\""),
            ("[[peer]]\ncolour = \"blue\"\n", "unknown key 'peer[1].colour' (id, address, origins)"),
            ("peer = 3\n", "peer must be an array of tables"),
            ("insecure = \"yes\"\n", "insecure must be true or false"),
        ])
    func badTables(text: String, expected: String) {
        let path = writeConfig(text)
        defer { unlink(path) }
        #expect {
            try NodeConfig.load(path: path)
        } throws: { error in
            "\(error)".hasPrefix(path + ": ") && "\(error)".contains(expected)
        }
    }

    @Test("Config: unpinned peers (peers = [...], [[peer]] without id, --peer HOST:PORT) need insecure")
    func unpinnedNeedsInsecure() throws {
        let path = writeConfig("peers = [\"127.0.0.1:7401\"]\n[[peer]]\naddress = \"127.0.0.1:7402\"\n")
        defer { unlink(path) }
        var config = try NodeConfig.load(path: path)
        #expect(config.peers == [PeerAddress(host: "127.0.0.1", port: 7401), PeerAddress(host: "127.0.0.1", port: 7402)])
        #expect {
            try config.validateSecurity(source: path)
        } throws: { error in
            "\(error)"
                == "\(path): peer '127.0.0.1:7401' has no pinned node ID: add [[peer]] id = … or set insecure = true"
        }
        config.insecure = true
        try config.validateSecurity(source: path)

        var flags = NodeConfig()
        try flags.applyPeerFlags(["127.0.0.1:7500"])
        #expect {
            try flags.validateSecurity(source: "command line")
        } throws: { error in
            "\(error)"
                == "command line: --peer '127.0.0.1:7500' has no pinned node ID: give it as --peer ID@127.0.0.1:7500 (tradesyncd --print-id shows a node's ID), or add --insecure (--insecure-force alone does not turn TLS off)"
        }
    }

    @Test("Config: --peer ID@HOST:PORT pins; given --peer flags replace the file's peers")
    func peerFlags() throws {
        let (b, bText) = freshID()
        var config = NodeConfig()
        config.peers = [PeerAddress(host: "127.0.0.1", port: 1)]
        try config.applyPeerFlags(["\(bText)@127.0.0.1:7401"])
        #expect(config.peers.isEmpty)
        #expect(config.pinnedPeers == [NodeConfig.PinnedPeer(id: b, address: PeerAddress(host: "127.0.0.1", port: 7401))])
        try config.validateSecurity(source: "command line")
        #expect {
            try config.applyPeerFlags(["\(NodeIDText.short(b))@127.0.0.1:7401"])
        } throws: { error in
            "\(error)".hasPrefix("--peer: '\(NodeIDText.short(b))' is a short node ID (80 bits)")
        }
        #expect {
            try config.applyPeerFlags(["\(bText)@nowhere"])
        } throws: { error in
            "\(error)" == "--peer: 'nowhere' is not HOST:PORT"
        }
    }

    @Test("Config: insecure on a non-loopback listen or peer address is refused unless forced")
    func insecureNonLoopback() throws {
        let path = writeConfig("insecure = true\nlisten = \"0.0.0.0:7400\"\n")
        defer { unlink(path) }
        var config = try NodeConfig.load(path: path)
        #expect(config.insecure)
        #expect {
            try config.validateSecurity(source: path)
        } throws: { error in
            "\(error)"
                == "\(path): insecure (plain TCP, no authentication) on the non-loopback listen address 0.0.0.0:7400 is refused: use TLS with pinned peers, or set insecure_force = true (--insecure-force)"
        }
        config.listen = PeerAddress(host: "127.0.0.1", port: 7400)
        config.peers = [PeerAddress(host: "127.0.0.2", port: 7401), PeerAddress(host: "10.0.0.9", port: 7401)]
        #expect {
            try config.validateSecurity(source: path)
        } throws: { error in
            "\(error)".contains("non-loopback peer address 10.0.0.9:7401 is refused")
        }
        config.insecureForce = true
        try config.validateSecurity(source: path)
        let forced = writeConfig("insecure = true\ninsecure_force = true\nlisten = \"0.0.0.0:7400\"\n")
        defer { unlink(forced) }
        try NodeConfig.load(path: forced).validateSecurity(source: forced)
    }

    @Test(
        "PeerAddress: loopback is 127.0.0.0/8 and ::1 only",
        arguments: [
            ("127.0.0.1:1", true), ("127.9.8.7:1", true), ("localhost:1", true), ("[::1]:1", true),
            ("0.0.0.0:1", false), ("10.0.0.1:1", false), ("[::]:1", false), ("127.example:1", false),
            ("office.example:1", false),
        ])
    func loopback(text: String, loopback: Bool) throws {
        #expect(try #require(PeerAddress(text)).isLoopback == loopback)
    }
}
