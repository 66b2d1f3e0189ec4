import TradeSyncModel

/// A version vector: origin → highest contiguous sequence number held (0 when absent).
///
/// As a node's vector it says exactly which entries the node has; as an entry's causal
/// context (restricted to one key) it says which versions of that key the author had
/// seen, and so which versions the entry supersedes (dotted version vectors: Almeida,
/// Baquero, Gonçalves, Preguiça, Fonte, "Scalable and Accurate Causality Tracking for
/// Eventually Consistent Stores", DAIS 2014).
///
/// Zero components are never stored, so equal vectors compare and encode equal.
/// Iteration via ``sorted`` is in origin order; never rely on dictionary order.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    /// Non-zero components only.
    public private(set) var counters: [NodeID: UInt64]

    public init() { counters = [:] }

    public init(_ counters: [NodeID: UInt64]) {
        self.counters = counters.filter { $0.value > 0 }
    }

    /// The highest contiguous seq held for `origin` (0 when none).
    public subscript(origin: NodeID) -> UInt64 {
        counters[origin] ?? 0
    }

    /// True when the dot is at or below this vector's counter for its origin.
    public func covers(_ dot: Dot) -> Bool { self[dot.origin] >= dot.seq }

    /// True when every component of `self` is ≤ the same component of `other`.
    public func isDominated(by other: VersionVector) -> Bool {
        counters.allSatisfy { other[$0.key] >= $0.value }
    }

    /// Raises `origin`'s counter to at least `seq`.
    public mutating func advance(_ origin: NodeID, to seq: UInt64) {
        guard seq > 0 else { return }  // zero components are never stored
        // One hash of the 32-byte origin, not two (a read, then a write): this runs per applied entry.
        Self.raise(&counters[origin, default: 0], to: seq)
    }

    private static func raise(_ counter: inout UInt64, to seq: UInt64) {
        if seq > counter { counter = seq }
    }

    /// Raises the dot's origin's counter to `dot.seq` when that is the next seq (the counter
    /// is `dot.seq - 1`), with one hash of the 32-byte origin: this runs per applied entry.
    /// - Returns: the counter before the call (`dot.seq - 1` when it advanced; at or above
    ///   `dot.seq` for a dot already covered; below `dot.seq - 1` for a gap, left as is).
    public mutating func advanceIfNext(_ dot: Dot) -> UInt64 {
        let held = Self.step(&counters[dot.origin, default: 0], to: dot.seq)
        // The defaulting subscript stored a zero for an origin not held; zero components
        // are never stored (a gap at a new origin: rare, and its caller refuses it).
        if held == 0 && dot.seq != 1 { counters[dot.origin] = nil }
        return held
    }

    private static func step(_ counter: inout UInt64, to seq: UInt64) -> UInt64 {
        let held = counter
        if seq == held &+ 1 { counter = seq }
        return held
    }

    /// Lowers `origin`'s counter to at most `seq` (0 removes it). Used by a session that
    /// must send an origin's entries again from `seq + 1` (heads that differ: a fork).
    public mutating func lower(_ origin: NodeID, to seq: UInt64) {
        guard seq < self[origin] else { return }
        counters[origin] = seq == 0 ? nil : seq
    }

    /// Raises the counter for the dot's origin to the dot's seq (if higher).
    public mutating func add(_ dot: Dot) { advance(dot.origin, to: dot.seq) }

    /// Raises each origin's counter to the highest seq among `dots`: the same vector as
    /// ``add(_:)`` of each in turn, with one dictionary access per run of consecutive dots
    /// of one origin (a batch's entries are mostly one such run) instead of one per dot.
    public mutating func add(contentsOf dots: some Sequence<Dot>) {
        var run: Dot?  // the current run's origin and highest seq
        for dot in dots {
            if let current = run, current.origin == dot.origin {
                if dot.seq > current.seq { run = dot }
            } else {
                if let current = run { add(current) }
                run = dot
            }
        }
        if let run { add(run) }
    }

    /// Pointwise maximum with `other`.
    public mutating func merge(_ other: VersionVector) {
        for (origin, seq) in other.counters { advance(origin, to: seq) }
    }

    /// The pointwise maximum of `self` and `other`.
    public func merged(_ other: VersionVector) -> VersionVector {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// The number of entries `self` holds that `other` lacks: Σ max(0, self[o] − other[o]),
    /// saturating at `UInt64.max` (a peer's vector is only its claim, and two huge counters
    /// must not overflow the sum).
    public func entriesAhead(of other: VersionVector) -> UInt64 {
        counters.reduce(0) { sum, component in
            let ahead = component.value > other[component.key] ? component.value - other[component.key] : 0
            let (total, overflow) = sum.addingReportingOverflow(ahead)
            return overflow ? UInt64.max : total
        }
    }

    /// Sum of all counters: the number of entries a node's vector names.
    public var total: UInt64 { counters.values.reduce(0, +) }

    /// The components in origin order.
    public var sorted: [(origin: NodeID, seq: UInt64)] {
        counters.sorted { $0.key < $1.key }.map { (origin: $0.key, seq: $0.value) }
    }

    public var isEmpty: Bool { counters.isEmpty }

    public var description: String {
        "{" + sorted.map { "\($0.origin.short):\($0.seq)" }.joined(separator: ", ") + "}"
    }

    /// Appends the canonical encoding: varint count, then (32-byte origin, varint seq)
    /// in origin order.
    public func encode(into writer: inout ByteWriter) {
        writer.writeVarint(UInt64(counters.count))
        for (origin, seq) in sorted {
            origin.encode(into: &writer)
            writer.writeVarint(seq)
        }
    }

    /// Reads a vector written by ``encode(into:)``.
    /// - Throws: ``DecodeError`` on truncation, more than `originsMax` components, a
    ///   zero counter, or origins out of order (the encoding would not be canonical).
    public static func decode(from reader: inout ByteReader, originsMax: Int) throws(DecodeError) -> VersionVector {
        try decode(from: &reader, originsMax: originsMax, limit: nil)
    }

    /// Reads a vector of at most `originsLimit.value` components; a larger count throws
    /// ``DecodeError/limitExceeded(offset:limit:value:)`` naming the limit. Otherwise as
    /// ``decode(from:originsMax:)``.
    public static func decode(from reader: inout ByteReader, originsLimit: NamedLimit) throws(DecodeError) -> VersionVector {
        try decode(from: &reader, originsMax: originsLimit.value, limit: originsLimit)
    }

    private static func decode(
        from reader: inout ByteReader, originsMax: Int, limit: NamedLimit?
    ) throws(DecodeError) -> VersionVector {
        let start = reader.offset
        let count = try reader.readVarint()
        guard count <= UInt64(originsMax) else {
            if let limit { throw .limitExceeded(offset: start, limit: limit, value: count) }
            throw .lengthTooLarge(offset: start, length: count, lengthMax: originsMax)
        }
        // Most contexts are empty (a key's first write: every entry of an import). Reserving
        // room for none still allocated a dictionary's storage, after a runtime lookup of its
        // generic metadata: 3 % of a node's CPU while it serves a catch-up from its log.
        if count == 0 { return VersionVector() }
        var counters: [NodeID: UInt64] = [:]
        counters.reserveCapacity(Int(count))
        var previous: NodeID?
        for _ in 0..<count {
            let at = reader.offset
            let origin = try NodeID.decode(from: &reader)
            let seq = try reader.readVarint()
            if let previous, !(previous < origin) {
                throw .badValue(offset: at, field: "version vector", reason: "origins not in ascending order")
            }
            guard seq > 0 else { throw .badValue(offset: at, field: "version vector", reason: "zero counter") }
            counters[origin] = seq
            previous = origin
        }
        return VersionVector(counters)
    }
}
