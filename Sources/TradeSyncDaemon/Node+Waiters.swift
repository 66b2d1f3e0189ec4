import TradeSyncLog
import TradeSyncControl

/// Control requests parked until the node holds a number of entries durably
/// (`tradesync wait --entries N`): a script, a test or the benchmark learns the moment a
/// write reached this node without polling it, and without the node answering a status
/// request every few hundred microseconds while it applies batches.
///
/// A waiter is released where durability advances (``Node/notifyLinks()``, after an fsync
/// or a write found already durable), by its timeout, or with an error when the node stops
/// or fails. At most ``parkedMax`` wait at once.
struct EntryWaiters {
    /// Most requests parked at once; one more is refused (code `refused`).
    static let parkedMax = 1024

    /// How one wait ended.
    enum Outcome: Sendable {
        case reached
        case timedOut
        case stopped(String)
    }

    struct Parked {
        let entries: Int
        let continuation: CheckedContinuation<Outcome, Never>
        let timer: Task<Void, Never>
    }

    var nextID = 0
    var parked: [Int: Parked] = [:]
}

extension Node {
    /// `wait`: answers as `peers` does once the log holds `request.entries` entries
    /// durably (at once if it already does).
    /// - Throws: ``ControlFailure`` `invalid` when `entries` is missing or negative or
    ///   `timeout_ms` is out of range; `timeout` when `timeout_ms` passed first (the reason
    ///   gives the count held); `refused` when ``EntryWaiters/parkedMax`` requests already
    ///   wait, or the node stops or has failed.
    func waitForEntries(_ request: ControlRequest) async throws(ControlFailure) -> ControlResponse {
        guard let want = request.entries, want >= 0 else {
            throw ControlFailure("invalid", "wait needs entries, a count of 0 or more")
        }
        let timeoutMs = request.timeoutMs ?? ControlRequest.waitTimeoutMsMax
        guard (0...ControlRequest.waitTimeoutMsMax).contains(timeoutMs) else {
            throw ControlFailure("invalid", "timeout_ms must be 0 to \(ControlRequest.waitTimeoutMsMax)")
        }
        if let fatalReason { throw ControlFailure("refused", "the node has stopped: \(fatalReason)") }
        if log.durableCount < want {
            if stopping { throw ControlFailure("refused", "the node is stopping") }
            guard entryWaiters.parked.count < EntryWaiters.parkedMax else {
                throw ControlFailure("refused", "\(EntryWaiters.parkedMax) wait requests are already parked")
            }
            switch await park(want, timeoutMs: timeoutMs) {
            case .reached: break
            case .timedOut:
                throw ControlFailure(
                    "timeout", "the node holds \(log.durableCount) of \(want) entries durably after \(timeoutMs) ms")
            case .stopped(let reason): throw ControlFailure("refused", reason)
            }
        }
        return ControlResponse(status: status(digests: false))
    }

    private func park(_ want: Int, timeoutMs: Int) async -> EntryWaiters.Outcome {
        let id = entryWaiters.nextID
        entryWaiters.nextID += 1
        return await withCheckedContinuation { continuation in
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(timeoutMs))
                if !Task.isCancelled { self.releaseWaiter(id, .timedOut) }
            }
            entryWaiters.parked[id] = EntryWaiters.Parked(entries: want, continuation: continuation, timer: timer)
        }
    }

    private func releaseWaiter(_ id: Int, _ outcome: EntryWaiters.Outcome) {
        guard let waiter = entryWaiters.parked.removeValue(forKey: id) else { return }
        waiter.timer.cancel()
        waiter.continuation.resume(returning: outcome)
    }

    /// Releases the waiters the durable entry count now covers. Called where durability
    /// advances; O(1) when nobody waits.
    func releaseEntryWaiters() {
        guard !entryWaiters.parked.isEmpty else { return }
        let durable = log.durableCount
        for (id, waiter) in entryWaiters.parked where waiter.entries <= durable { releaseWaiter(id, .reached) }
    }

    /// Releases every waiter with `reason` (the node stops or failed).
    func abandonEntryWaiters(_ reason: String) {
        for id in Array(entryWaiters.parked.keys) { releaseWaiter(id, .stopped(reason)) }
    }
}
