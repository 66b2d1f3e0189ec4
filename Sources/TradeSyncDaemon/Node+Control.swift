import Logging
import TradeSyncClock
import TradeSyncControl
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncSession
import TradeSyncTransport

/// Control-socket commands: each turns a ``ControlRequest`` into a ``ControlResponse``.
extension Node {
    /// Serves one request from the CLI. Never throws: failures become a response with an
    /// error code (`not_found`, `invalid`, `refused`, `internal`) and a one-line reason.
    /// - Parameter records: an `import` request's records already decoded from `blob`.
    public func handle(_ request: ControlRequest, blob: [UInt8] = [], records: [TradeRecord]? = nil) async -> ControlResponse {
        do {
            switch request.command {
            case .status: return ControlResponse(status: status())
            case .peers: return ControlResponse(status: status(digests: false))
            case .get: return try get(request)
            case .query: return try query(request)
            case .put: return try await put(request)
            case .delete: return try await delete(request)
            case .conflicts:
                return ControlResponse(records: replica.conflicts(limit: request.limit ?? .max).map(Self.view))
            case .resolve: return try await resolve(request)
            case .log: return try logEntries(after: request.after, limit: request.limit ?? 20)
            case .export: return try exportPage(request).response
            case .importRecords: return try await importRecords(request, blob: blob, records: records)
            case .wait: return try await waitForEntries(request)
            }
        } catch let error as ControlFailure {
            return .failure(error.code, error.reason)
        } catch let error as NodeError {
            switch error {
            case .behindOnOwnOrigin, .ownOriginForked, .unauthorized: return .failure("refused", error.description)
            default: return .failure("internal", error.description)
            }
        } catch {
            return .failure("internal", "\(error)")
        }
    }

    /// The node's status. `digests: false` leaves `digest` empty and `content_digest` out:
    /// each costs a pass over the whole state after every write, and `peers` and
    /// `sync --wait` (which polls) need neither.
    func status(digests: Bool = true) -> StatusReport {
        var vector: [String: UInt64] = [:]
        for (origin, seq) in replica.vector.sorted { vector[origin.hex] = seq }
        var report = StatusReport(
            nodeID: identity.nodeID.hex, records: replica.counts.records, keys: replica.counts.keys,
            conflicts: replica.counts.conflicts, tombstones: replica.counts.tombstones, entries: log.entryCount,
            vector: vector, digest: digests ? Hex.encode(core.digest()) : "", peers: peerStatuses(),
            listen: config.listen.description, dataDir: config.dataDir, logInstance: Self.instanceText(log.instanceID))
        if digests { report.contentDigest = Hex.encode(core.contentDigest()) }
        report.writesRefused = writesRefusedReason()
        let store = ForkEvidenceStore(dataDirectory: config.dataDir)
        let forks = core.quarantineList.map { fork in
            ForkStatus(
                origin: fork.dot.origin.hex, dot: fork.dot.description, heldHash: Hex.encode(fork.held.hash),
                receivedHash: Hex.encode(fork.received.hash), heldKey: fork.held.key.description,
                receivedKey: fork.received.key.description, evidence: store.path(for: fork.dot))
        }
        report.forks = forks.isEmpty ? nil : forks
        report.quarantineSkipped = core.quarantineSkipped == 0 ? nil : core.quarantineSkipped
        report.refusedOrigin = core.refused.origin
        report.refusedReporter = core.refused.reporter
        report.forgedBatches = forgedBatches
        report.checkpointEntries = checkpoints.covered
        report.checkpointPending = checkpoints.inFlight != nil || checkpointDue
        return report
    }

