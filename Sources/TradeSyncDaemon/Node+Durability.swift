import Logging
import NIOCore
import NIOPosix
import TradeSyncClock
import TradeSyncLog
import TradeSyncReplica
import TradeSyncTransport

/// Appends waiting for an fsync, and whether one is in flight.
///
/// Group commit (as in PostgreSQL's WAL flush and TigerBeetle's journal): a write goes
/// to the page cache at once and its caller waits for a ticket (the entry count after
/// its batch). At most one fsync runs, on a dedicated thread; when it returns, every
/// waiter whose ticket it covers is released together, and if more writes arrived
/// meanwhile the next fsync starts at once and covers all of them. Under load one fsync
/// serves many writers; alone, a writer waits for exactly one fsync.
struct GroupCommitState {
    var waiters: [(ticket: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    var inFlight: Task<Void, Never>?
    /// fsyncs completed, and the waiters they released (the ratio is the grouping).
    var syncs = 0
    var released = 0
}

/// The checkpoint policy's state: what the last checkpoint covers, the one in flight, and
/// when entries last came in.
///
/// Policy: a checkpoint is due when the durable entries past the last one reach
/// `max(config.checkpointEntries, covered / 4)`, so checkpoints cost O(1) amortised per
/// entry and a crash leaves at most that many entries to replay; and at clean shutdown.
/// While entries keep coming in (a catch-up or an import: a batch or chunk in the last
/// second) a due checkpoint waits for a one-second pause, unless the fresh entries reach
/// `max(config.checkpointEntries, intakeGrowth × covered)`: each checkpoint copies the whole
/// state on the actor (copy-on-write) and encodes it on another core, so during a stream
/// their cost grows with the state, and with growth 1 a 1M-entry catch-up took four (100k,
/// 200k, 400k and 800k keys), 16 % of the receiver's CPU. With growth 3 it takes two (100k
/// and 400k keys). A crash during such a stream then replays at most three quarters of the
/// log instead of a fifth (measured: replaying 988k entries with no checkpoint takes 2.4 s).
struct CheckpointState {
    var covered: Int
    var inFlight: Task<Void, Never>?
    /// When entries last arrived from a peer or an import; nil before any.
    var lastIntake: MonotonicInstant?
    /// A check scheduled for when the intake may have paused.
    var retry: Task<Void, Never>?

    /// How long the intake must pause before a deferred checkpoint is taken.
    static let pause = Duration.seconds(1)
    /// While the intake goes on, a checkpoint is taken without a pause once the fresh
    /// entries reach this many times the covered ones.
    static let intakeGrowth = 3
}

extension Node {
    /// Returns once the first `ticket` entries of the log are durable.
    /// - Throws: ``NodeError/stopped(reason:)`` when an fsync failed or the node stopped
    ///   for another reason (the write may or may not be on disk; it was not acknowledged).
    func waitDurable(_ ticket: Int) async throws(NodeError) {
        if log.durableCount >= ticket {
            notifyLinks()
            return
        }
        if let fatalReason { throw .stopped(reason: fatalReason) }
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                commit.waiters.append((ticket, continuation))
                startSyncIfIdle()
            }
        } catch {
            throw .stopped(reason: fatalReason ?? "\(error)")
        }
    }

