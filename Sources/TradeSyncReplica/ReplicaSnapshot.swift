import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// Snapshot of the materialised replica state, for a fast restart.
///
/// The log module stores these bytes as an opaque blob in its checkpoint file, which has its
/// own header, CRC-32C and log position; this codec covers only the replica state.
///
/// Layout, version 1. Integers are big-endian; `varint` is unsigned LEB128; `zigzag` is a
/// zig-zag varint; `str` is `varint length | UTF-8 bytes`; `idx(T)` is a varint index into table T.
///
/// ```
/// u8        format version (1)
/// 32 B      localID
/// varint O, O × 32 B             origin table: every distinct NodeID in the vector, contexts and dots
/// varint V, V × (idx(origin), varint seq ≥ 1)    vector, origin indices strictly ascending
/// u64       HLC clock: last timestamp issued or observed (raw 48-bit ms | 16-bit logical)
/// 4 × varint                     counts: records, keys, conflicts, tombstones
/// u8 0 | u8 1, 32 B              state digest, when it was cached (``Replica/digest()``)
/// varint n, n × str              area codes (reporters, partners), canonical, ≤ 4 B
/// varint n, n × str              flow codes (M, X, RM, …)
/// varint n, n × str              commodity codes, canonical, ≤ 10 B
/// varint n, n × (u16 year, u8 month)   periods (month 0 = annual)
/// varint n, n × str              breakdown codes (customs procedure, mode of transport), ≤ 8 B
/// varint n, n × str              quantity units, ≤ 32 B
/// varint K, K × key state:
///   7 × varint                   idx(area) reporter, idx(area) partner, idx(flow), idx(commodity),
///                                idx(period), idx(breakdown) customs, idx(breakdown) transport
///   varint C, C × (idx(origin), varint seq ≥ 1)  causal context, origin indices strictly ascending
///   varint S, S × version        surviving versions, ascending by dot
///     idx(origin), varint seq ≥ 1   dot, covered by the vector and by the key's context
///     u64                        HLC timestamp, ≤ the clock
///     u8 2                       delete, or
///     u8 1, u8 presence (bit 0 value_usd, 1 net_weight_kg, 2 qty), per present field
///          (zigzag mantissa, u8 scale ≤ 9, normalised), idx(unit), u8 flags
/// (end: no trailing bytes)
/// ```
///
/// Tables are in first-use order and keys in dictionary order, so two snapshots of equal
/// states need not be byte-equal (and differ between processes): what must match is
/// ``Replica/digest()``, which a decoded replica reproduces exactly.
extension Replica {
    /// Snapshot format version written by ``encodeSnapshot()``.
    public static let snapshotFormatVersion: UInt8 = 1

