import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// The columnar BATCH payload of protocol v3 (flag bit 2): the entries of a batch stored
/// column by column instead of entry by entry, so that deflate sees like next to like.
///
/// Layout (every count and index a varint; `n` = the batch's entryCount, `p` = its puts):
/// ```
/// origins    originCount | originCount × nodeID      -- dot and context origins, first use order
/// runs       runCount | runCount × (originIndex | firstSeq | length)      -- Σ length = n
/// hlc        n × zigzag(hlc − previous hlc)          -- 64-bit wrapping; previous of the first = 0
/// contexts   n × (count | count × (originIndex | seq))   -- origins ascending by node ID
/// kinds      n × u8                                  -- presence bits 0–2, bit 3 qty = weight, bit 4 delete
/// tables     reporter, partner, commodity, customs, transport, unit: count | count × string
/// keys       n × reporter index, n × partner index, n × flow u8, n × commodity index,
///            n × (year − 1900) varint, n × month u8, n × customs index, n × transport index
/// values     valueUSD: mantissas (zigzag), then scales (u8), of the puts that have one;
///            net weight, then quantity, the same; p × unit index; p × flags u8
/// ```
/// Each run is one origin's entries with seqs firstSeq, firstSeq + 1, …; runs follow the
/// entries' order, so the batch's entry order (which signature indices refer to) is kept.
/// Tables list each distinct string once, most used first (ties: first used first).
/// The receiver rebuilds each ``Entry`` from its fields; its canonical encoding is then
/// the origin's, which the chain hash and signature check confirm.
/// Source: `Protocol/PROTOCOL.md`, "Columnar payload (v3)".
public enum ColumnarPayload {
    /// Bit 4 of a kind byte: the entry is a delete (then no other bit is set).
    static let kindDelete: UInt8 = 0x10
    /// Bit 3 of a kind byte: the quantity equals the net weight and is not stored (bit 1
    /// set, bit 2 clear).
    static let kindQuantityIsWeight: UInt8 = 0x08
    /// Bits 0–2: presence of valueUSD, net weight, quantity, as in the entry encoding.
    static let kindPresenceMask: UInt8 = 0x07
    /// The lowest year a key can hold; years travel as `year − yearBase`.
    static let yearBase: UInt16 = 1900
    /// Each flow's position in `Flow.allCases`: the flow column's byte.
    static let flowIndex: [Flow: Int] = Dictionary(uniqueKeysWithValues: Flow.allCases.enumerated().map { ($1, $0) })

    /// The encoded payload as segments (origins + runs, then one per column and table),
    /// whose concatenation is the uncompressed payload. A sender deflates it with a block
    /// boundary between segments, so each column gets its own Huffman codes.
    /// - Precondition: `entries` is non-empty, each origin's seqs ascending and contiguous.
    public static func segments(_ entries: [Entry]) -> [[UInt8]] {
        precondition(!entries.isEmpty, "columnar payload of no entries")
        var segments: [[UInt8]] = []
        var origins = StringlessTable<NodeID>()
        for entry in entries {
            origins.note(entry.dot.origin)
            for component in entry.context.sorted { origins.note(component.origin) }
        }
        segments.append(originsAndRuns(entries, origins: origins))
        segments.append(hlcColumn(entries))
        segments.append(contextColumn(entries, origins: origins))
        segments.append(column(entries.map(kind), byte: true))
        segments += keySegments(entries.map(\.key))
        segments += valueSegments(entries.compactMap(\.operation.values))
        return segments
    }

    /// The uncompressed payload: the concatenation of ``segments(_:)``.
    public static func encode(_ entries: [Entry]) -> [UInt8] { Array(segments(entries).joined()) }

    static func kind(_ entry: Entry) -> UInt64 {
        guard let values = entry.operation.values else { return UInt64(kindDelete) }
        var kind: UInt8 = 0
        if values.valueUSD != nil { kind |= 1 }
        if values.netWeightKg != nil { kind |= 2 }
        if let quantity = values.quantity {
            kind |= quantity == values.netWeightKg ? kindQuantityIsWeight : 4
        }
        return UInt64(kind)
    }

