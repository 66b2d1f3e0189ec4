import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

// The byte-level half of the replica snapshot codec (ReplicaSnapshot.swift has the API and the
// layout): the tables each side keeps, the key-state encoding, and a bounds-checked reader.

/// The decoded tables that key states refer to by index.
struct SnapshotDecodingTables: Sendable {
    var origins: [NodeID] = []
    var vectorSeqs: [UInt64] = []
    var areas: [AreaCode] = []
    var flows: [Flow] = []
    var commodities: [CommodityCode] = []
    var periods: [Period] = []
    var customs: [String] = []
    var transports: [String] = []
    var units: [String] = []

    mutating func readCodes(_ reader: inout SnapshotReader) throws(DecodeError) {
        areas = try reader.codes("area code", lengthMax: RecordLimits.areaCodeBytesMax) { text in
            (try? AreaCode(text)).flatMap { $0.rawValue == text ? $0 : nil }
        }
        flows = try reader.codes("flow code", lengthMax: 3) { Flow(rawValue: $0) }
        commodities = try reader.codes("commodity code", lengthMax: RecordLimits.commodityBytesMax) { text in
            (try? CommodityCode(text)).flatMap { $0.rawValue == text ? $0 : nil }
        }
        periods = try reader.table("period table", minBytes: 3) { (r: inout SnapshotReader) throws(DecodeError) in
            let at = r.offset
            let (year, month) = (try r.u16(), try r.u8())
            guard let period = try? Period(year: Int(year), month: Int(month)) else {
                throw .badValue(offset: at, field: "period", reason: "year \(year) month \(month) out of range")
            }
            return period
        }
        customs = try reader.codes("customs code", lengthMax: RecordLimits.breakdownCodeBytesMax) { text in
            Self.isCanonicalBreakdown(customs: text, transport: TradeKey.all) ? text : nil
        }
        transports = try reader.codes("transport code", lengthMax: RecordLimits.breakdownCodeBytesMax) { text in
            Self.isCanonicalBreakdown(customs: TradeKey.all, transport: text) ? text : nil
        }
        units = try reader.codes("quantity unit", lengthMax: RecordLimits.quantityUnitBytesMax) { $0 }
    }

    /// True when ``TradeKey``'s validating initializer keeps these breakdown codes as they are.
    private static func isCanonicalBreakdown(customs: String, transport: String) -> Bool {
        guard let period = try? Period(year: 2000),
            let key = try? TradeKey(
                reporter: .world, partner: .world, flow: .import, commodity: .total, period: period, customs: customs,
                transport: transport)
        else { return false }
        return key.customs == customs && key.transport == transport
    }

    /// The `keyCount` key states in `bytes[range]`, checked; duplicate keys are the caller's to find.
    func parse(_ bytes: [UInt8], _ range: Range<Int>, keyCount: Int) throws(DecodeError) -> ParsedChunk {
        var reader = SnapshotReader(bytes: bytes, offset: range.lowerBound, end: range.upperBound)
        var chunk = ParsedChunk()
        chunk.entries.reserveCapacity(keyCount)
        var contextPairs: [(index: Int, seq: UInt64)] = []  // the current key's context, reused
        for _ in 0..<keyCount {
            let keyAt = reader.offset
            // Every code was validated once, with its table.
            let key = TradeKey(
                validatedReporter: areas[try reader.index(areas.count, "reporter")],
                partner: areas[try reader.index(areas.count, "partner")],
                flow: flows[try reader.index(flows.count, "flow")],
                commodity: commodities[try reader.index(commodities.count, "commodity")],
                period: periods[try reader.index(periods.count, "period")],
                customs: customs[try reader.index(customs.count, "customs")],
                transport: transports[try reader.index(transports.count, "transport")])
            let context = try reader.vector(origins: origins, field: "context", pairs: &contextPairs)
            let versionCount = try reader.count("version count", minBytes: 11)
            var versions: [Version] = []
            versions.reserveCapacity(versionCount)
            var single: PackedVersion?  // the packed form, when the state turns out to have that shape
            for _ in 0..<versionCount {
                let dotAt = reader.offset
                let originIndex = try reader.index(origins.count, "dot origin")
                let seq = try reader.varint()
                let dot = Dot(origin: origins[originIndex], seq: seq)
                guard seq > 0 else { throw .badValue(offset: dotAt, field: "dot", reason: "zero seq") }
                guard vectorSeqs[originIndex] >= seq, contextPairs.contains(where: { $0.index == originIndex && $0.seq >= seq })
                else { throw .badValue(offset: dotAt, field: "dot", reason: "\(dot) not covered by the vector and the key's context") }
                if let last = versions.last, !(last.dot < dot) {
                    throw .badValue(offset: dotAt, field: "dot", reason: "versions not in ascending dot order")
                }
                let hlc = HLCTimestamp(rawValue: try reader.u64())
                chunk.hlcMax = max(chunk.hlcMax, hlc)
                let (operation, unit) = try reader.operation(units: units)
                versions.append(Version(dot: dot, hlc: hlc, operation: operation))
                single = PackedVersion(origin: UInt32(originIndex), seq: seq, hlc: hlc.rawValue, operation: operation, unit: unit)
            }
            let state = KeyState(context: context, versions: versions)
            let delta = Replica.contribution(of: state)
            chunk.counts.records += delta.records
            chunk.counts.keys += delta.keys
            chunk.counts.conflicts += delta.conflicts
            chunk.counts.tombstones += delta.tombstones
            if let single, versionCount == 1, state.explicitContext == nil {
                chunk.entries.append((keyAt, key, .single(single)))
            } else {
                chunk.entries.append((keyAt, key, .general(KeyStateBox(state))))
            }
        }
        try reader.expectEnd()
        return chunk
    }
}

/// First-use interning: value → index, and the values in index order.
struct SnapshotInterner<Value: Hashable> {
    var indices: [Value: Int] = [:]
    var values: [Value] = []

    mutating func index(_ value: Value) -> Int {
        if let index = indices[value] { return index }
        indices[value] = values.count
        values.append(value)
        return values.count - 1
    }
}

/// The tables an encoding builds as it goes, and the key-state encoding that fills them.
struct SnapshotEncodingTables {
    var origins = SnapshotInterner<NodeID>()
    var areas = SnapshotInterner<String>()
    var flows = SnapshotInterner<String>()
    var commodities = SnapshotInterner<String>()
    var periods = SnapshotInterner<Period>()
    var customs = SnapshotInterner<String>()
    var transports = SnapshotInterner<String>()
    var units = SnapshotInterner<String>()

    mutating func write(_ key: TradeKey, _ state: KeyState, into writer: inout ByteWriter) {
        writer.writeVarint(areas.index(key.reporter.rawValue))
        writer.writeVarint(areas.index(key.partner.rawValue))
        writer.writeVarint(flows.index(key.flow.rawValue))
        writer.writeVarint(commodities.index(key.commodity.rawValue))
        writer.writeVarint(periods.index(key.period))
        writer.writeVarint(customs.index(key.customs))
        writer.writeVarint(transports.index(key.transport))
        writeVector(state.context, into: &writer)
        writer.writeVarint(state.versions.count)
        for version in state.versions {
            writer.writeVarint(origins.index(version.dot.origin))
            writer.writeVarint(version.dot.seq)
            writer.writeU64(version.hlc.rawValue)
            switch version.operation {
            case .delete: writer.writeU8(2)
            case .put(let values):
                writer.writeU8(1)
                writer.writeU8((values.valueUSD == nil ? 0 : 1) | (values.netWeightKg == nil ? 0 : 2) | (values.quantity == nil ? 0 : 4))
                values.valueUSD?.encode(into: &writer)
                values.netWeightKg?.encode(into: &writer)
                values.quantity?.encode(into: &writer)
                writer.writeVarint(units.index(values.quantityUnit))
                writer.writeU8(values.flags.rawValue)
            }
        }
    }

    /// `varint count | (idx(origin), varint seq)…` with origin indices ascending. Origins
    /// new to the table are interned in NodeID order, not the vector's hash order, so one
    /// state always fills the table the same way (``PackedKeyWriter`` relies on it).
    mutating func writeVector(_ vector: VersionVector, into writer: inout ByteWriter) {
        var pairs = vector.sorted.map { (index: origins.index($0.origin), seq: $0.seq) }
        if pairs.count > 1 { pairs.sort { $0.index < $1.index } }
        writer.writeVarint(pairs.count)
        for pair in pairs {
            writer.writeVarint(pair.index)
            writer.writeVarint(pair.seq)
        }
    }
}

extension ByteWriter {
    mutating func writeVarint(_ value: Int) { writeVarint(UInt64(truncatingIfNeeded: value)) }

    mutating func writeStrings(_ values: [String]) {
        writeVarint(values.count)
        for value in values { writeString(value) }
    }
}

/// A bounds-checked reader of `bytes[offset..<end]`; every failure is a ``DecodeError`` naming the offset.
struct SnapshotReader {
    let bytes: [UInt8]
    var offset: Int
    let end: Int

    mutating func u8() throws(DecodeError) -> UInt8 {
        guard offset < end else { throw .truncated(offset: offset, needed: 1) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DecodeError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }

    mutating func u64() throws(DecodeError) -> UInt64 {
        guard end - offset >= 8 else { throw .truncated(offset: offset, needed: 8 - (end - offset)) }
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

    mutating func skip(_ count: Int) throws(DecodeError) {
        guard end - offset >= count else { throw .truncated(offset: offset, needed: count - (end - offset)) }
        offset += count
    }

    mutating func raw(_ count: Int) throws(DecodeError) -> [UInt8] {
        let start = offset
        try skip(count)
        return Array(bytes[start..<offset])
    }

    mutating func nodeID() throws(DecodeError) -> NodeID {
        let at = offset
        guard let id = NodeID(bytes: try raw(NodeID.byteCount)) else { throw .badValue(offset: at, field: "node ID", reason: "not 32 bytes") }
        return id
    }

    /// A count (of items of at least `minBytes` each) or a length: never more than the bytes left could hold.
    mutating func count(_ field: String, minBytes: Int) throws(DecodeError) -> Int {
        let at = offset
        let value = try varint()
        let limit = (end - offset) / minBytes
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

    /// `varint count | (idx(origin), varint seq ≥ 1)…`, origin indices strictly ascending; the
    /// components are also left in `pairs`.
    mutating func vector(
        origins: [NodeID], field: String, pairs: inout [(index: Int, seq: UInt64)]
    ) throws(DecodeError) -> VersionVector {
        let at = offset
        let count = try count(field, minBytes: 2)
        guard count <= origins.count else { throw .lengthTooLarge(offset: at, length: UInt64(count), lengthMax: origins.count) }
        pairs.removeAll(keepingCapacity: true)
        var vector = VersionVector()
        for _ in 0..<count {
            let at = offset
            let index = try index(origins.count, field)
            let seq = try varint()
            guard index > (pairs.last?.index ?? -1) else { throw .badValue(offset: at, field: field, reason: "origins not ascending") }
            guard seq > 0 else { throw .badValue(offset: at, field: field, reason: "zero counter") }
            vector.advance(origins[index], to: seq)
            pairs.append((index, seq))
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

    /// An operation and, for a put, its unit's index (0 for a delete).
    mutating func operation(units: [String]) throws(DecodeError) -> (Operation, unit: UInt32) {
        let at = offset
        switch try u8() {
        case 2: return (.delete, 0)
        case 1:
            let presence = try u8()
            guard presence & ~7 == 0 else { throw .badValue(offset: at + 1, field: "presence", reason: "unknown bits") }
            let value = presence & 1 != 0 ? try decimal() : nil
            let weight = presence & 2 != 0 ? try decimal() : nil
            let quantity = presence & 4 != 0 ? try decimal() : nil
            let unitIndex = try index(units.count, "quantity unit")
            let unit = units[unitIndex]
            let flagsAt = offset
            let flags = RecordFlags(rawValue: try u8())
            guard RecordFlags.known.isSuperset(of: flags) else {
                throw .badValue(offset: flagsAt, field: "flags", reason: "unknown bits \(flags.rawValue)")
            }
            let values = TradeValues(valueUSD: value, netWeightKg: weight, quantity: quantity, quantityUnit: unit, flags: flags)
            return (.put(values), UInt32(unitIndex))
        case let tag: throw .badValue(offset: at, field: "operation", reason: "unknown tag \(tag)")
        }
    }

    func expectEnd() throws(DecodeError) {
        if offset < end { throw .trailingBytes(offset: offset, count: end - offset) }
    }
}
