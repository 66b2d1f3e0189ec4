/// What a failed property is; each kind has its own exit code in `tradesync-sim`.
public enum FailureKind: String, Sendable, CaseIterable {
    /// After heal and quiet, nodes disagree (digests or vectors), or did not get there in time.
    case convergence
    /// An acknowledged write or an ACKed batch is missing or changed after a crash.
    case durability
    /// Two surviving versions of a key where one causally follows the other.
    case falseConflict
    /// A write that is gone without a later write having seen it.
    case silentLoss
    /// Siblings from one origin, or more siblings than concurrent writers.
    case siblings
    /// Traffic that does not stop, sessions that never reach "in sync", or catch-up in
    /// far more round trips than batches.
    case quiescence
    /// A broken invariant of the harness or the core: unknown dot, a refused persist, a
    /// peer vector above what the peer holds, a log that does not replay.
    case invariant

    /// The runner's exit code: 2 convergence, 3 durability, 4 false conflict, 5 silent loss,
    /// 6 siblings, 7 quiescence, 8 invariant.
    public var exitCode: Int32 {
        switch self {
        case .convergence: 2
        case .durability: 3
        case .falseConflict: 4
        case .silentLoss: 5
        case .siblings: 6
        case .quiescence: 7
        case .invariant: 8
        }
    }
}

/// A property that failed, where, and how to replay it.
public struct SimFailure: Error, Sendable, CustomStringConvertible {
    public let kind: FailureKind
    /// The event number (step) at which it was found, counted from the start of the run.
    public let step: Int
    /// Virtual time then, in ms.
    public let timeMs: UInt64
    public let message: String
    /// What replays it: seed, nodes, steps.
    public var seed: UInt64 = 0
    public var nodes = 0
    public var steps = 0

    public init(kind: FailureKind, step: Int, timeMs: UInt64, message: String) {
        self.kind = kind
        self.step = step
        self.timeMs = timeMs
        self.message = message
    }

    /// The command that replays this failure.
    public var replayCommand: String { Self.command(seed: seed, nodes: nodes, steps: steps) }

    /// `swift run tradesync-sim --seed N --nodes K --steps S`.
    public static func command(seed: UInt64, nodes: Int, steps: Int) -> String {
        "swift run tradesync-sim --seed \(seed) --nodes \(nodes) --steps \(steps)"
    }

    public var description: String {
        "\(kind.rawValue) failure at step \(step) (t=\(timeMs) ms), seed \(seed): \(message)\nreplay: \(replayCommand)"
    }
}

/// Counts of what a run did; printed as its summary.
public struct SimStats: Sendable, Equatable {
    public var steps = 0
    public var localWrites = 0
    public var puts = 0
    public var deletes = 0
    public var resolves = 0
    public var imports = 0
    public var importedEntries = 0
    public var crashes = 0
    public var crashedAppends = 0
    public var tornBytesCut = 0
    public var restarts = 0
    public var joins = 0
    public var partitions = 0
    public var heals = 0
    public var resets = 0
    public var flaps = 0
    public var dials = 0
    public var sessions = 0
    /// Sessions that ended, by reason: a detected protocol fault (violation, bad frame,
    /// peer ERROR), a timeout, or the connection closing.
    public var closedByFault = 0
    public var closedByTimeout = 0
    public var closedByDisconnect = 0
    public var framesSent = 0
    public var framesDropped = 0
    public var framesDuplicated = 0
    public var framesReordered = 0
    public var batchesSent = 0
    public var entriesSent = 0
    public var bytesSent = 0
    /// The most siblings any key showed on any node.
    public var siblingsMax = 0
    /// Conflicts (keys with more than one sibling) on node 0 at the end.
    public var conflictsAtEnd = 0
    /// Forks found (evidence stored) on any node; only the clone scenario may have any.
    public var forksFound = 0
    /// Received entries skipped because their origin is quarantined.
    public var quarantineSkipped = 0
    /// Local writes refused by a guard (amnesia or own-origin fork) on a node a scenario
    /// restored from a backup or cloned.
    public var writesRefused = 0

    public init() {}

    /// The summary, a few lines.
    public var summary: String {
        """
        writes \(localWrites) (put \(puts), delete \(deletes), resolve \(resolves), import \(imports) with \(importedEntries) entries); \
        siblings max \(siblingsMax), conflicts at end \(conflictsAtEnd)
        faults: crashes \(crashes) (in append \(crashedAppends), torn bytes cut \(tornBytesCut)), restarts \(restarts), joins \(joins), \
        partitions \(partitions), heals \(heals), resets \(resets), flaps \(flaps); frames dropped \(framesDropped), \
        duplicated \(framesDuplicated), reordered \(framesReordered)
        sessions \(sessions) from \(dials) dials; closed by detected fault \(closedByFault), timeout \(closedByTimeout), \
        disconnect \(closedByDisconnect); frames \(framesSent), batches \(batchesSent), entries sent \(entriesSent), \
        bytes \(bytesSent); forks \(forksFound), quarantine skips \(quarantineSkipped), writes refused \(writesRefused)
        """
    }
}

/// A run that held every property.
public struct SimResult: Sendable {
    public let seed: UInt64
    public let nodes: Int
    /// Steps of the faulty phase (as asked), and of the whole run (heal, converge, quiet).
    public let steps: Int
    public let totalSteps: Int
    /// Virtual time at the end, in ms.
    public let timeMs: UInt64
    /// Hash of every event handled (kind, time, node, bytes): equal for equal seeds.
    public let traceHash: UInt64
    /// Each node's state digest at the end (all equal).
    public let digests: [[UInt8]]
    public let stats: SimStats
    /// Entries per BATCH during the final catch-up (heal to convergence); 0 when nothing was sent.
    public let catchUpEntriesPerBatch: Double
}
