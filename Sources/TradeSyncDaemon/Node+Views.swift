import TradeSyncClock
import TradeSyncControl
import TradeSyncLog
import TradeSyncModel
import TradeSyncReplica
import TradeSyncSession

/// Conversions between control-socket text and the core's types.
extension Node {
    static func view(_ view: KeyView) -> RecordView {
        RecordView(
            key: view.key.description, deleted: view.isDeleted, conflict: view.isConflict,
            values: view.winner.operation.values,
            siblings: view.siblings.enumerated().map { index, sibling in
                SiblingView(
                    dots: sibling.dots.map(\.description), hlc: sibling.hlc.description,
                    deleted: sibling.operation.isDelete, values: sibling.operation.values, winner: index == 0)
            })
    }

    static func key(_ request: ControlRequest) throws -> TradeKey {
        guard let text = request.key else { throw ControlFailure("invalid", "\(request.command.rawValue) needs a KEY") }
        do { return try TradeKey(parsing: text) } catch { throw ControlFailure("invalid", "bad key: \(error)") }
    }

    static func assign(_ fields: [FieldAssignment], to values: inout TradeValues) throws {
        for assignment in fields {
            do { try values.set(field: assignment.field, text: assignment.value) } catch {
                throw ControlFailure("invalid", error.description)
            }
        }
    }

    /// True when `text` (`SHORTID:SEQ`, or a longer hex prefix of the origin) names `dot`.
    static func dot(_ dot: Dot, matches text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), let seq = UInt64(text[text.index(after: colon)...]) else {
            return false
        }
        let origin = text[..<colon].lowercased()
        return seq == dot.seq && origin.count >= 4 && dot.origin.hex.hasPrefix(origin)
    }

    static func keyFilter(_ query: QueryFilter) throws -> KeyFilter {
        do throws(FieldError) {
            var filter = KeyFilter(includeDeleted: query.includeDeleted ?? false)
            if let reporter = query.reporter { filter.reporter = try AreaCode(reporter, field: "reporter") }
            if let partner = query.partner { filter.partner = try AreaCode(partner, field: "partner") }
            if let flow = query.flow { filter.flow = try Flow(code: flow) }
            filter.commodityPrefix = query.commodity
            if let period = query.period { filter.period = try PeriodRange(parsing: period) }
            return filter
        } catch {
            throw ControlFailure("invalid", error.description)
        }
    }
}

/// Byte, frame and entry counts for one peer, summed over its sessions.
struct PeerTotals {
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0
    var entriesSent: UInt64 = 0
    var entriesReceived: UInt64 = 0
    var framesIn: UInt64 = 0
    var framesOut: UInt64 = 0
    /// BATCH payload bytes sent: before and after compression.
    var uncompressedBytesSent: UInt64 = 0
    var payloadBytesSent: UInt64 = 0

    mutating func add(_ counters: SessionCounters) {
        bytesIn += counters.bytesIn
        bytesOut += counters.bytesOut
        framesIn += counters.framesIn
        framesOut += counters.framesOut
        uncompressedBytesSent += counters.uncompressedBytesSent
        payloadBytesSent += counters.payloadBytesSent
        entriesSent += counters.entriesSent
        entriesReceived += counters.entriesReceived
    }
}

extension PeerStatus {
    mutating func apply(_ totals: PeerTotals) {
        bytesSent = totals.bytesOut
        bytesReceived = totals.bytesIn
        entriesSent = totals.entriesSent
        entriesReceived = totals.entriesReceived
    }
}
