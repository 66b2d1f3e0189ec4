import Crypto
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// The content digest: an AdHash (``SetDigest``) over the live records only, so the
/// daemon (over its state) and the CLI (over what it exported) compute it the same way, in
/// any order.
///
/// Element per record: the key's canonical encoding (``TradeKey/encode(into:)``) followed
/// by the values' canonical encoding (``TradeValues/encode(into:)``), the same bytes an
/// import blob carries. Both encodings are self-delimiting, so the concatenation is
/// unambiguous. Finalised with domain `TSCONTENT1` and the record count. Add each key once.
public struct ContentDigester {
    private var set = SetDigest()
    /// Records added so far.
    public private(set) var count = 0

    /// A digester with no record yet.
    public init() {}

    /// The element of one record: key | values, canonical encodings.
    public static func element(_ record: TradeRecord) -> [UInt8] {
        var writer = ByteWriter(capacity: 96)
        record.key.encode(into: &writer)
        record.values.encode(into: &writer)
        return writer.bytes
    }

    /// Adds the next record (any order).
    public mutating func add(_ record: TradeRecord) {
        set.insert(Self.element(record))
        count += 1
    }

    /// The digest of the records added (32 bytes).
    public func finalize() -> [UInt8] { set.finalize(domain: "TSCONTENT1", count: count) }
}

/// One page of live records for `tradesync export`.
public struct LivePage: Sendable, Equatable {
    /// Live records (the winner of keys whose winner is a put), in key order.
    public var records: [TradeRecord]
    /// How many of ``records`` are keys in conflict (their winner was taken).
    public var conflicts: Int
    /// The last key this page looked at, to pass as `after` for the next page; nil when
    /// the page reached the last key.
    public var next: TradeKey?
}

extension Replica {
    /// The content digest of the live content only: for each key whose winner is a put,
    /// the winning record (key, then values) as ``ContentDigester`` takes it. Tombstones,
    /// losing siblings, dots, HLCs and causal contexts are not part of it, so a fresh node
    /// that imports an export of this state gets the same content digest, while the state
    /// ``digest()`` (which covers dots and HLCs) differs. Kept current on every apply: O(1).
    public func contentDigest() -> [UInt8] { contentSet.finalize(domain: "TSCONTENT1", count: counts.records) }

    /// Up to `limit` live records (keys whose winner is a put, with the winner's values)
    /// after the key `after` (exclusive; from the first key when nil), in key order.
    ///
    /// Keys whose winner is a tombstone are skipped and not exported, even when in conflict.
    /// Looks at most `4 × limit` keys, so a page stays bounded over long runs of
    /// tombstones; it may then hold fewer than `limit` records while ``LivePage/next`` is
    /// set. The sorted key list is built at the first page (O(n log n)) and kept for the
    /// following pages until the last page is served or a new key appears.
    ///
    /// Complexity: O(log n + limit) per page once the key list is built.
    /// - Precondition: `limit > 0`.
    public mutating func livePage(after: TradeKey?, limit: Int) -> LivePage {
        precondition(limit > 0, "a page holds at least one record")
        let order = exportOrder ?? tables.codes.sorted(keys.keys)
        exportOrder = order
        var index = after.map { firstIndex(in: order, above: $0) } ?? 0
        let scannedMax = limit.multipliedReportingOverflow(by: 4).overflow ? Int.max : limit * 4
        var page = LivePage(records: [], conflicts: 0, next: nil)
        page.records.reserveCapacity(min(limit, order.count - index))
        var scanned = 0
        while index < order.count, page.records.count < limit, scanned < scannedMax {
            let packed = order[index]
            index += 1
            scanned += 1
            guard let slot = keys[packed], case let stored = states[Int(slot)], let values = stored.winnerOperation(tables)?.values
            else { continue }
            page.records.append(TradeRecord(key: tables.codes.key(packed), values: values))
            if stored.siblingCount > 1 { page.conflicts += 1 }
        }
        if index < order.count {
            page.next = tables.codes.key(order[index - 1])
        } else {
            exportOrder = nil
        }
        return page
    }

    /// The index of the first key in `order` (ascending) greater than `key`.
    private func firstIndex(in order: [PackedKey], above key: TradeKey) -> Int {
        var low = 0
        var high = order.count
        while low < high {  // bound: the range halves each pass
            let middle = (low + high) / 2
            if tables.codes.key(order[middle]) <= key { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
