import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

// How the replica keeps a key's state in memory. Most keys hold one version whose dot is
// their whole context (one write, or writes that each saw the previous one); those are
// packed inline into 56 bytes with the origin and the quantity unit interned replica-wide.
// Every other key keeps its full ``KeyState`` in a shared, immutable box.

/// First-use interning: value → UInt32 index, and the values in index order. Grows only.
///
/// Size: one array slot plus one dictionary slot per distinct value. Lookup O(1).
struct Interner<Value: Hashable & Sendable>: Sendable {
    private(set) var values: [Value] = []
    private var indices: [Value: UInt32] = [:]

    init() {}

    /// An interner holding `values` at their positions (a decoded snapshot's table); a
    /// repeated value keeps its first index for later lookups.
    init(values: [Value]) {
        self.values = values
        indices.reserveCapacity(values.count)
        for (index, value) in values.enumerated() where indices[value] == nil { indices[value] = UInt32(index) }
    }

    /// The value's index, added at the end when new.
    /// - Precondition: fewer than 2^32 distinct values (each comes from a stored version,
    ///   so memory runs out long before).
    mutating func index(_ value: Value) -> UInt32 {
        if let index = indices[value] { return index }
        precondition(values.count < Int(UInt32.max), "interner full")
        let index = UInt32(values.count)
        indices[value] = index
        values.append(value)
        return index
    }

    /// ``index(_:)`` for values that come in runs (the origin of a batch's entries, the
    /// breakdown or the unit most records share): the last value found this way is
    /// compared before the table is hashed.
    mutating func indexRepeating(_ value: Value) -> UInt32 {
        if let recent, recent.value == value { return recent.index }
        let found = index(value)
        recent = (value, found)
        return found
    }

    /// The last value ``indexRepeating(_:)`` returned the index of.
    private var recent: (value: Value, index: UInt32)?

    /// The value's index, or nil when it was never added.
    func lookup(_ value: Value) -> UInt32? { indices[value] }

    subscript(index: UInt32) -> Value { values[Int(index)] }
}

/// A value that packs into 64 bits one-to-one: equal words if and only if equal values.
protocol Word64Packable: Sendable {
    var word: UInt64 { get }
}

/// ``Interner`` for values with a one-to-one 64-bit ``Word64Packable/word`` (area pairs,
/// commodity codes): the word, not the value, is what the index table hashes and compares
/// (a ``SlotTable``, no SipHash over strings). Grows only.
struct WordInterner<Value: Word64Packable>: Sendable {
    private(set) var values: [Value] = []
    private var table = SlotTable<UInt64>()

    /// The value's index, added at the end when new.
    /// - Precondition: fewer than 2^32 − 1 distinct values.
    mutating func index(_ value: Value) -> UInt32 {
        let (index, isNew) = table.slot(of: value.word)
        if isNew { values.append(value) }
        return index
    }

    /// The value's index, or nil when it was never added.
    func lookup(_ value: Value) -> UInt32? { table[value.word] }

    subscript(index: UInt32) -> Value { values[Int(index)] }
}

/// The replica-wide tables that packed versions refer to by index.
struct ReplicaTables: Sendable {
    /// Every origin named by a packed version's dot.
    var origins = Interner<NodeID>()
    /// Every quantity unit of a packed put.
    var units = Interner<String>()
    /// The codes that packed keys index.
    var codes = KeyCodes()
}

/// One version packed into 52 bytes (stride 56): dot (origin index, seq), HLC and the
/// operation, with the three decimals' mantissas inline and their scales, presence bits,
/// delete bit and flags in one word.
///
/// `meta` bits: 0–3, 4–7, 8–11 the scales of value, weight and quantity; 12–14 presence of
/// each; 15 delete; 16–23 flags.
struct PackedVersion: Sendable {
    var seq: UInt64
    var hlc: UInt64
    var mantissas: (Int64, Int64, Int64)
    var origin: UInt32
    var unit: UInt32
    var meta: UInt32

