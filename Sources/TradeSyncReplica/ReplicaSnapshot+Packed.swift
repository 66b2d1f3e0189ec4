import TradeSyncModel

/// Writes a packed single-version key (``StoredState/single``) into a snapshot straight from
/// the replica's tables, without rebuilding its ``TradeKey`` and ``KeyState``.
///
/// The snapshot's tables are in first-use order (ReplicaSnapshot.swift), and the replica's
/// tables are in an order of their own, so each replica index is mapped to its snapshot
/// index the first time it is met, by interning its value into the same
/// ``SnapshotEncodingTables`` the general path uses; later keys read the map. Each table's
/// first uses therefore happen at the same keys, in the same order, as in the general path,
/// and the bytes are the same (a test compares the two encoders on random states).
///
/// Cost: a few array reads and varints per key, against ~1.6 µs per key for rebuilding the
/// key's strings and state and hashing seven strings into the interners.
struct PackedKeyWriter {
    /// Snapshot index + 1 of each replica index (0: not met yet), per replica table.
    private var reporters: [UInt32]
    private var partners: [UInt32]
    private var commodities: [UInt32]
    private var customs: [UInt32]
    private var transports: [UInt32]
    private var origins: [UInt32]
    private var units: [UInt32]
    private var flows: [UInt32]
    /// Indexed by `(year - 1900) * 13 + month` (``Period``'s range).
    private var periods: [UInt32]

    private static let flowCases: [Flow] = Array(Flow.allCases)
    private static let yearMin = 1900
    private static let periodSlots = (2199 - 1900 + 1) * 13

    init(_ tables: ReplicaTables) {
        let pairs = tables.codes.areaPairs.values.count
        let breakdowns = tables.codes.breakdowns.values.count
        reporters = [UInt32](repeating: 0, count: pairs)
        partners = [UInt32](repeating: 0, count: pairs)
        commodities = [UInt32](repeating: 0, count: tables.codes.commodities.values.count)
        customs = [UInt32](repeating: 0, count: breakdowns)
        transports = [UInt32](repeating: 0, count: breakdowns)
        origins = [UInt32](repeating: 0, count: tables.origins.values.count)
        units = [UInt32](repeating: 0, count: tables.units.values.count)
        flows = [UInt32](repeating: 0, count: Self.flowCases.count)
        periods = [UInt32](repeating: 0, count: Self.periodSlots)
    }

    /// Appends the key state of `key` holding only `version`, whose dot is its context,
    /// in the layout of ``SnapshotEncodingTables/write(_:_:into:)``.
    /// - Precondition: `key` and `version` come from the replica whose `tables` these are.
    mutating func write(
        _ key: PackedKey, _ version: PackedVersion, tables: ReplicaTables, coding: inout SnapshotEncodingTables,
        into writer: inout ByteWriter
    ) {
        let pair = Int(key.high >> 32)
        if reporters[pair] == 0 {
            let codes = tables.codes.areaPairs.values[pair]
            reporters[pair] = UInt32(coding.areas.index(codes.reporter.rawValue) + 1)
            partners[pair] = UInt32(coding.areas.index(codes.partner.rawValue) + 1)
        }
        writer.writeVarint(UInt64(reporters[pair] - 1))
        writer.writeVarint(UInt64(partners[pair] - 1))
        let flow = Int(key.low & 0xFF)
        if flows[flow] == 0 { flows[flow] = UInt32(coding.flows.index(Self.flowCases[flow].rawValue) + 1) }
        writer.writeVarint(UInt64(flows[flow] - 1))
        let commodity = Int(key.high & 0xFFFF_FFFF)
        if commodities[commodity] == 0 {
            commodities[commodity] = UInt32(coding.commodities.index(tables.codes.commodities.values[commodity].rawValue) + 1)
        }
        writer.writeVarint(UInt64(commodities[commodity] - 1))
        writer.writeVarint(UInt64(periodIndex(year: Int(key.low >> 16 & 0xFFFF), month: Int(key.low >> 8 & 0xFF), &coding)))
        let breakdown = Int(key.low >> 32)
        if customs[breakdown] == 0 {
            let codes = tables.codes.breakdowns.values[breakdown]
            customs[breakdown] = UInt32(coding.customs.index(codes.customs) + 1)
            transports[breakdown] = UInt32(coding.transports.index(codes.transport) + 1)
        }
        writer.writeVarint(UInt64(customs[breakdown] - 1))
        writer.writeVarint(UInt64(transports[breakdown] - 1))
        // The context is the version's dot: one component, then the one version.
        let origin = Int(version.origin)
        if origins[origin] == 0 { origins[origin] = UInt32(coding.origins.index(tables.origins.values[origin]) + 1) }
        let originIndex = UInt64(origins[origin] - 1)
        writer.writeVarint(1)
        writer.writeVarint(originIndex)
        writer.writeVarint(version.seq)
        writer.writeVarint(1)
        writer.writeVarint(originIndex)
        writer.writeVarint(version.seq)
        writer.writeU64(version.hlc)
        if version.isDelete {
            writer.writeU8(2)
            return
        }
        writer.writeU8(1)
        let meta = version.meta
        writer.writeU8(UInt8(truncatingIfNeeded: meta >> 12 & 7))
        // Value, weight, quantity: presence bits 12–14, scales in bits 0–3, 4–7, 8–11.
        if meta & 1 << 12 != 0 { Self.writeDecimal(version.mantissas.0, scale: meta, into: &writer) }
        if meta & 1 << 13 != 0 { Self.writeDecimal(version.mantissas.1, scale: meta >> 4, into: &writer) }
        if meta & 1 << 14 != 0 { Self.writeDecimal(version.mantissas.2, scale: meta >> 8, into: &writer) }
        let unit = Int(version.unit)
        if units[unit] == 0 { units[unit] = UInt32(coding.units.index(tables.units.values[unit]) + 1) }
        writer.writeVarint(UInt64(units[unit] - 1))
        writer.writeU8(UInt8(truncatingIfNeeded: meta >> 16))
    }

    /// ``ExactDecimal/encode(into:)`` of a stored (normalised) decimal: zig-zag mantissa, scale
    /// from the low 4 bits of `scale`.
    private static func writeDecimal(_ mantissa: Int64, scale: UInt32, into writer: inout ByteWriter) {
        writer.writeZigZag(mantissa)
        writer.writeU8(UInt8(truncatingIfNeeded: scale & 0xF))
    }

    /// The snapshot index of a packed key's period, interned on first use.
    private mutating func periodIndex(year: Int, month: Int, _ coding: inout SnapshotEncodingTables) -> UInt32 {
        let slot = (year - Self.yearMin) * 13 + month
        if periods[slot] == 0 {
            // Packed from a valid Period, so this cannot fail.
            guard let period = try? Period(year: year, month: month) else { preconditionFailure("packed period \(year) \(month)") }
            periods[slot] = UInt32(coding.periods.index(period) + 1)
        }
        return periods[slot] - 1
    }
}
