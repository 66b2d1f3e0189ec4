import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

extension ColumnarPayload {
    /// Decodes exactly `entryCount` entries from an uncompressed columnar payload.
    ///
    /// Hostile-input safe: every count is checked against what it may be (at most
    /// `entryCount` runs and table rows, at most ``EntryLimits/contextOriginsMax`` context
    /// origins, origins no more than the bytes left can hold) before anything is allocated
    /// for it, every index against its table, every string against its field's limit and
    /// code rules, and the payload must end after the last column.
    /// Complexity: O(payload bytes + entryCount).
    /// - Precondition: `1 <= entryCount <= Limits.batchEntriesMax`.
    /// - Throws: ``DecodeError`` naming the field (`columnar …`) and the byte offset in the
    ///   uncompressed payload.
    public static func decode(_ bytes: [UInt8], entryCount: Int) throws(DecodeError) -> [Entry] {
        precondition(entryCount >= 1 && entryCount <= Limits.batchEntriesMax, "entryCount \(entryCount)")
        var reader = ColumnReader(reader: ByteReader(bytes), entryCount: entryCount)
        let origins = try reader.origins()
        let dots = try reader.runs(origins: origins)
        let hlcs = try reader.hlcs()
        let contexts = try reader.contexts(origins: origins)
        let kinds = try reader.kinds()
        let keys = try reader.keys()
        let operations = try reader.operations(kinds: kinds)
        try reader.reader.expectEnd()
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        for index in 0..<entryCount {
            // Every field was checked above as Entry.decode checks it, so the entry's
            // canonical bytes decode again (the frame fuzzer holds the decoder to that, and
            // debug builds check each entry): it comes out marked as decoded and neither this
            // task nor the node's log decodes it again.
            let entry = Entry(
                checkedDot: dots[index], hlc: hlcs[index], context: contexts[index], key: keys[index],
                operation: operations[index])
            guard entry.encodedCount <= EntryLimits.entryBytesMax else {
                throw .limitExceeded(offset: 0, limit: EntryLimits.entryBytes, value: UInt64(entry.encodedCount))
            }
            entries.append(entry)
        }
        return entries
    }
}

/// Reads the sections of a columnar payload in order, checking each value as it is read.
struct ColumnReader {
    var reader: ByteReader
    let entryCount: Int

    /// A count in 0...max (or 1...max when `nonEmpty`), as a varint.
    mutating func count(_ field: String, max: Int, nonEmpty: Bool = false) throws(DecodeError) -> Int {
        let at = reader.offset
        let value = try reader.readVarint()
        guard value <= UInt64(max), !nonEmpty || value >= 1 else {
            throw .badValue(offset: at, field: field, reason: "\(value) not in \(nonEmpty ? 1 : 0)...\(max)")
        }
        return Int(value)
    }

    /// An index below `count`, as a varint.
    /// The field's name is built only for an error: this runs for every index of every
    /// entry, and an interpolated name would be a string made each time.
    mutating func index(_ field: @autoclosure () -> String, below count: Int) throws(DecodeError) -> Int {
        let at = reader.offset
        let value = try reader.readVarint()
        guard value < UInt64(count) else {
            throw .badValue(offset: at, field: field(), reason: "index \(value) not below table size \(count)")
        }
        return Int(value)
    }

    mutating func origins() throws(DecodeError) -> [NodeID] {
        // Each origin takes 32 bytes: a count the rest cannot hold is refused before allocating.
        let count = try count("columnar originCount", max: reader.remaining / NodeID.byteCount, nonEmpty: true)
        var origins: [NodeID] = []
        origins.reserveCapacity(count)
        for _ in 0..<count { origins.append(try NodeID.decode(from: &reader)) }
        return origins
    }