    /// Packs `version`, interning its origin and unit into `tables`.
    init(_ version: Version, tables: inout ReplicaTables) {
        let unit = version.operation.values.map { tables.units.indexRepeating($0.quantityUnit) } ?? 0
        self.init(
            origin: tables.origins.indexRepeating(version.dot.origin), seq: version.dot.seq, hlc: version.hlc.rawValue,
            operation: version.operation, unit: unit)
    }

    /// Packs already-interned parts (the snapshot decoder, whose tables become the replica's).
    /// `unit` is ignored for a delete.
    init(origin: UInt32, seq: UInt64, hlc: UInt64, operation: Operation, unit: UInt32) {
        self.seq = seq
        self.hlc = hlc
        self.origin = origin
        guard case .put(let values) = operation else {
            (mantissas, self.unit, meta) = ((0, 0, 0), 0, 1 << 15)
            return
        }
        var meta = UInt32(values.flags.rawValue) << 16
        if let value = values.valueUSD { meta |= UInt32(value.scale) | 1 << 12 }
        if let weight = values.netWeightKg { meta |= UInt32(weight.scale) << 4 | 1 << 13 }
        if let quantity = values.quantity { meta |= UInt32(quantity.scale) << 8 | 1 << 14 }
        mantissas = (values.valueUSD?.mantissa ?? 0, values.netWeightKg?.mantissa ?? 0, values.quantity?.mantissa ?? 0)
        self.unit = unit
        self.meta = meta
    }

    /// True for a tombstone.
    var isDelete: Bool { meta & 1 << 15 != 0 }

    /// The operation, rebuilt with the unit from `tables`.
    func operation(_ tables: ReplicaTables) -> Operation {
        if isDelete { return .delete }
        func decimal(_ index: UInt32, _ mantissa: Int64) -> ExactDecimal? {
            guard meta & 1 << (12 + index) != 0 else { return nil }
            return ExactDecimal(normalizingMantissa: mantissa, scale: UInt8(truncatingIfNeeded: meta >> (4 * index) & 0xF))
        }
        return .put(
            TradeValues(
                valueUSD: decimal(0, mantissas.0), netWeightKg: decimal(1, mantissas.1), quantity: decimal(2, mantissas.2),
                quantityUnit: tables.units[unit], flags: RecordFlags(rawValue: UInt8(truncatingIfNeeded: meta >> 16))))
    }

    /// The version, rebuilt with the origin and unit from `tables`.
    func version(_ tables: ReplicaTables) -> Version {
        Version(dot: Dot(origin: tables.origins[origin], seq: seq), hlc: HLCTimestamp(rawValue: hlc), operation: operation(tables))
    }
}

/// A key's state as the replica stores it: 56 bytes inline for the common shape, a shared
/// box otherwise. Immutable; a change stores a new value.
enum StoredState: Sendable {
    /// One version, and the context is exactly its dot (``KeyState/explicitContext`` nil).
    case single(PackedVersion)
    /// Any other state: several versions, a context beyond the versions' dots, or none.
    case general(KeyStateBox)

    /// Stores `state`: packed when it has the single shape, boxed otherwise.
    init(_ state: KeyState, tables: inout ReplicaTables) {
        if state.explicitContext == nil, state.versions.count == 1 {
            self = .single(PackedVersion(state.versions[0], tables: &tables))
        } else {
            self = .general(KeyStateBox(state))
        }
    }

    /// The full state (one small array allocation for a packed key).
    func state(_ tables: ReplicaTables) -> KeyState {
        switch self {
        case .single(let packed): KeyState(derivedFrom: [packed.version(tables)])
        case .general(let box): box.state
        }
    }

    /// The winner's operation, if any version survives, without expanding a packed key.
    func winnerOperation(_ tables: ReplicaTables) -> Operation? {
        switch self {
        case .single(let packed): packed.operation(tables)
        case .general(let box): box.state.winner?.operation
        }
    }

    /// The number of siblings (distinct operations among the surviving versions).
    var siblingCount: Int {
        switch self {
        case .single: 1
        case .general(let box): box.state.siblingCount
        }
    }
}

/// An immutable, shared ``KeyState`` (for the keys that do not pack).
final class KeyStateBox: Sendable {
    let state: KeyState
    init(_ state: KeyState) { self.state = state }
}
