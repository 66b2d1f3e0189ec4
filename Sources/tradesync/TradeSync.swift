import ArgumentParser
import TradeSyncClock

#if canImport(Glibc)
    import Glibc
#endif

/// `tradesync`: the command-line client of a running `tradesyncd`.
///
/// Each subcommand sends one request over the node's control socket (a Unix socket,
/// `--control`) and prints the answer as text or, with `--json`, as JSON. `import` parses
/// the trade file here and sends the good records in chunks; `export`, `sync --wait` and
/// `log --follow` send one request after another.
///
/// Failures print one line `tradesync: <reason>` on stderr and exit with an ``ExitCode``.
@main
struct TradeSync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradesync",
        abstract: "Inspect and change the trade records of a running tradesyncd node.",
        discussion: """
            The node is reached over its control socket: --control PATH, else $TRADESYNC_CONTROL, \
            else ./tradesync-data/control.sock. Keys are REPORTER:PARTNER:FLOW:COMMODITY:PERIOD\
            [:CUSTOMS:TRANSPORT], e.g. CHN:DEU:X:850760:2022.

            Every command prints text by default and JSON with --json; errors are one line on \
            stderr.

            Exit codes: 0 success; 1 the node refused or the thing was not found; 2 invalid \
            input (key, field, period, dot, file rows, unreadable file, unwritable --output); \
            3 cannot reach the node; 4 verify found damage; 5 sync: a peer is down or behind \
            (--wait: when --timeout passed); 64 usage error.
            """,
        version: "tradesync \(Release.version)",
        subcommands: [
            StatusCommand.self, ImportCommand.self, ExportCommand.self, GetCommand.self, QueryCommand.self,
            PutCommand.self, DeleteCommand.self, ConflictsCommand.self, ResolveCommand.self, LogCommand.self,
            SyncCommand.self, WaitCommand.self, VerifyCommand.self, PeersCommand.self, IdCommand.self,
            CompletionsCommand.self,
        ])

    /// Parses, runs, and turns a ``CLIFailure`` into its line on stderr and its exit code.
    /// Parse errors, `--help` and `--version` keep swift-argument-parser's handling (64, 0).
    static func main() {
        // A node that dies mid-request closes the socket: report it (exit 3), don't die of SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let failure as CLIFailure {
            Printer.fail(failure)
            exit(withError: failure.code.argumentParserCode)
        } catch {
            exit(withError: error)
        }
    }
}

extension ExitCode {
    /// The same code as swift-argument-parser's type, for `exit(withError:)`.
    var argumentParserCode: ArgumentParser.ExitCode { ArgumentParser.ExitCode(rawValue) }
}