    mutating func runs(origins: [NodeID]) throws(DecodeError) -> [Dot] {
        let runCount = try count("columnar runCount", max: entryCount, nonEmpty: true)
        var dots: [Dot] = []
        dots.reserveCapacity(entryCount)
        for _ in 0..<runCount {
            let origin = origins[try index("columnar run origin", below: origins.count)]
            let at = reader.offset
            let first = try reader.readVarint()
            let length = try count("columnar run length", max: entryCount - dots.count, nonEmpty: true)
            guard first >= 1, first <= UInt64.max - UInt64(length - 1) else {
                throw .badValue(offset: at, field: "columnar run firstSeq", reason: "\(first) is 0 or overflows")
            }
            for step in 0..<UInt64(length) { dots.append(Dot(origin: origin, seq: first + step)) }
        }
        guard dots.count == entryCount else {
            throw .badValue(offset: reader.offset, field: "columnar runs", reason: "cover \(dots.count) of \(entryCount) entries")
        }
        return dots
    }

    mutating func hlcs() throws(DecodeError) -> [HLCTimestamp] {
        var previous: UInt64 = 0
        var hlcs: [HLCTimestamp] = []
        hlcs.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            previous = previous &+ UInt64(bitPattern: try reader.readZigZag())
            hlcs.append(HLCTimestamp(rawValue: previous))
        }
        return hlcs
    }

    mutating func contexts(origins: [NodeID]) throws(DecodeError) -> [VersionVector] {
        var contexts: [VersionVector] = []
        contexts.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            let at = reader.offset
            let count = try reader.readVarint()
            guard count <= UInt64(EntryLimits.contextOriginsMax) else {
                throw .limitExceeded(offset: at, limit: EntryLimits.contextOrigins, value: count)
            }
            if count == 0 {
                contexts.append(VersionVector())
                continue
            }
            var counters: [NodeID: UInt64] = [:]
            var last: NodeID?
            for _ in 0..<Int(count) {
                let origin = origins[try index("columnar context origin", below: origins.count)]
                let seqAt = reader.offset
                let seq = try reader.readVarint()
                guard seq >= 1, last.map({ $0 < origin }) ?? true else {
                    throw .badValue(
                        offset: seqAt, field: "columnar context", reason: "seq 0, or origins not ascending")
                }
                counters[origin] = seq
                last = origin
            }
            contexts.append(VersionVector(counters))
        }
        return contexts
    }

    mutating func kinds() throws(DecodeError) -> [UInt8] {
        var kinds: [UInt8] = []
        kinds.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            let at = reader.offset
            let kind = try reader.readU8()
            let sameAsWeight = kind & ColumnarPayload.kindQuantityIsWeight != 0
            let valid =
                kind == ColumnarPayload.kindDelete
                || (kind & ~(ColumnarPayload.kindPresenceMask | ColumnarPayload.kindQuantityIsWeight) == 0
                    && (!sameAsWeight || kind & 0x06 == 0x02))
            guard valid else { throw .badValue(offset: at, field: "columnar kind", reason: "invalid bits \(kind)") }
            kinds.append(kind)
        }
        return kinds
    }

    /// A string table: a count of at most `entryCount` rows (a row no entry uses is
    /// pointless), each string checked by `check` (nil: valid).
    mutating func table(_ name: String, limit: NamedLimit, check: (String) -> String?) throws(DecodeError) -> [String] {
        let count = try count("columnar \(name) table count", max: entryCount)
        var rows: [String] = []
        rows.reserveCapacity(count)
        for _ in 0..<count {
            let at = reader.offset
            let text = try reader.readString(limit: limit)
            if let problem = check(text) {
                throw .badValue(offset: at, field: "columnar \(name) table", reason: "'\(text)': \(problem)")
            }
            rows.append(text)
        }
        return rows
    }

    /// `entryCount` (or `count`) indices into `table`, mapped to its rows.
    mutating func indexColumn<T>(_ name: String, _ table: [T], count: Int? = nil) throws(DecodeError) -> [T] {
        var values: [T] = []
        let total = count ?? entryCount
        values.reserveCapacity(total)
        for _ in 0..<total { values.append(table[try index("columnar \(name) index", below: table.count)]) }
        return values
    }

    /// `count` single bytes, each at most `max`.
    mutating func byteColumn(_ name: String, count: Int, max: UInt8) throws(DecodeError) -> [UInt8] {
        var values: [UInt8] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            let at = reader.offset
            let value = try reader.readU8()
            guard value <= max else { throw .badValue(offset: at, field: "columnar \(name)", reason: "\(value) above \(max)") }
            values.append(value)
        }
        return values
    }
}
