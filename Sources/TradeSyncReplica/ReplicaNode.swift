import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// Why a node refused a write or a batch.
public enum NodeError: Error, Sendable, CustomStringConvertible {
    /// The log refused or failed; nothing was applied.
    case log(LogError)
    /// A received batch skips ahead of what the node holds for an origin.
    case batchGap(dot: Dot, expectedSeq: UInt64)
    /// The log on disk does not replay into a replica (a gap between entries).
    case replay(ReplicaError)

    public var description: String {
        switch self {
        case .log(let error): "log: \(error)"
        case .batchGap(let dot, let expected): "batch skips ahead: entry \(dot), expected seq \(expected)"
        case .replay(let error): "log does not replay: \(error)"
        }
    }
}

/// A node's pure core: its ``Replica`` over a ``LogStore``. The daemon wraps it in an
/// actor; the deterministic simulator drives it directly. No clock (time is passed in),
/// no sockets.
///
/// The rule it keeps: every entry, local or received, is appended durably to the store
/// *before* it is applied to the replica, and nothing is reported (to a CLI caller or,
/// through the returned vector, to a peer) that is not durable.
public struct ReplicaNode<Store: LogStore> {
    public private(set) var replica: Replica
    public let store: Store

    /// Replays `store` into a fresh replica for `localID`.
    /// - Throws: ``NodeError/replay(_:)`` when the stored entries do not apply in order,
    ///   or whatever the store's replay throws.
    public init(localID: NodeID, store: Store) throws {
        var replica = Replica(localID: localID)
        do {
            try store.replay { entry in try replica.apply(entry) }
        } catch let error as ReplicaError {
            throw NodeError.replay(error)
        }
        self.replica = replica
        self.store = store
    }

    /// Authors local writes, appends them durably, applies them. Returns the entries.
    /// - Parameter nowMs: wall-clock Unix milliseconds for the HLC.
    /// - Throws: ``NodeError/log(_:)``; then nothing was applied and the seqs are reused.
    public mutating func writeLocal(_ writes: [(key: TradeKey, operation: Operation)], nowMs: UInt64)
        throws(NodeError) -> [Entry]
    {
        guard !writes.isEmpty else { return [] }
        let entries = replica.prepare(writes, nowMs: nowMs)
        do { try store.append(entries) } catch { throw .log(error) }
        applyDurable(entries)
        return entries
    }

    /// Writes the records whose values the node does not already hold, in one append:
    /// an import lands whole or not at all, and a re-import writes nothing.
    /// - Returns: the entries written; `records.count - written.count` were unchanged.
    /// - Throws: ``NodeError/log(_:)``.
    public mutating func importRecords(_ records: [TradeRecord], nowMs: UInt64) throws(NodeError) -> [Entry] {
        var writes: [(key: TradeKey, operation: Operation)] = []
        for record in records where !replica.holds(record.key, operation: .put(record.values)) {
            writes.append((key: record.key, operation: .put(record.values)))
        }
        return try writeLocal(writes, nowMs: nowMs)
    }

    /// Appends a batch received from a peer durably and applies it. Entries already held
    /// are skipped. Returns the node's vector afterwards (what an ACK carries).
    /// - Throws: ``NodeError/batchGap(dot:expectedSeq:)`` when an entry skips ahead
    ///   (nothing is written); ``NodeError/log(_:)``.
    public mutating func persist(_ entries: [Entry]) throws(NodeError) -> VersionVector {
        var next: [NodeID: UInt64] = [:]
        var fresh: [Entry] = []
        for entry in entries {
            let expected = (next[entry.dot.origin] ?? replica.vector[entry.dot.origin]) + 1
            if entry.dot.seq < expected { continue }
            guard entry.dot.seq == expected else { throw .batchGap(dot: entry.dot, expectedSeq: expected) }
            next[entry.dot.origin] = entry.dot.seq
            fresh.append(entry)
        }
        if !fresh.isEmpty {
            do { try store.append(fresh) } catch { throw .log(error) }
            applyDurable(fresh)
        }
        return replica.vector
    }

    /// Entries held that `after` lacks: per origin ascending from `after[origin] + 1`, at
    /// most `entriesMax` entries and about `bytesMax` bytes of encodings (the session
    /// trims to its exact limits). Empty when `after` covers everything held.
    /// - Throws: ``NodeError/log(_:)`` when the store cannot be read.
    public func fetch(after: VersionVector, entriesMax: Int, bytesMax: Int) throws(NodeError) -> [Entry] {
        var result: [Entry] = []
        var bytes = 0
        for (origin, held) in replica.vector.sorted where held > after[origin] {
            let wanted = min(Int(held - after[origin]), entriesMax - result.count)
            guard wanted > 0, bytes < bytesMax else { break }
            let entries: [Entry]
            do { entries = try store.entries(origin: origin, after: after[origin], limit: wanted) } catch {
                throw .log(error)
            }
            for entry in entries {
                result.append(entry)
                bytes += entry.encodedByteCount
                if bytes >= bytesMax { break }
            }
        }
        return result
    }

    /// The replica's state digest (cached until the next write); see ``Replica/digest()``.
    public mutating func digest() -> [UInt8] { replica.digest() }

    /// Applies entries the store has just made durable.
    private mutating func applyDurable(_ entries: [Entry]) {
        for entry in entries {
            do { try replica.apply(entry) } catch {
                preconditionFailure("durable entry \(entry.dot) does not apply: \(error)")
            }
        }
    }
}

extension Entry {
    /// The length of the canonical encoding, in bytes (computed by encoding).
    public var encodedByteCount: Int { encoded().count }
}
