/// How `tradesync` exits. The README repeats this table.
///
/// | code | meaning |
/// |-----:|---------|
/// | 0 | success |
/// | 1 | the node refused the request or the thing was not found (the node answered `not_found`, `refused` or `internal`) |
/// | 2 | invalid input: a bad key, field, period or dot; rejected rows in an imported file; an unreadable, unknown or malformed file; the node answered `invalid` |
/// | 3 | cannot reach the node: no socket or nobody listening, permission denied, or a broken or malformed answer |
/// | 4 | `verify` found damage in the data directory (a bad checksum, an impossible length, a torn tail, a gap) |
/// | 5 | `sync`: a peer is down or behind (`sync --wait`: still so when `--timeout` passed); `wait`: `--timeout` passed first |
/// | 64 | usage error: unknown flag, missing or extra argument, bad `--limit` (swift-argument-parser's default) |
///
/// Every failure with code 1, 2, 3, 4 or 5 prints one line `tradesync: <reason>` on stderr
/// (an import refused for bad rows prints those rows first). Usage errors print
/// swift-argument-parser's message and usage.
///
/// This type shadows `ArgumentParser.ExitCode` inside the executable; the root command
/// converts with ``argumentParserCode``.
enum ExitCode: Int32, Sendable {
    case success = 0
    case refused = 1
    case invalidInput = 2
    case unreachable = 3
    case dataFault = 4
    case notInSync = 5
    case usage = 64
}
