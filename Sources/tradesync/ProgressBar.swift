import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `--progress` / `--no-progress`, for the commands that draw a ``ProgressBar``.
struct ProgressOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: "Draw a progress bar on stderr (default: only when stderr is a terminal and without --json).")
    var progress: Bool?

    /// True when a bar should be drawn: as asked, else when stderr is a terminal and the
    /// output is not JSON.
    func enabled(json: Bool) -> Bool {
        progress ?? (!json && isatty(2) == 1)
    }
}

/// A one-line progress bar on stderr: done/total, percent, rate and ETA, redrawn in place
/// with `\r` at most every ``redrawInterval``, and a final line at the end.
///
///     importing  [##########--------------]  120000/290000  41.4%  52100 records/s  ETA 0:03
///
/// Only stderr is written, so stdout (a table, JSON, an export) stays clean. A disabled
/// bar does nothing. Not thread-safe: one command drives it from one thread.
struct ProgressBar {
    /// Shortest time between two redraws (about 10 per second).
    static let redrawInterval = Duration.milliseconds(100)
    /// Width of the `[###---]` part, in characters.
    static let barWidth = 24

    let label: String
    /// What is counted, plural (`records`, `entries`, `bytes`).
    let unit: String
    let enabled: Bool
    private(set) var total: Int
    private(set) var done = 0
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var lastDrawn: ContinuousClock.Instant?
    private var drewSomething = false

    init(label: String, unit: String, total: Int, enabled: Bool) {
        self.label = label
        self.unit = unit
        self.total = max(0, total)
        self.enabled = enabled
        started = ContinuousClock.now
    }

    /// Records progress; redraws unless the last redraw was under ``redrawInterval`` ago.
    /// - Parameter total: a new total, when it changed (it never goes below `done`).
    mutating func update(done: Int, total: Int? = nil) {
        self.done = max(0, done)
        if let total { self.total = max(0, total) }
        self.total = max(self.total, self.done)
        guard enabled else { return }
        let now = clock.now
        if let lastDrawn, lastDrawn.duration(to: now) < Self.redrawInterval { return }
        lastDrawn = now
        draw(line(now: now), final: false)
    }

    /// Draws the final state and ends the line (nothing when disabled or never drawn and
    /// `always` is false).
    mutating func finish(always: Bool = true) {
        guard enabled, always || drewSomething else { return }
        draw(line(now: clock.now), final: true)
    }

    /// Erases the bar's line without a final line (before an error message).
    mutating func clear() {
        guard enabled, drewSomething else { return }
        Self.write("\r\u{1B}[K")
        drewSomething = false
    }

    /// The bar's text at `now`.
    func line(now: ContinuousClock.Instant) -> String {
        let seconds = Format.seconds(started.duration(to: now))
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let filled = min(Self.barWidth, Int(fraction * Double(Self.barWidth)))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: Self.barWidth - filled)
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var text = "\(label)  [\(bar)]  \(done)/\(total)  \(Format.fixed(fraction * 100, digits: 1))%"
        text += "  \(Format.fixed(rate, digits: 0)) \(unit)/s"
        if done >= total {
            text += "  in \(Self.clockText(seconds))"
        } else if rate > 0 {
            text += "  ETA \(Self.clockText(Double(total - done) / rate))"
        } else {
            text += "  ETA -"
        }
        return text
    }

    /// `m:ss`, or `h:mm:ss` from an hour on.
    static func clockText(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 360_000 else { return "-" }
        let whole = Int(seconds.rounded())
        let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
        let twoDigits: (Int) -> String = { $0 < 10 ? "0\($0)" : "\($0)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" : "\(minutes):\(twoDigits(secs))"
    }

    private mutating func draw(_ text: String, final: Bool) {
        Self.write("\r" + text + "\u{1B}[K" + (final ? "\n" : ""))
        drewSomething = !final
    }

    private static func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {  // bound: each pass writes at least one byte or stops
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
