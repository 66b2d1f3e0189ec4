import ArgumentParser
import TradeSyncControl

/// `tradesync status`: who the node is, what it holds, and how its peers are doing.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the node's identity, counts, version vector, digests and peers.")

    @OptionGroup var options: GlobalOptions

    func run() throws(CLIFailure) {
        let response = try options.call(ControlRequest(command: .status))
        let status = try options.require(response.status, "status")
        try options.printer.emit(status) { Self.text(status) }
    }

    /// The text form: a label block, the version vector, then the peers table.
    static func text(_ status: StatusReport) -> String {
        let summary = labelled([
            ("node", status.nodeID),
            ("listen", status.listen),
            ("data dir", status.dataDir),
            ("records", "\(status.records)"),
            ("keys", "\(status.keys)"),
            ("conflicts", "\(status.conflicts)"),
            ("tombstones", "\(status.tombstones)"),
            ("entries", "\(status.entries)"),
            ("digest", status.digest),
            ("content digest", status.contentDigest ?? Format.absent),
            ("writes", status.writesRefused ?? "accepted"),
            (
                "refused",
                "\(status.refusedOrigin ?? 0) entries of origins a peer may not send, "
                    + "\(status.refusedReporter ?? 0) for reporters their origin may not author"
            ),
            ("forged", "\(status.forgedBatches ?? 0) batches refused (an entry its origin's signature does not vouch for)"),
            ("checkpoint", checkpointText(status)),
        ])
        var sections = [summary, vectorText(status.vector), forksText(status.forks ?? []), peersText(status.peers)]
        sections.removeAll { $0.isEmpty }
        return sections.joined(separator: "\n\n")
    }

    /// The entries the last checkpoint covers, what a restart would replay, and whether the
    /// next one is being written or due: `100000 entries (a restart replays 106466), next pending`.
    static func checkpointText(_ status: StatusReport) -> String {
        guard let covered = status.checkpointEntries else { return Format.absent }
        let replay = max(0, status.entries - covered)
        let pending = status.checkpointPending == true ? ", next pending" : ""
        return "\(covered) entries (a restart replays \(replay))\(pending)"
    }

    /// `version vector` then one `  SHORTID  SEQ` line per origin, by short ID.
    static func vectorText(_ vector: [String: UInt64]) -> String {
        guard !vector.isEmpty else { return "version vector  (empty)" }
        var table = TextTable([TextTable.Column("ORIGIN"), TextTable.Column("SEQ", .right)])
        for (origin, seq) in vector.map({ (Format.shortID($0.key), $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            table.append([origin, "\(seq)"])
        }
        return "version vector\n" + table.rendered
    }

    /// `FORKS`: one line per quarantined origin, or nothing when there is none.
    static func forksText(_ forks: [ForkStatus]) -> String {
        guard !forks.isEmpty else { return "" }
        var table = TextTable([
            TextTable.Column("ORIGIN (QUARANTINED)"), TextTable.Column("DOT"), TextTable.Column("HELD"),
            TextTable.Column("RECEIVED"), TextTable.Column("EVIDENCE"),
        ])
        for fork in forks {
            table.append([
                Format.shortID(fork.origin), fork.dot, "\(fork.heldKey) \(fork.heldHash.prefix(12))",
                "\(fork.receivedKey) \(fork.receivedHash.prefix(12))", fork.evidence,
            ])
        }
        return "FORKS: two different entries with one dot (two copies of a data directory wrote: a clone, or a restored backup)\n"
            + table.rendered
    }

    /// The peers table, with a `LAST ERROR` column when any peer has one.
    static func peersText(_ peers: [PeerStatus]) -> String {
        guard !peers.isEmpty else { return "peers  (none)" }
        let showErrors = peers.contains { $0.lastError != nil }
        var columns = [
            TextTable.Column("ADDRESS"), TextTable.Column("NODE"), TextTable.Column("CONNECTED"),
            TextTable.Column("BEHIND", .right), TextTable.Column("IN SYNC"),
            TextTable.Column("SENT", .right), TextTable.Column("RECEIVED", .right),
        ]
        if showErrors { columns.append(TextTable.Column("LAST ERROR")) }
        var table = TextTable(columns)
        for peer in peers {
            table.append([
                peer.address, peer.nodeID.map(Format.shortID) ?? Format.absent, peer.connected ? "yes" : "no",
                "\(peer.behind)", peer.inSync ? "yes" : "no", Format.bytes(peer.bytesSent),
                Format.bytes(peer.bytesReceived), peer.lastError ?? "",
            ])
        }
        return "peers\n" + table.rendered
    }
}
