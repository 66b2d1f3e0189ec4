import Dispatch
import Synchronization
import TradeSyncControl
import TradeSyncModel

/// Sends an import's records to the node in chunks, in file order, while the file is still
/// being parsed (`import --skip-invalid`): the node writes one chunk while the CLI parses
/// the next, instead of waiting for the whole parse.
///
/// At most ``chunksInFlight`` requests are out at once, each on its own connection: the
/// node decodes the next chunk while it writes one (a window, as a session keeps for
/// BATCHes). Their order on the node is not fixed, which is harmless because a file's
/// records have distinct keys (the importer collapses or rejects a repeated key), so its
/// chunks commute. ``send(_:rowsExpected:rejectedRows:)`` blocks the parse while the window
/// is full, so memory stays a few chunks whatever the file's size. Once a request has
/// failed no further chunk is sent; ``finish(progress:)`` reports the failure and what the
/// node acknowledged.
final class ImportSender: Sendable {
    /// Requests out at once, at most.
    static let chunksInFlight = 2

    /// What the node acknowledged, and the first failure.
    struct Outcome: Sendable {
        /// The sum of the node's answers to the requests that succeeded.
        var result: ImportResult
        /// Records in chunks the node acknowledged (written durably or already held).
        var acknowledged = 0
        /// Records handed to ``send(_:rowsExpected:rejectedRows:)`` so far.
        var queued = 0
        /// Requests queued so far.
        var requests = 0
        /// The first request that failed; nothing is sent after it.
        var failure: CLIFailure?
    }

    private let controlPath: String
    private let file: String
    private let queue = DispatchQueue(label: "tradesync.import.send", attributes: .concurrent)
    private let room = DispatchSemaphore(value: ImportSender.chunksInFlight)
    private let inFlight = DispatchGroup()
    private let state: Mutex<Outcome>

    /// - Parameters:
    ///   - controlPath: the node's control socket.
    ///   - file: the file name the requests carry (the node logs it).
    init(controlPath: String, file: String) {
        self.controlPath = controlPath
        self.file = file
        state = Mutex(Outcome(result: ImportResult(file: file, received: 0, written: 0, unchanged: 0)))
    }

    /// Sends one chunk, waiting while ``chunksInFlight`` requests are out. The first request
    /// carries `rowsExpected` (when positive) as `import_total`, so that the node makes room
    /// for the file's keys once; `rejectedRows` goes with the last request.
    func send(_ records: [TradeRecord], rowsExpected: Int = 0, rejectedRows: Int? = nil) {
        room.wait()
        let first = state.withLock { outcome in
            outcome.queued += records.count
            outcome.requests += 1
            return outcome.requests == 1
        }
        let request = ControlRequest(
            command: .importRecords, file: file, rejectedRows: rejectedRows,
            importTotal: first && rowsExpected > 0 ? rowsExpected : nil)
        inFlight.enter()
        queue.async { [self] in
            defer {
                room.signal()
                inFlight.leave()
            }
            guard state.withLock({ $0.failure == nil }) else { return }
            let answer = Self.call(controlPath, request, blob: ControlFrame.encodeRecords(records))
            state.withLock { outcome in
                switch answer {
                case .success(let part):
                    outcome.result.received += part.received
                    outcome.result.written += part.written
                    outcome.result.unchanged += part.unchanged
                    outcome.acknowledged += records.count
                case .failure(let failure):
                    outcome.failure = failure
                }
            }
        }
    }

    /// Records handed to ``send(_:rowsExpected:rejectedRows:)`` so far.
    var queued: Int { state.withLock { $0.queued } }

    /// Waits until every chunk was answered (or skipped after a failure), calling `progress`
    /// with the records acknowledged about ten times a second meanwhile.
    func finish(progress: (Int) -> Void) -> Outcome {
        while inFlight.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            progress(state.withLock { $0.acknowledged })
        }
        return state.withLock { $0 }
    }

    private static func call(_ path: String, _ request: ControlRequest, blob: [UInt8]) -> Result<ImportResult, CLIFailure> {
        Result { () throws(CLIFailure) -> ImportResult in
            let response = try GlobalOptions.call(path, request, blob: blob)
            guard let part = response.importResult else { throw CLIFailure.missing("import result", path: path) }
            return part
        }
    }
}