    private static func originsAndRuns(_ entries: [Entry], origins: StringlessTable<NodeID>) -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + origins.order.count * 32)
        writer.writeVarint(UInt64(origins.order.count))
        for origin in origins.order { origin.encode(into: &writer) }
        var runs: [(index: Int, first: UInt64, length: Int)] = []
        for entry in entries {
            let index = origins.position(entry.dot.origin)
            if let last = runs.last, last.index == index, last.first &+ UInt64(last.length) == entry.dot.seq {
                runs[runs.count - 1].length += 1
            } else {
                runs.append((index, entry.dot.seq, 1))
            }
        }
        writer.writeVarint(UInt64(runs.count))
        for run in runs {
            writer.writeVarint(UInt64(run.index))
            writer.writeVarint(run.first)
            writer.writeVarint(UInt64(run.length))
        }
        return writer.bytes
    }

    private static func hlcColumn(_ entries: [Entry]) -> [UInt8] {
        var writer = ByteWriter(capacity: entries.count * 2)
        var previous: UInt64 = 0
        for entry in entries {
            writer.writeZigZag(Int64(bitPattern: entry.hlc.rawValue &- previous))
            previous = entry.hlc.rawValue
        }
        return writer.bytes
    }

    private static func contextColumn(_ entries: [Entry], origins: StringlessTable<NodeID>) -> [UInt8] {
        var writer = ByteWriter(capacity: entries.count)
        for entry in entries {
            let components = entry.context.sorted
            writer.writeVarint(UInt64(components.count))
            for component in components {
                writer.writeVarint(UInt64(origins.position(component.origin)))
                writer.writeVarint(component.seq)
            }
        }
        return writer.bytes
    }

    private static func keySegments(_ keys: [TradeKey]) -> [[UInt8]] {
        let reporters = FrequencyTable(keys.map(\.reporter.rawValue))
        let partners = FrequencyTable(keys.map(\.partner.rawValue))
        let commodities = FrequencyTable(keys.map(\.commodity.rawValue))
        let customs = FrequencyTable(keys.map(\.customs))
        let transports = FrequencyTable(keys.map(\.transport))
        return [
            reporters.encoded, partners.encoded, commodities.encoded, customs.encoded, transports.encoded,
            column(reporters.indices), column(partners.indices),
            column(keys.map { UInt64(Self.flowIndex[$0.flow] ?? 0) }, byte: true),
            column(commodities.indices),
            column(keys.map { UInt64($0.period.year - yearBase) }),
            column(keys.map { UInt64($0.period.month) }, byte: true),
            column(customs.indices), column(transports.indices),
        ]
    }

    private static func valueSegments(_ puts: [TradeValues]) -> [[UInt8]] {
        var segments: [[UInt8]] = []
        let units = FrequencyTable(puts.map(\.quantityUnit))
        segments.append(units.encoded)
        let quantities = puts.compactMap { $0.quantity == $0.netWeightKg ? nil : $0.quantity }
        for decimals in [puts.compactMap(\.valueUSD), puts.compactMap(\.netWeightKg), quantities] {
            var writer = ByteWriter(capacity: decimals.count * 4)
            for decimal in decimals { writer.writeZigZag(decimal.mantissa) }
            segments.append(writer.bytes)
            segments.append(decimals.map(\.scale))
        }
        segments.append(column(units.indices))
        segments.append(puts.map(\.flags.rawValue))
        return segments
    }

    /// A column of varints, or of single bytes when `byte` (each value then below 256).
    static func column(_ values: [UInt64], byte: Bool = false) -> [UInt8] {
        if byte { return values.map { UInt8($0) } }
        var writer = ByteWriter(capacity: values.count * 2)
        for value in values { writer.writeVarint(value) }
        return writer.bytes
    }
}

/// Distinct values in order of first use, with each one's index.
struct StringlessTable<Value: Hashable> {
    var order: [Value] = []
    var index: [Value: Int] = [:]

    mutating func note(_ value: Value) {
        if order.last == value { return }  // runs: one origin's entries, a context of that origin
        if index[value] == nil {
            index[value] = order.count
            order.append(value)
        }
    }