    /// A log instance ID as text: 16 lowercase hex digits.
    static func instanceText(_ id: UInt64) -> String {
        let digits = String(id, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    /// Why local writes are refused now, or nil: the reason a write would get.
    func writesRefusedReason() -> String? {
        if let fork = core.quarantined[identity.nodeID] { return NodeError.ownOriginForked(dot: fork.dot).description }
        if let standing = core.authoringGuard {
            return NodeError.behindOnOwnOrigin(held: standing.heldSeq, claimed: standing.claimedSeq, peer: standing.peer)
                .description
        }
        return nil
    }

    /// One row per peer-book record (configured peers first, in config order), live
    /// sessions filled in from their links.
    func peerStatuses() -> [PeerStatus] {
        var rows: [PeerStatus] = []
        var shown: Set<NodeID> = []
        for record in peers.records {
            let node = record.nodeID.flatMap { NodeID(hex: $0) }
            let link = node.flatMap { node in links.values.first { $0.peer == node } }
            var row = PeerStatus(
                address: record.address, configured: record.configured, nodeID: record.nodeID,
                lastVersion: record.lastVersion, peerVersions: record.peerVersions, logInstance: record.logInstance,
                lastError: record.lastError, lastErrorAt: record.lastErrorAt, lastSessionAt: record.lastSessionAt,
                fork: record.fork)
            row.forged = record.forged
            row.refused = record.refused
            if let node, let fork = core.quarantined[node] {
                row.fork = [row.fork, "its origin is quarantined (fork at dot \(fork.dot))"].compactMap { $0 }
                    .joined(separator: "; ")
            }
            var totals = node.flatMap { endedTotals[$0] } ?? PeerTotals()
            if let link, let node {
                shown.insert(node)
                row.connected = true
                row.protocolVersion = Int(link.version)
                row.behind = replica.vector.entriesAhead(of: link.peerVector)
                row.inSync = row.behind == 0
                totals.add(link.counters)
            } else if let known = record.knownVector {
                let counters = known.compactMap { origin, seq in NodeID(hex: origin).map { ($0, seq) } }
                row.behind = replica.vector.entriesAhead(of: VersionVector(Dictionary(counters, uniquingKeysWith: max)))
            }
            row.apply(totals)
            rows.append(row)
        }
        for link in links.values.sorted(by: { $0.peer < $1.peer }) where !shown.contains(link.peer) {
            var row = PeerStatus(
                address: link.address, nodeID: link.peer.hex, connected: true, protocolVersion: Int(link.version))
            row.behind = replica.vector.entriesAhead(of: link.peerVector)
            row.inSync = row.behind == 0
            var totals = endedTotals[link.peer] ?? PeerTotals()
            totals.add(link.counters)
            row.apply(totals)
            rows.append(row)
        }
        return rows
    }

    func get(_ request: ControlRequest) throws -> ControlResponse {
        let key = try Self.key(request)
        guard let view = replica.read(key) else { throw ControlFailure("not_found", "no record for \(key)") }
        return ControlResponse(records: [Self.view(view)])
    }

    func query(_ request: ControlRequest) throws -> ControlResponse {
        let filter = try Self.keyFilter(request.filter ?? QueryFilter())
        return ControlResponse(records: replica.query(filter, limit: request.limit ?? .max).map(Self.view))
    }

    func put(_ request: ControlRequest) async throws -> ControlResponse {
        let key = try Self.key(request)
        guard let fields = request.fields, !fields.isEmpty else {
            throw ControlFailure("invalid", "put needs at least one field=value")
        }
        let view = replica.read(key)
        var values = view.flatMap { $0.winner.operation.values } ?? TradeValues()
        try Self.assign(fields, to: &values)
        if let view, !view.isConflict, view.winner.operation == .put(values), let dot = view.winner.dots.last {
            // Writing what the node already holds changes nothing: no new entry. What it
            // holds may still wait for its fsync: answer only once it is durable.
            try await waitDurable(log.entryCount)
            return ControlResponse(
                write: WriteResult(key: key.description, dot: dot.description, hlc: view.winner.hlc.description, unchanged: true))
        }
        return try written(key, await writeLocal([(key: key, operation: .put(values))]))
    }

    func delete(_ request: ControlRequest) async throws -> ControlResponse {
        let key = try Self.key(request)
        guard let view = replica.read(key), !view.isDeleted || view.isConflict else {
            throw ControlFailure("not_found", "no record for \(key)")
        }
        return try written(key, await writeLocal([(key: key, operation: .delete)]))
    }

    func resolve(_ request: ControlRequest) async throws -> ControlResponse {
        let key = try Self.key(request)
        guard let view = replica.read(key) else { throw ControlFailure("not_found", "no record for \(key)") }
        let operation: Operation
        switch (request.pick, request.fields ?? []) {
        case (let pick?, let fields) where fields.isEmpty:
            guard let sibling = view.siblings.first(where: { $0.dots.contains { Self.dot($0, matches: pick) } }) else {
                let dots = view.siblings.flatMap(\.dots).map(\.description).joined(separator: ", ")
                throw ControlFailure("not_found", "\(key) has no sibling with dot \(pick) (dots: \(dots))")
            }
            operation = sibling.operation
        case (nil, let fields) where !fields.isEmpty:
            var values = view.winner.operation.values ?? TradeValues()
            try Self.assign(fields, to: &values)
            operation = .put(values)
        default:
            throw ControlFailure("invalid", "resolve takes either --pick DOT or field=value…, not both or neither")
        }
        return try written(key, await writeLocal([(key: key, operation: operation)]))
    }

    /// The most recent `limit` entries (`after` nil), or up to `limit` entries after
    /// position `after` (`log --follow`), each with its position, and the position to ask
    /// after next.
    func logEntries(after: Int?, limit: Int) throws -> ControlResponse {
        let count = log.entryCount
        let entries: [Entry]
        let first: Int
        if let after {
            first = min(max(0, after), count)
            entries = try log.entries(from: first, limit: min(max(0, limit), Self.logEntriesPerAnswerMax))
        } else {
            entries = try log.recent(limit: max(0, limit))
            first = count - entries.count
        }
        var response = ControlResponse(entries: entries.enumerated().map { offset, entry in
            var context: [String: UInt64] = [:]
            for (origin, seq) in entry.context.sorted { context[origin.hex] = seq }
            var view = LogEntryView(
                dot: entry.dot.description, hlc: entry.hlc.description, key: entry.key.description,
                op: entry.operation.isDelete ? "delete" : "put", values: entry.operation.values, context: context)
            view.position = first + offset + 1
            return view
        })
        response.logPosition = after == nil ? count : first + entries.count
        return response
    }

    /// Writes the records that differ from what the node holds, all in one append and
    /// one fsync: one import request (the CLI sends a file in chunks of 50,000 records)
    /// lands whole or not at all. Once it landed, every record sent
    /// counts as an accepted import row, and the request's `rejectedRows` as rejected ones.
    func importRecords(_ request: ControlRequest, blob: [UInt8], records decoded: [TradeRecord]?) async throws
        -> ControlResponse
    {
        let records: [TradeRecord]
        if let decoded {
            records = decoded
        } else {
            do { records = try ControlFrame.decodeRecords(blob) } catch { throw ControlFailure("invalid", error.description) }
        }
        if let total = request.importTotal, total > records.count { core.reserve(keys: total) }
        let entries = try await importRecords(records, decoded: true)  // both ways, ControlFrame.decodeRecords
        metrics.countImportRows(accepted: records.count, rejected: max(0, request.rejectedRows ?? 0))
        let file = request.file ?? "import"
        logger.info("import \(file): \(records.count) records, \(entries.count) written")
        return ControlResponse(
            importResult: ImportResult(
                file: file, received: records.count, written: entries.count, unchanged: records.count - entries.count))
    }

    private func written(_ key: TradeKey, _ entries: [Entry]) -> ControlResponse {
        let entry = entries[entries.count - 1]
        return ControlResponse(write: WriteResult(key: key.description, dot: entry.dot.description, hlc: entry.hlc.description))
    }
}

/// A control failure with its response code.
struct ControlFailure: Error {
    let code: String
    let reason: String
    init(_ code: String, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
