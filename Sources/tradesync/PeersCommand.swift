import ArgumentParser
import TradeSyncControl

/// `tradesync peers`: every peer the node knows, live or remembered across restarts.
struct PeersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peers",
        abstract: "Show each peer: connection, protocol versions, lag, and why its last session ended.",
        discussion: """
            One row per configured peer and per peer that dialled in. VERSION is the protocol \
            version of the current session, or of the last one (kept across restarts); OFFERS is \
            the range [min,max] the peer's last HELLO offered, so a peer refused for want of a \
            common version shows what it speaks. REASON is why its last session ended or its last \
            dial failed. --json prints the rows as a JSON array (keys as in `status --json`).
            """)

    @OptionGroup var options: GlobalOptions

    func run() throws(CLIFailure) {
        let response = try options.call(ControlRequest(command: .peers))
        let status = try options.require(response.status, "status")
        try options.printer.emit(status.peers) { Self.text(status.peers) }
    }

    /// The table: one line per peer, FORK and REASON columns only when some row has one.
    static func text(_ peers: [PeerStatus]) -> String {
        guard !peers.isEmpty else { return "no peers configured or seen" }
        let showForks = peers.contains { $0.fork != nil }
        var columns = [
            TextTable.Column("ADDRESS"), TextTable.Column("NODE"), TextTable.Column("STATE"),
            TextTable.Column("VERSION"), TextTable.Column("OFFERS"), TextTable.Column("BEHIND", .right),
            TextTable.Column("LAST SESSION"), TextTable.Column("REASON"),
        ]
        if showForks { columns.append(TextTable.Column("FORK")) }
        var table = TextTable(columns)
        for peer in peers {
            let state = peer.connected ? (peer.inSync ? "in sync" : "syncing") : "down"
            let version = peer.protocolVersion ?? peer.lastVersion
            var row = [
                peer.address, peer.nodeID.map(Format.shortID) ?? Format.absent, state,
                version.map { "v\($0)" } ?? Format.absent, peer.peerVersions ?? Format.absent, "\(peer.behind)",
                peer.lastSessionAt ?? Format.absent, peer.connected ? "" : (peer.lastError ?? ""),
            ]
            if showForks { row.append(peer.fork ?? "") }
            table.append(row)
        }
        return table.rendered
    }
}