    /// Starts an fsync on the sync thread unless one is running or nothing is pending.
    ///
    /// The fsync is handed to the thread here, not when the task that awaits it first runs
    /// on this actor: it overlaps whatever the actor does next (a received batch's apply,
    /// see ``persist(_:link:)``).
    func startSyncIfIdle() {
        guard commit.inFlight == nil, fatalReason == nil, let request = log.syncRequest() else { return }
        // Timed on the sync thread: the fsync alone, not the hops to and from it.
        let fsync = syncPool.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) {
            let started = MonotonicClock.now()
            let code = request.perform()
            return (code, Int64(clamping: MonotonicClock.now().nanoseconds &- started.nanoseconds))
        }
        commit.inFlight = Task {
            let result: Int32
            do {
                let (code, nanoseconds) = try await fsync.get()
                result = code
                self.metrics.recordFsync(nanoseconds: nanoseconds)
            } catch { result = syncThreadGoneErrno }
            self.syncFinished(request, errno: result)
        }
    }

    /// Records an fsync's outcome, releases the waiters it covers, starts the next one.
    func syncFinished(_ request: LogSyncRequest, errno: Int32) {
        commit.inFlight = nil
        do {
            try log.completeSync(request, errno: errno)
        } catch {
            fail("\(error)")
            return
        }
        commit.syncs += 1
        let durable = log.durableCount
        var waiting: [(ticket: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var released = 0
        for waiter in commit.waiters {
            if waiter.ticket <= durable {
                waiter.continuation.resume()
                released += 1
            } else {
                waiting.append(waiter)
            }
        }
        commit.waiters = waiting
        commit.released += released
        if released > 0 { notifyLinks() }
        if !commit.waiters.isEmpty { startSyncIfIdle() }
        maybeCheckpoint()
    }

    /// Stops serving writes: fails every waiter, logs the reason once, and tells the
    /// daemon, which shuts down (exit 1) so that a restart recovers from what is on disk.
    func fail(_ reason: String) {
        guard fatalReason == nil else { return }
        fatalReason = reason
        metrics.noteHealth(.failed(reason: reason))
        logger.critical("node stopping: \(reason)")
        let waiters = commit.waiters
        commit.waiters = []
        for waiter in waiters { waiter.continuation.resume(throwing: NodeError.stopped(reason: reason)) }
        abandonEntryWaiters("the node has stopped: \(reason)")
        failureSink.yield(reason)
    }

    /// The reason the node failed, once it has; nil when the node shuts down normally.
    func nextFailure() async -> String? {
        for await reason in failures { return reason }
        return nil
    }

    // MARK: Checkpoints

    /// The policy (``CheckpointState``) wants a checkpoint: the durable entries past the last
    /// one reach `max(config.checkpointEntries, covered / 4)`. It is taken at once, or once the
    /// intake pauses (``CheckpointState/pause``).
    var checkpointDue: Bool {
        log.durableCount - checkpoints.covered >= max(config.checkpointEntries, checkpoints.covered / 4)
    }

    /// Starts a checkpoint off the actor when the policy (``CheckpointState``) says so.
    func maybeCheckpoint() {
        guard checkpoints.inFlight == nil, fatalReason == nil, checkpointDue else { return }
        let fresh = log.durableCount - checkpoints.covered
        if let last = checkpoints.lastIntake, MonotonicClock.now().duration(since: last) < CheckpointState.pause,
            fresh < max(config.checkpointEntries, CheckpointState.intakeGrowth * checkpoints.covered)
        {
            scheduleCheckpointRetry()
            return
        }
        let replica = core.replica  // a copy: the actor goes on writing
        let image = log.checkpointImage()
        let pool = checkpointPool
        checkpoints.inFlight = Task {
            do {
                let (bytes, seconds) = try await pool.runIfActive {
                    BackgroundPriority.lowerCurrentThread()  // the checkpoint pool's own thread: below replication
                    return try Self.writeCheckpoint(replica: replica, image: image)
                }
                self.checkpointFinished(image.entryCount, bytes: bytes, seconds: seconds)
            } catch {
                self.checkpointFailed(error)
            }
        }
    }

    /// Notes that entries came in (a peer's batch, an import chunk): checkpoints wait for
    /// a pause (``CheckpointState``).
    func noteIntake() { checkpoints.lastIntake = MonotonicClock.now() }

    /// Looks again once the intake may have paused (one check pending at a time).
    private func scheduleCheckpointRetry() {
        guard checkpoints.retry == nil else { return }
        checkpoints.retry = Task {
            try? await Task.sleep(for: CheckpointState.pause)
            self.checkpointRetryFired()
        }
    }

    private func checkpointRetryFired() {
        checkpoints.retry = nil
        if !Task.isCancelled { maybeCheckpoint() }
    }

    func checkpointFinished(_ covered: Int, bytes: Int, seconds: Double) {
        checkpoints.inFlight = nil
        checkpoints.covered = covered
        logger.info("checkpoint at \(covered) entries: \(bytes) bytes in \(milliseconds(seconds)) ms")
    }

    func checkpointFailed(_ error: any Error) {
        checkpoints.inFlight = nil
        logger.error("checkpoint not written: \(error); the next start replays more of the log")
    }

    /// Encodes the replica (digest sums included, so `status` is instant after a restart)
    /// and writes the checkpoint. Runs on any thread.
    /// - Returns: the checkpoint's bytes and the seconds it took.
    static func writeCheckpoint(replica: Replica, image: LogCheckpointImage) throws -> (Int, Double) {
        let started = MonotonicClock.now()
        let bytes = try image.write(state: replica.encodeSnapshot())
        return (bytes, Double(MonotonicClock.now().nanoseconds - started.nanoseconds) / 1e9)
    }

    /// Waits for the fsync and the checkpoint in flight (before closing the log).
    func finishBackgroundWork() async {
        checkpoints.retry?.cancel()
        checkpoints.retry = nil
        while let task = commit.inFlight ?? checkpoints.inFlight {  // bound: each wait ends one task
            await task.value
            if commit.inFlight == nil && checkpoints.inFlight == nil { break }
        }
    }
}

/// The errno reported when the sync thread was already shut down.
let syncThreadGoneErrno: Int32 = 5

/// Seconds since `start` with millisecond precision, e.g. `0.412`.
func seconds(since start: MonotonicInstant) -> String {
    let nanos = MonotonicClock.now().nanoseconds &- start.nanoseconds
    let millis = nanos / 1_000_000
    let fraction = String(millis % 1000)
    return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

/// Whole milliseconds in `seconds`.
func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }
