import TradeSyncControl
import TradeSyncModel
import TradeSyncReplica

/// `export` pages and the answers that carry a blob.
extension Node {
    /// Records in an `export` page when the request names no `limit` (about 1 MB of blob).
    static let exportPageRecordsDefault = 20_000
    /// Most records in one `export` page, whatever the request asks (about 5 MB of blob,
    /// far below ``ControlFrame/blobBytesMax``).
    static let exportPageRecordsMax = 100_000
    /// Most entries in one `log` answer that follows a position (`log --follow`): a
    /// follower far behind catches up over several answers instead of one huge frame.
    static let logEntriesPerAnswerMax = 10_000

    /// Serves one request from the CLI with the blob of its answer: the records of an
    /// `export` page, empty for every other command (see ``handle(_:blob:records:)``). Never
    /// throws: failures become a response with an error code and an empty blob.
    public nonisolated func respond(to request: ControlRequest, blob: [UInt8]) async -> (
        response: ControlResponse, blob: [UInt8]
    ) {
        switch request.command {
        case .importRecords:
            // An import chunk (up to 50,000 records, ~2.5 MB) is decoded here, off the
            // node's actor, which meanwhile writes the chunk before.
            do {
                let records = try ControlFrame.decodeRecords(blob)
                return (await handle(request, records: records), [])
            } catch {
                return (.failure("invalid", error.description), [])
            }
        case .export: return await exportAnswer(request)
        default: return (await handle(request, blob: blob), [])
        }
    }

    private func exportAnswer(_ request: ControlRequest) -> (response: ControlResponse, blob: [UInt8]) {
        do {
            return try exportPage(request)
        } catch let error as ControlFailure {
            return (.failure(error.code, error.reason), [])
        } catch {
            return (.failure("internal", "\(error)"), [])
        }
    }

    /// One page of live records after `request.cursor` (a key; nil from the first),
    /// at most `request.limit` (default ``exportPageRecordsDefault``, capped at
    /// ``exportPageRecordsMax``): the page's counts as JSON, the records as an import blob.
    /// - Throws: ``ControlFailure`` (`invalid`) for a bad cursor or limit.
    func exportPage(_ request: ControlRequest) throws -> (response: ControlResponse, blob: [UInt8]) {
        var after: TradeKey?
        if let cursor = request.cursor {
            do { after = try TradeKey(parsing: cursor) } catch {
                throw ControlFailure("invalid", "export cursor: \(error)")
            }
        }
        let limit = request.limit ?? Self.exportPageRecordsDefault
        guard limit > 0 else { throw ControlFailure("invalid", "export limit must be at least 1, not \(limit)") }
        let page = core.livePage(after: after, limit: min(limit, Self.exportPageRecordsMax))
        let summary = ExportPage(records: page.records.count, conflicts: page.conflicts, next: page.next?.description)
        var response = ControlResponse()
        response.export = summary
        return (response, ControlFrame.encodeRecords(page.records))
    }
}
