import ArgumentParser
import TradeSyncControl

#if canImport(Glibc)
import Glibc
#endif

/// `tradesync sync [--wait] [--timeout SECONDS]`: are the peers in sync with this node?
///
/// The peers that count: every configured peer (it must be connected and hold everything
/// this node holds) and every other peer with a live session (it must hold everything).
/// A peer that dialled in once and is gone does not count. "In sync" is this node's side:
/// the peer acknowledged every entry this node holds (`behind` 0); whether this node
/// holds everything the peer holds is the peer's `sync`.
struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Show whether every peer holds everything this node holds; --wait blocks until they do.",
        discussion: """
            Counts every configured peer (must be connected, behind 0) and every other peer \
            with a live session. Exit 0 when all are in sync, 5 when not (with --wait: when \
            --timeout passed first, naming the peers not in sync). With --wait the node is \
            polled every 200 ms and a progress bar counts the entries delivered. --json prints \
            {"in_sync", "behind", "waited_seconds", "peers"} (peers as in `status --json`). \
            With no peer configured or connected there is nothing to wait for: exit 0.
            """)

    /// Time between two polls of `status` while waiting.
    static let pollInterval = Duration.milliseconds(200)
    /// Longest `--timeout`, in seconds (about 31 years: "forever" without overflowing a clock).
    static let timeoutSecondsMax = 1e9

    @OptionGroup var options: GlobalOptions
    @OptionGroup var progressOptions: ProgressOptions

    @Flag(help: "Wait until every peer is in sync (exit 5 if --timeout passes first).")
    var wait = false

    @Option(help: ArgumentHelp("With --wait: give up after this many seconds (default: wait forever).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout > 0 && timeout <= Self.timeoutSecondsMax) {
            throw ValidationError("--timeout must be a number of seconds above 0 and at most \(Int(Self.timeoutSecondsMax))")
        }
        if timeout != nil && !wait { throw ValidationError("--timeout needs --wait") }
    }

    func run() throws(CLIFailure) {
        let clock = ContinuousClock()
        let start = clock.now
        var peers = try Self.countedPeers(poll())
        if wait {
            let deadline = timeout.map { start.advanced(by: .milliseconds(Int64(($0 * 1000).rounded()))) }
            let initialBehind = Self.behind(peers)
            var bar = ProgressBar(
                label: "syncing", unit: "entries", total: initialBehind,
                enabled: progressOptions.enabled(json: options.json))
            while !Self.allInSync(peers) {  // bound: the deadline, else until the peers catch up
                if let deadline, clock.now >= deadline { break }
                let behind = Self.behind(peers)
                bar.update(done: max(0, bar.total - behind), total: max(bar.total, behind))
                Self.sleep(Self.pollInterval)
                peers = try Self.countedPeers(poll())
            }
            if Self.allInSync(peers) {
                bar.update(done: bar.total)
                bar.finish(always: initialBehind > 0)
            } else {
                bar.clear()
            }
        }
        let report = SyncReport(peers: peers, waitedSeconds: Format.seconds(start.duration(to: clock.now)))
        try options.printer.emit(report) { Self.text(peers) }
        guard report.inSync else {
            let reason = peers.filter { !Self.inSync($0) }.map(Self.describe).joined(separator: ", ")
            let waited = wait ? " after \(Format.fixed(report.waitedSeconds, digits: 1)) s" : ""
            throw CLIFailure(.notInSync, "not in sync\(waited): \(reason)")
        }
    }

    private func poll() throws(CLIFailure) -> [PeerStatus] {
        try options.require(options.call(ControlRequest(command: .peers)).status, "status").peers
    }

    /// The configured peers and the other peers with a live session.
    static func countedPeers(_ peers: [PeerStatus]) -> [PeerStatus] {
        peers.filter { $0.configured == true || $0.connected }
    }

    /// Connected and nothing behind.
    static func inSync(_ peer: PeerStatus) -> Bool { peer.connected && peer.inSync && peer.behind == 0 }

    static func allInSync(_ peers: [PeerStatus]) -> Bool { peers.allSatisfy(inSync) }

    /// Entries behind, summed over the peers.
    static func behind(_ peers: [PeerStatus]) -> Int {
        peers.reduce(0) { $0 + Int(clamping: $1.behind) }
    }

    /// `127.0.0.1:7402 (down)` or `127.0.0.1:7402 (1200 behind)`.
    static func describe(_ peer: PeerStatus) -> String {
        peer.connected ? "\(peer.address) (\(peer.behind) behind)" : "\(peer.address) (down)"
    }

    /// The table: peer, node, connected, behind, in sync.
    static func text(_ peers: [PeerStatus]) -> String {
        guard !peers.isEmpty else { return "no peers configured or connected: nothing to sync" }
        var table = TextTable([
            TextTable.Column("PEER"), TextTable.Column("NODE"), TextTable.Column("CONNECTED"),
            TextTable.Column("BEHIND", .right), TextTable.Column("IN SYNC"),
        ])
        for peer in peers {
            table.append([
                peer.address, peer.nodeID.map(Format.shortID) ?? Format.absent, peer.connected ? "yes" : "no",
                "\(peer.behind)", inSync(peer) ? "yes" : "no",
            ])
        }
        return table.rendered
    }

    /// Sleeps for `duration` (the CLI is single-threaded and blocking, like its socket calls).
    static func sleep(_ duration: Duration) {
        let parts = duration.components
        var request = timespec(tv_sec: Int(parts.seconds), tv_nsec: Int(parts.attoseconds / 1_000_000_000))
        var remaining = timespec()
        _ = nanosleep(&request, &remaining)  // an interrupting signal ends the nap early: the caller re-checks
    }
}

/// What `sync` prints with `--json`.
struct SyncReport: Encodable {
    /// True when every counted peer is connected and behind 0.
    let inSync: Bool
    /// Entries behind, summed over the counted peers.
    let behind: Int
    /// Seconds spent (polling, with --wait).
    let waitedSeconds: Double
    /// The counted peers, as `status --json` shows them.
    let peers: [PeerStatus]

    init(peers: [PeerStatus], waitedSeconds: Double) {
        inSync = SyncCommand.allInSync(peers)
        behind = SyncCommand.behind(peers)
        self.waitedSeconds = waitedSeconds
        self.peers = peers
    }

    enum CodingKeys: String, CodingKey {
        case peers, behind
        case inSync = "in_sync", waitedSeconds = "waited_seconds"
    }
}