    /// The index of a value noted earlier (the encoder notes every value before writing).
    func position(_ value: Value) -> Int {
        if order.count == 1 && order[0] == value { return 0 }  // a batch of one origin: no hashing
        guard let position = index[value] else { preconditionFailure("columnar encoder: a value it never noted") }
        return position
    }
}

/// A per-batch string table: the distinct strings of a column, most used first (ties:
/// first used first), and the column as indices into it.
struct FrequencyTable {
    /// `count | count × string`.
    let encoded: [UInt8]
    /// Each value's index in the table, in column order.
    let indices: [UInt64]

    /// One hash per value, and none for a value equal to the one before it (columns of a
    /// batch come in runs: one reporter's records, one unit): string hashing was a third of
    /// building a columnar payload. Columns of short strings (every value at most
    /// ``ShortText/bytesMax`` UTF-8 bytes: codes, units) are counted by a one-to-one
    /// 64-bit word instead, hashed as one integer.
    init(_ values: [String]) {
        let (slotOf, distinct) = Self.words(values).map { Self.count($0, values) } ?? Self.count(values, values)
        let order = distinct.indices.sorted {
            distinct[$0].count != distinct[$1].count ? distinct[$0].count > distinct[$1].count : distinct[$0].first < distinct[$1].first
        }
        var rank = [UInt64](repeating: 0, count: distinct.count)
        var writer = ByteWriter(capacity: order.count * 8)
        writer.writeVarint(UInt64(order.count))
        for (position, slot) in order.enumerated() {
            rank[slot] = UInt64(position)
            writer.writeString(values[distinct[slot].first])
        }
        encoded = writer.bytes
        indices = slotOf.map { rank[$0] }
    }

    /// Each value's word (``ShortText/word(_:)``), or nil when one is too long.
    private static func words(_ values: [String]) -> [UInt64]? {
        var words: [UInt64] = []
        words.reserveCapacity(values.count)
        for value in values {
            guard let word = ShortText.word(value) else { return nil }
            words.append(word)
        }
        return words
    }

    /// Counts `keys` (one per value, equal exactly when the values are): each position's
    /// slot, and per slot its count and first position in `values`.
    private static func count<Key: Hashable>(_ keys: [Key], _ values: [String])
        -> (slotOf: [Int], distinct: [(count: Int, first: Int)])
    {
        var slots: [Key: Int] = [:]
        var distinct: [(count: Int, first: Int)] = []
        var slotOf: [Int] = []
        slotOf.reserveCapacity(keys.count)
        var previous: (key: Key, slot: Int)?
        for (position, key) in keys.enumerated() {
            let slot: Int
            if let previous, previous.key == key {
                slot = previous.slot
            } else if let known = slots[key] {
                slot = known
            } else {
                slot = distinct.count
                slots[key] = slot
                distinct.append((0, position))
            }
            distinct[slot].count += 1
            slotOf.append(slot)
            previous = (key, slot)
        }
        return (slotOf, distinct)
    }
}

/// Short strings as one 64-bit word: up to ``bytesMax`` UTF-8 bytes, the first in the
/// lowest byte, zeros after the last. With no zero byte in a string, two strings have the
/// same word exactly when they have the same bytes; and with ASCII only, exactly when they
/// are equal as `String`s (which compares canonical equivalence). A column with any other
/// string is counted by `String` instead (``word(_:)`` returns nil).
enum ShortText {
    /// Most UTF-8 bytes a word holds.
    static let bytesMax = 8

    /// The word of `value`; nil when it has more than ``bytesMax`` bytes, a zero byte, or
    /// a byte outside ASCII.
    static func word(_ value: String) -> UInt64? {
        var value = value
        return value.withUTF8 { bytes -> UInt64? in
            guard bytes.count <= bytesMax else { return nil }
            var word: UInt64 = 0
            for (index, byte) in bytes.enumerated() {
                guard byte != 0 && byte < 0x80 else { return nil }
                word |= UInt64(byte) << UInt64(8 * index)
            }
            return word
        }
    }
}