    /// The whole materialised state as bytes (layout above).
    ///
    /// Pure and linear in the state's size; it computes no digest: it stores the cached one
    /// when present, so call ``digest()`` on the copy first to make `status` instant after a
    /// restart. Meant to run on a copy of the replica, off the actor.
    /// - Returns: about 60 bytes per single-version key, plus small tables.
    public func encodeSnapshot() -> [UInt8] {
        var tables = SnapshotTables()
        var body = SnapshotWriter(capacity: 64 * keys.count + 64)
        body.varint(keys.count)
        for (key, state) in keys {
            body.varint(tables.areas.index(key.reporter.rawValue))
            body.varint(tables.areas.index(key.partner.rawValue))
            body.varint(tables.flows.index(key.flow.rawValue))
            body.varint(tables.commodities.index(key.commodity.rawValue))
            body.varint(tables.periods.index(key.period))
            body.varint(tables.breakdowns.index(key.customs))
            body.varint(tables.breakdowns.index(key.transport))
            tables.writeVector(state.context, into: &body)
            body.varint(state.versions.count)
            for version in state.versions {
                body.varint(tables.origins.index(version.dot.origin))
                body.varint(version.dot.seq)
                body.u64(version.hlc.rawValue)
                switch version.operation {
                case .delete: body.u8(2)
                case .put(let values):
                    body.u8(1)
                    body.u8((values.valueUSD == nil ? 0 : 1) | (values.netWeightKg == nil ? 0 : 2) | (values.quantity == nil ? 0 : 4))
                    body.decimal(values.valueUSD)
                    body.decimal(values.netWeightKg)
                    body.decimal(values.quantity)
                    body.varint(tables.units.index(values.quantityUnit))
                    body.u8(values.flags.rawValue)
                }
            }
        }
        var head = SnapshotWriter(capacity: body.bytes.count + 256 + 32 * tables.origins.values.count)
        head.u8(Self.snapshotFormatVersion)
        head.nodeID(localID)
        var vectorPart = SnapshotWriter(capacity: 16)
        tables.writeVector(vector, into: &vectorPart)  // interns the vector's origins before the table is written
        head.varint(tables.origins.values.count)
        for origin in tables.origins.values { head.nodeID(origin) }
        head.bytes.append(contentsOf: vectorPart.bytes)
        head.u64(clock.last.rawValue)
        for count in [counts.records, counts.keys, counts.conflicts, counts.tombstones] { head.varint(count) }
        if let digestCache, digestCache.count == 32 {
            head.u8(1)
            head.bytes.append(contentsOf: digestCache)
        } else {
            head.u8(0)
        }
        for table in [tables.areas, tables.flows, tables.commodities] { head.strings(table.values) }
        head.varint(tables.periods.values.count)
        for period in tables.periods.values {
            head.u16(period.year)
            head.u8(period.month)
        }
        head.strings(tables.breakdowns.values)
        head.strings(tables.units.values)
        head.bytes.append(contentsOf: body.bytes)
        return head.bytes
    }

    /// Rebuilds a replica from ``encodeSnapshot()``'s bytes, checking every field and the
    /// state's consistency; the cached digest (if stored) is restored, not recomputed.
    ///
    /// - Parameters:
    ///   - bytes: one whole snapshot, exactly (trailing bytes are an error).
    ///   - localID: this node's ID; the snapshot must have been written by the same node.
    /// - Throws: ``DecodeError`` with the byte offset: `truncated`, `badVarint`,
    ///   `lengthTooLarge` (a count or length larger than the bytes left could hold),
    ///   `trailingBytes`, or `badValue` naming the field: wrong format version, localID
    ///   mismatch, a non-canonical or invalid code, an index outside its table, duplicate
    ///   origins or keys, unordered contexts or versions, a zero seq, a dot the vector or the
    ///   key's context does not cover, an HLC above the clock, counts that do not match the
    ///   keys. Never traps on bad input.
    public static func decodeSnapshot(_ bytes: [UInt8], localID: NodeID) throws(DecodeError) -> Replica {
        var reader = SnapshotReader(bytes: bytes)
        let version = try reader.u8()
        guard version == snapshotFormatVersion else {
            throw .badValue(offset: 0, field: "snapshot format version", reason: "\(version), expected \(snapshotFormatVersion)")
        }
        let stored = try reader.nodeID()
        guard stored == localID else {
            throw .badValue(offset: 1, field: "snapshot localID", reason: "\(stored.hex) is not this node (\(localID.hex))")
        }
        let origins = try reader.table("origin table", minBytes: 32) { (r: inout SnapshotReader) throws(DecodeError) in try r.nodeID() }
        guard Set(origins).count == origins.count else { throw .badValue(offset: 33, field: "origin table", reason: "duplicate origin") }
        let vector = try reader.vector(origins: origins, field: "vector")
        let vectorSeqs = origins.map { vector[$0] }
        let clock = HybridLogicalClock(last: HLCTimestamp(rawValue: try reader.u64()))
        let countsAt = reader.offset
        let storedCounts = [try reader.varint(), try reader.varint(), try reader.varint(), try reader.varint()]
        let digestAt = reader.offset
        let digest: [UInt8]?
        switch try reader.u8() {
        case 0: digest = nil
        case 1: digest = try reader.raw(32)
        case let flag: throw .badValue(offset: digestAt, field: "digest flag", reason: "\(flag), expected 0 or 1")
        }
        let areas = try reader.codes("area code", lengthMax: RecordLimits.areaCodeBytesMax) { text in
            (try? AreaCode(text)).flatMap { $0.rawValue == text ? $0 : nil }
        }
        let flows = try reader.codes("flow code", lengthMax: 3) { Flow(rawValue: $0) }
        let commodities = try reader.codes("commodity code", lengthMax: RecordLimits.commodityBytesMax) { text in
            (try? CommodityCode(text)).flatMap { $0.rawValue == text ? $0 : nil }
        }
        let periods = try reader.table("period table", minBytes: 3) { (r: inout SnapshotReader) throws(DecodeError) in
            let at = r.offset
            let (year, month) = (try r.u16(), try r.u8())
            guard let period = try? Period(year: Int(year), month: Int(month)) else {
                throw .badValue(offset: at, field: "period", reason: "year \(year) month \(month) out of range")
            }
            return period
        }
        let breakdowns = try reader.codes("breakdown code", lengthMax: RecordLimits.breakdownCodeBytesMax) { text in
            isCanonicalBreakdown(text) ? text : nil
        }
        let units = try reader.codes("quantity unit", lengthMax: RecordLimits.quantityUnitBytesMax) { $0 }

        let keyCount = try reader.count("key count", minBytes: 9)
        var keys: [TradeKey: KeyState] = Dictionary(minimumCapacity: keyCount)
        var counts = ReplicaCounts()
        var hlcMax = HLCTimestamp.zero
        for _ in 0..<keyCount {
            let keyAt = reader.offset
            let reporter = areas[try reader.index(areas.count, "reporter")]
            let partner = areas[try reader.index(areas.count, "partner")]
            let flow = flows[try reader.index(flows.count, "flow")]
            let commodity = commodities[try reader.index(commodities.count, "commodity")]
            let period = periods[try reader.index(periods.count, "period")]
            let customs = breakdowns[try reader.index(breakdowns.count, "customs")]
            let transport = breakdowns[try reader.index(breakdowns.count, "transport")]
            let key: TradeKey
            do {
                key = try TradeKey(
                    reporter: reporter, partner: partner, flow: flow, commodity: commodity, period: period,
                    customs: customs, transport: transport)
            } catch { throw .badValue(offset: keyAt, field: "key \(error.field)", reason: error.reason) }
            let context = try reader.vector(origins: origins, field: "context")
            let versionCount = try reader.count("version count", minBytes: 11)
            var versions: [Version] = []
            versions.reserveCapacity(versionCount)
            for _ in 0..<versionCount {
                let dotAt = reader.offset
                let originIndex = try reader.index(origins.count, "dot origin")
                let seq = try reader.varint()
                let dot = Dot(origin: origins[originIndex], seq: seq)
                guard seq > 0 else { throw .badValue(offset: dotAt, field: "dot", reason: "zero seq") }
                guard vectorSeqs[originIndex] >= seq, context.covers(dot) else {
                    throw .badValue(offset: dotAt, field: "dot", reason: "\(dot) not covered by the vector and the key's context")
                }
                if let last = versions.last, !(last.dot < dot) {
                    throw .badValue(offset: dotAt, field: "dot", reason: "versions not in ascending dot order")
                }
                let hlc = HLCTimestamp(rawValue: try reader.u64())
                hlcMax = max(hlcMax, hlc)
                versions.append(Version(dot: dot, hlc: hlc, operation: try reader.operation(units: units)))
            }
            let state = KeyState(context: context, versions: versions)
            let delta = contribution(of: state)
            counts.records += delta.records
            counts.keys += delta.keys
            counts.conflicts += delta.conflicts
            counts.tombstones += delta.tombstones
            guard keys.updateValue(state, forKey: key) == nil else {
                throw .badValue(offset: keyAt, field: "key", reason: "\(key) appears twice")
            }
        }
        try reader.expectEnd()
        let computed = [counts.records, counts.keys, counts.conflicts, counts.tombstones].map { UInt64($0) }
        guard computed == storedCounts else {
            throw .badValue(offset: countsAt, field: "counts", reason: "stored \(storedCounts), keys give \(computed)")
        }
        guard hlcMax <= clock.last else {
            throw .badValue(offset: 0, field: "clock", reason: "\(clock.last) is below a version's HLC \(hlcMax)")
        }
        return Replica(localID: localID, vector: vector, counts: counts, keys: keys, clock: clock, digestCache: digest)
    }

    /// True when `text` is a breakdown code as ``TradeKey`` stores it (`all` or a canonical code).
    private static func isCanonicalBreakdown(_ text: String) -> Bool {
        guard let period = try? Period(year: 2000),
            let key = try? TradeKey(
                reporter: .world, partner: .world, flow: .import, commodity: .total, period: period, customs: text,
                transport: text)
        else { return false }
        return key.customs == text && key.transport == text
    }
}

/// First-use interning: value → index, and the values in index order.
private struct Interner<Value: Hashable> {
    var indices: [Value: Int] = [:]
    var values: [Value] = []

    mutating func index(_ value: Value) -> Int {
        if let index = indices[value] { return index }
        indices[value] = values.count
        values.append(value)
        return values.count - 1
    }
}

private struct SnapshotTables {
    var origins = Interner<NodeID>()
    var areas = Interner<String>()
    var flows = Interner<String>()
    var commodities = Interner<String>()
    var periods = Interner<Period>()
    var breakdowns = Interner<String>()
    var units = Interner<String>()

    /// `varint count | (idx(origin), varint seq)…` with origin indices ascending.
    mutating func writeVector(_ vector: VersionVector, into writer: inout SnapshotWriter) {
        var pairs = vector.counters.map { (index: origins.index($0.key), seq: $0.value) }
        if pairs.count > 1 { pairs.sort { $0.index < $1.index } }
        writer.varint(pairs.count)
        for pair in pairs {
            writer.varint(pair.index)
            writer.varint(pair.seq)
        }
    }
}

private struct SnapshotWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }
    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
    mutating func varint(_ value: Int) { varint(UInt64(truncatingIfNeeded: value)) }
    mutating func varint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }
    mutating func nodeID(_ id: NodeID) { bytes.append(contentsOf: id.bytes) }
    /// Nothing when absent; else zigzag mantissa, u8 scale.
    mutating func decimal(_ value: ExactDecimal?) {
        guard let value else { return }
        varint(UInt64(bitPattern: (value.mantissa << 1) ^ (value.mantissa >> 63)))
        u8(value.scale)
    }
    mutating func strings(_ values: [String]) {
        varint(values.count)
        for value in values {
            varint(value.utf8.count)
            bytes.append(contentsOf: value.utf8)
        }
    }
}

/// A bounds-checked reader; every failure is a ``DecodeError`` naming the offset.
private struct SnapshotReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func u8() throws(DecodeError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset, needed: 1) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DecodeError) -> UInt16 {
        UInt16(try u8()) << 8 | UInt16(try u8())
    }

    mutating func u64() throws(DecodeError) -> UInt64 {
        guard bytes.count - offset >= 8 else { throw .truncated(offset: offset, needed: 8 - (bytes.count - offset)) }
        var value: UInt64 = 0
        for index in offset..<offset + 8 { value = value << 8 | UInt64(bytes[index]) }
        offset += 8
        return value
    }

    mutating func varint() throws(DecodeError) -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            if shift == 63 && byte > 1 { throw .badVarint(offset: start) }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    mutating func raw(_ count: Int) throws(DecodeError) -> [UInt8] {
        guard bytes.count - offset >= count else { throw .truncated(offset: offset, needed: count - (bytes.count - offset)) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func nodeID() throws(DecodeError) -> NodeID {
        let at = offset
        guard let id = NodeID(bytes: try raw(NodeID.byteCount)) else { throw .badValue(offset: at, field: "node ID", reason: "not 32 bytes") }
        return id
    }

    /// A count of items of at least `minBytes` each: never more than the bytes left could hold.
    mutating func count(_ field: String, minBytes: Int) throws(DecodeError) -> Int {
        let at = offset
        let value = try varint()
        let limit = (bytes.count - offset) / minBytes
        guard value <= UInt64(limit) else { throw .lengthTooLarge(offset: at, length: value, lengthMax: limit) }
        return Int(value)
    }

    /// A varint index below `count`.
    mutating func index(_ count: Int, _ field: String) throws(DecodeError) -> Int {
        let at = offset
        let value = try varint()
        guard value < UInt64(count) else { throw .badValue(offset: at, field: field, reason: "index \(value) not below \(count)") }
        return Int(value)
    }

    mutating func table<T>(
        _ field: String, minBytes: Int, _ element: (inout SnapshotReader) throws(DecodeError) -> T
    ) throws(DecodeError) -> [T] {
        let count = try count(field, minBytes: minBytes)
        var result: [T] = []
        result.reserveCapacity(count)
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }

    /// A table of strings, each accepted only when `validate` maps it to a value.
    mutating func codes<T>(_ field: String, lengthMax: Int, _ validate: (String) -> T?) throws(DecodeError) -> [T] {
        try table(field, minBytes: 1) { (r: inout SnapshotReader) throws(DecodeError) -> T in
            let at = r.offset
            let length = try r.varint()
            guard length <= UInt64(lengthMax) else { throw .lengthTooLarge(offset: at, length: length, lengthMax: lengthMax) }
            guard let text = String(validating: try r.raw(Int(length)), as: UTF8.self) else { throw .badUTF8(offset: at) }
            guard let value = validate(text) else { throw .badValue(offset: at, field: field, reason: "'\(text)' is not canonical") }
            return value
        }
    }

    /// `varint count | (idx(origin), varint seq ≥ 1)…`, origin indices strictly ascending.
    mutating func vector(origins: [NodeID], field: String) throws(DecodeError) -> VersionVector {
        let at = offset
        let count = try count(field, minBytes: 2)
        guard count <= origins.count else { throw .lengthTooLarge(offset: at, length: UInt64(count), lengthMax: origins.count) }
        var vector = VersionVector()
        var previous = -1
        for _ in 0..<count {
            let at = offset
            let index = try index(origins.count, field)
            let seq = try varint()
            guard index > previous else { throw .badValue(offset: at, field: field, reason: "origins not ascending") }
            guard seq > 0 else { throw .badValue(offset: at, field: field, reason: "zero counter") }
            vector.advance(origins[index], to: seq)
            previous = index
        }
        return vector
    }

    mutating func decimal() throws(DecodeError) -> ExactDecimal {
        let at = offset
        let raw = try varint()
        let mantissa = Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
        let scale = try u8()
        guard scale <= ExactDecimal.scaleMax, scale == 0 || mantissa % 10 != 0 else {
            throw .badValue(offset: at, field: "decimal", reason: "scale \(scale) or not normalised")
        }
        return ExactDecimal(normalizingMantissa: mantissa, scale: scale)
    }

    mutating func operation(units: [String]) throws(DecodeError) -> Operation {
        let at = offset
        switch try u8() {
        case 2: return .delete
        case 1:
            let presence = try u8()
            guard presence & ~7 == 0 else { throw .badValue(offset: at + 1, field: "presence", reason: "unknown bits") }
            let value = presence & 1 != 0 ? try decimal() : nil
            let weight = presence & 2 != 0 ? try decimal() : nil
            let quantity = presence & 4 != 0 ? try decimal() : nil
            let unit = units[try index(units.count, "quantity unit")]
            let flagsAt = offset
            let flags = RecordFlags(rawValue: try u8())
            guard RecordFlags.known.isSuperset(of: flags) else {
                throw .badValue(offset: flagsAt, field: "flags", reason: "unknown bits \(flags.rawValue)")
            }
            return .put(TradeValues(valueUSD: value, netWeightKg: weight, quantity: quantity, quantityUnit: unit, flags: flags))
        case let tag: throw .badValue(offset: at, field: "operation", reason: "unknown tag \(tag)")
        }
    }

    func expectEnd() throws(DecodeError) {
        if offset < bytes.count { throw .trailingBytes(offset: offset, count: bytes.count - offset) }
    }
}
