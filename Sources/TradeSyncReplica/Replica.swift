import Crypto
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// Why an entry cannot be applied.
public enum ReplicaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The entry's seq skips ahead of what this replica holds for its origin.
    case gap(dot: Dot, expectedSeq: UInt64)

    public var description: String {
        switch self {
        case .gap(let dot, let expected):
            "entry \(dot) skips ahead: the next seq held for origin \(dot.origin.short) would be \(expected)"
        }
    }
}

/// What applying one entry did.
public enum ApplyOutcome: Equatable, Sendable {
    /// The entry is now a version of its key (or collapsed into an equal sibling).
    case applied
    /// The dot was already held; nothing changed.
    case duplicate
    /// The entry was new but already superseded by an entry applied earlier (it arrived
    /// after a write that had seen it); it advanced the vector only.
    case obsolete
}

/// Counts over the materialised state.
public struct ReplicaCounts: Equatable, Sendable, Codable {
    /// Keys whose winner is a put.
    public var records = 0
    /// Keys with any surviving version (tombstoned keys included).
    public var keys = 0
    /// Keys with more than one sibling.
    public var conflicts = 0
    /// Keys whose winner is a tombstone.
    public var tombstones = 0

    public init(records: Int = 0, keys: Int = 0, conflicts: Int = 0, tombstones: Int = 0) {
        self.records = records
        self.keys = keys
        self.conflicts = conflicts
        self.tombstones = tombstones
    }
}

/// The pure replicated state of one node: key → siblings, the node's version vector and
/// its hybrid logical clock. No I/O, no clock of its own (time is passed in), so the
/// daemon and the deterministic simulation run the same code.
///
/// Semantics (docs/ARCHITECTURE.md, "Terms"): every entry has a dot; an entry supersedes
/// exactly the versions its causal context covers; versions not superseded are siblings;
/// equal values collapse; the winner is the highest HLC, then the highest origin ID;
/// a delete is a tombstone sibling. Source: dotted version vectors (Almeida, Baquero,
/// Gonçalves, Preguiça, Fonte, DAIS 2014), as used by Riak 2.0.
///
/// Entries of one origin must be applied in seq order without gaps; entries of different
/// origins may arrive in any order.
public struct Replica: Sendable {
    /// This node's ID: the origin of the entries it authors.
    public let localID: NodeID
    /// Origin → highest contiguous seq applied.
    public private(set) var vector = VersionVector()
    /// Counts kept up to date on every apply.
    public private(set) var counts = ReplicaCounts()
    // Readable within the module (ReplicaSnapshot.swift encodes them); only this file mutates them.
    /// Packed key → its slot in `states` (PackedKey.swift, SlotTable.swift); `tables` holds
    /// what packed keys and packed states index. Slots are dense and never freed: a key, once
    /// written, stays, so `keys.count == states.count`.
    private(set) var keys = SlotTable<PackedKey>()
    /// Each key's state (StoredState.swift), by slot. Chunked (``ChunkedArray``), as are the
    /// key table's arrays: a checkpoint holds a copy of the replica while the node writes on,
    /// and a write then copies the chunks it touches, not the whole state.
    private(set) var states = ChunkedArray<StoredState>()
    private(set) var tables = ReplicaTables()
    private(set) var clock = HybridLogicalClock()
    /// Sum of every key's state element (``stateElement(_:_:)``): the state digest, kept current.
    private(set) var stateSet = SetDigest()
    /// Sum of every live record's content element (``contentElement(_:_:)``).
    private(set) var contentSet = SetDigest()
    // Set and read by Replica+Export.swift; this file only clears it when a key appears.
    /// Every key in key order (16 B each), kept while an export pages through the state
    /// (see ``livePage(after:limit:)``); cleared when a new key appears.
    var exportOrder: [PackedKey]?

    public init(localID: NodeID) {
        self.localID = localID
    }

    /// Restores a replica from parts already checked for consistency (``decodeSnapshot(_:localID:)``).
    init(
        localID: NodeID, vector: VersionVector, counts: ReplicaCounts, keys: SlotTable<PackedKey>,
        states: ChunkedArray<StoredState>, tables: ReplicaTables, clock: HybridLogicalClock, stateSet: SetDigest,
        contentSet: SetDigest
    ) {
        self.tables = tables
        self.localID = localID
        self.vector = vector
        self.counts = counts
        self.keys = keys
        self.states = states
        self.clock = clock
        self.stateSet = stateSet
        self.contentSet = contentSet
    }

    // MARK: Writes

    /// Applies an entry authored anywhere (locally, or received from a peer).
    /// - Returns: ``ApplyOutcome``; a dot already held is a harmless duplicate.
    /// - Throws: ``ReplicaError/gap(dot:expectedSeq:)`` when the seq skips ahead.
    @discardableResult
    public mutating func apply(_ entry: Entry) throws(ReplicaError) -> ApplyOutcome {
        try apply(entry, packed: nil)
    }

    /// ``apply(_:)`` for each entry in order, stopping at the first that throws (those before
    /// it stay applied). The same outcome as one at a time, faster for large runs: each run
    /// of ``probeRun`` entries has its keys packed, then their key-table buckets read in one
    /// tight loop (``SlotTable/probe(_:)``), so the cache misses of a large table overlap.
    /// Packing interns the codes of the whole run first, also those of entries that turn out
    /// to be duplicates or lie past a gap: a code no key uses is never written to a snapshot
    /// and costs only its place in the table.
    /// - Throws: ``ReplicaError/gap(dot:expectedSeq:)`` as ``apply(_:)``.
    public mutating func apply(contentsOf entries: [Entry]) throws(ReplicaError) {
        var packed: [PackedKey] = []
        var probes: [SlotTable<PackedKey>.Probe] = []
        packed.reserveCapacity(Self.probeRun)
        probes.reserveCapacity(Self.probeRun)
        var start = entries.startIndex
        while start < entries.endIndex {
            let run = start..<min(start + Self.probeRun, entries.endIndex)
            packed.removeAll(keepingCapacity: true)
            probes.removeAll(keepingCapacity: true)
            for entry in entries[run] { packed.append(tables.codes.pack(entry.key)) }
            for key in packed { probes.append(keys.probe(key)) }
            for (offset, entry) in entries[run].enumerated() {
                _ = try apply(entry, packed: (packed[offset], probes[offset]))
            }
            start = run.upperBound
        }
    }

    /// Entries per probe run of ``apply(contentsOf:)``: enough loads to keep the CPU's
    /// miss handling busy, few enough that their lines stay in L1/L2 until used.
    static let probeRun = 64

    /// ``apply(_:)`` with the entry's key packed and probed already, or nil to do it here.
    private mutating func apply(_ entry: Entry, packed probed: (PackedKey, SlotTable<PackedKey>.Probe)?)
        throws(ReplicaError) -> ApplyOutcome
    {
        let held = vector.advanceIfNext(entry.dot)
        if entry.dot.seq <= held { return .duplicate }
        guard entry.dot.seq == held + 1 else { throw .gap(dot: entry.dot, expectedSeq: held + 1) }
        clock.observe(entry.hlc)
        let (slot, isNew) =
            if let (packed, probe) = probed {
                keys.slot(of: packed, probe: probe)
            } else {
                keys.slot(of: tables.codes.pack(entry.key))
            }
        assert(!isNew || Int(slot) == states.count, "key slots and states out of step")
        if isNew {
            exportOrder = nil
            // Most entries of an import or a catch-up make a key that names no earlier
            // version: packed at once, as what KeyState.apply makes of it (one version).
            if entry.context.isEmpty {
                applyFirstVersion(entry)
                return .applied
            }
        }
        let existing = isNew ? nil : states[Int(slot)].state(tables)
        var state = existing ?? KeyState()
        let before = Self.contribution(of: existing)
        if let existing { forget(entry.key, existing) }
        let survived = state.apply(entry)
        let stored = StoredState(state, tables: &tables)
        if isNew {
            appendState(stored)
        } else {
            states[Int(slot)] = stored
        }
        // Most keys end with the entry as their only version: its elements are hashed from
        // its canonical bytes as they lie, with nothing encoded again.
        if state.versions.count != 1 || state.versions[0].dot != entry.dot || !rememberOnly(entry) {
            remember(entry.key, state)
        }
        let after = Self.contribution(of: state)
        counts.records += after.records - before.records
        counts.keys += after.keys - before.keys
        counts.conflicts += after.conflicts - before.conflicts
        counts.tombstones += after.tombstones - before.tombstones
        return survived ? .applied : .obsolete
    }

    /// A new key's first entry, whose context is empty: its state is the entry as its only
    /// version with the context derived from it (``KeyState/apply(_:)`` on an empty state
    /// gives that), so it is packed without building the state, its digest elements are
    /// hashed from the entry's bytes, and it adds one key and one record or tombstone.
    /// - Precondition: the key's slot was just taken, for `states.count`.
    private mutating func applyFirstVersion(_ entry: Entry) {
        let version = Version(dot: entry.dot, hlc: entry.hlc, operation: entry.operation)
        appendState(.single(PackedVersion(version, tables: &tables)))
        if !rememberOnly(entry) { remember(entry.key, KeyState(derivedFrom: [version])) }
        counts.keys += 1
        if entry.operation.isDelete { counts.tombstones += 1 } else { counts.records += 1 }
    }

    private mutating func appendState(_ stored: StoredState) {
        states.append(stored)  // chunk by chunk: at most one chunk of spare slots
    }

    /// Makes room for up to `more` new keys at once, so a large import or catch-up
    /// grows the key table once rather than doubling it repeatedly.
    public mutating func reserveKeys(_ more: Int) {
        guard more > 1024 else { return }
        let needed = keys.count + more
        keys.reserveCapacity(needed)
        states.reserveCapacity(needed)
    }

    /// Authors entries for local writes without applying them: the caller persists them
    /// (fsync), then applies them in order with ``apply(_:)``.
    ///
    /// Dots are `vector[localID] + 1, + 2, …`; each entry's context is the key's current
    /// context (covering every sibling, so a write after a conflict resolves it), plus the
    /// dots of earlier writes to the same key in this batch. HLC timestamps come from
    /// `nowMs` (Unix milliseconds) through the hybrid logical clock.
    /// - Precondition: nothing authored earlier is still unapplied.
    /// - Parameter contexts: each write's key's current context, when the caller looked the
    ///   keys up already (``ReplicaNode/stageImport(_:nowMs:deferApply:recordsDecoded:)`` does,
    ///   to leave out what is held): one lookup per key, not two. Nil: looked up here.
    /// - Parameter operationsDecoded: every write's key and operation came from a decoder
    ///   (`TradeKey.decode`, `TradeValues.decode`: a control frame's records), so an entry of
    ///   them decodes again once its context is within ``EntryLimits/contextOriginsMax`` (checked
    ///   here): it is made ``Entry/wasDecoded``, and the log does not decode it before writing.
    public mutating func prepare(
        _ writes: [(key: TradeKey, operation: Operation)], nowMs: UInt64, contexts: [VersionVector]? = nil,
        operationsDecoded: Bool = false
    ) -> [Entry] {
        precondition(contexts.map { $0.count == writes.count } ?? true, "one context per write")
        var seq = vector[localID]
        // Each key's latest entry in this batch, by position: a later write to the key takes
        // that entry's context plus its dot. Positions, not vectors, so that a key written
        // once (almost every key of an import) costs no vector built for nothing.
        var latest: [TradeKey: Int] = Dictionary(minimumCapacity: writes.count)
        var entries: [Entry] = []
        entries.reserveCapacity(writes.count)
        for (index, write) in writes.enumerated() {
            seq += 1
            let dot = Dot(origin: localID, seq: seq)
            let context: VersionVector
            let earlier = Self.swap(&latest[write.key, default: -1], with: entries.count)
            if earlier >= 0 {
                var merged = entries[earlier].context
                merged.add(entries[earlier].dot)
                context = merged
            } else if let contexts {
                context = contexts[index]
            } else {
                context = stored(write.key)?.state(tables).context ?? VersionVector()
            }
            let hlc = clock.tick(nowMs: nowMs)
            if operationsDecoded && context.counters.count <= EntryLimits.contextOriginsMax {
                entries.append(Entry(checkedDot: dot, hlc: hlc, context: context, key: write.key, operation: write.operation))
            } else {
                entries.append(Entry(dot: dot, hlc: hlc, context: context, key: write.key, operation: write.operation))
            }
        }
        return entries
    }

    /// Stores `new` and returns what was there (one hash of a dictionary's key, through
    /// its defaulting subscript).
    private static func swap(_ value: inout Int, with new: Int) -> Int {
        let old = value
        value = new
        return old
    }

    // MARK: Reads

    /// The key's siblings, winner first; nil when the key was never written.
    public func read(_ key: TradeKey) -> KeyView? {
        guard let state = stored(key)?.state(tables), !state.versions.isEmpty else { return nil }
        return KeyView(key: key, siblings: state.siblings, context: state.context)
    }

    /// The state of `key`, if it was ever written (one lookup of its packed key).
    func state(of key: TradeKey) -> KeyState? { stored(key)?.state(tables) }

    /// ``state(of:)`` of each key, in order: looked up a run of ``probeRun`` at a time, the
    /// codes first, then the key-table buckets in one tight loop (as ``apply(contentsOf:)``),
    /// so that the misses of a large table overlap.
    func states(of keys: [TradeKey]) -> [KeyState?] {
        var result: [KeyState?] = []
        result.reserveCapacity(keys.count)
        var packed: [PackedKey?] = []
        var probes: [SlotTable<PackedKey>.Probe?] = []
        var start = keys.startIndex
        while start < keys.endIndex {
            let run = start..<min(start + Self.probeRun, keys.endIndex)
            packed.removeAll(keepingCapacity: true)
            probes.removeAll(keepingCapacity: true)
            for key in keys[run] { packed.append(tables.codes.lookup(key)) }
            for key in packed { probes.append(key.map { self.keys.probe($0) }) }
            for (key, probe) in zip(packed, probes) {
                guard let key, let probe, let slot = self.keys[key, probe: probe] else {
                    result.append(nil)
                    continue
                }
                result.append(states[Int(slot)].state(tables))
            }
            start = run.upperBound
        }
        return result
    }

    /// The stored state of `key`, if it was ever written.
    func stored(_ key: TradeKey) -> StoredState? {
        guard let packed = tables.codes.lookup(key), let slot = keys[packed] else { return nil }
        return states[Int(slot)]
    }

    /// Keys with more than one sibling, in key order.
    public func conflicts(limit: Int = .max) -> [KeyView] {
        var result: [KeyView] = []
        for packed in tables.codes.sorted(keys.keys) where result.count < limit {
            guard let slot = keys[packed], states[Int(slot)].siblingCount > 1 else { continue }
            if let view = read(tables.codes.key(packed)), view.isConflict { result.append(view) }
        }
        return result
    }

    /// Keys matching `filter`, in key order, at most `limit`.
    public func query(_ filter: KeyFilter, limit: Int = .max) -> [KeyView] {
        var result: [KeyView] = []
        for key in sortedKeys where result.count < limit && filter.matches(key) {
            if let view = read(key), filter.includeDeleted || !view.isDeleted { result.append(view) }
        }
        return result
    }

    /// Every key in key order (for export and tests).
    public var sortedKeys: [TradeKey] { tables.codes.sorted(keys.keys).map(tables.codes.key) }

    // MARK: Digest

    /// The state digest: equal on replicas that hold the same entries. An AdHash
    /// (``SetDigest``) over one element per key with a surviving version, finalised with
    /// domain `TSSTATE1` and the number of such keys (``ReplicaCounts/keys``).
    ///
    /// Element per key (``stateElement(_:_:)``): key | varint sibling count | per sibling
    /// (as ``KeyView/siblings`` lists them, by first dot): varint dot count,
    /// (origin 32B, seq varint)…, hlc u64, operation. Kept current on every apply: O(1).
    public func digest() -> [UInt8] { stateSet.finalize(domain: "TSSTATE1", count: counts.keys) }

    /// One key's element of the state digest; nil when no version of it survives.
    static func stateElement(_ key: TradeKey, _ state: KeyState) -> [UInt8]? {
        guard !state.versions.isEmpty else { return nil }
        var writer = ByteWriter(capacity: 160)
        key.encode(into: &writer)
        if state.versions.count == 1 {  // most keys: one sibling of one dot, without building siblings
            let version = state.versions[0]
            writer.writeVarint(1)
            writer.writeVarint(1)
            version.dot.origin.encode(into: &writer)
            writer.writeVarint(version.dot.seq)
            writer.writeU64(version.hlc.rawValue)
            version.operation.encode(into: &writer)
            return writer.bytes
        }
        let siblings = state.siblings.sorted { $0.dots[0] < $1.dots[0] }
        writer.writeVarint(UInt64(siblings.count))
        for sibling in siblings {
            writer.writeVarint(UInt64(sibling.dots.count))
            for dot in sibling.dots {
                dot.origin.encode(into: &writer)
                writer.writeVarint(dot.seq)
            }
            writer.writeU64(sibling.hlc.rawValue)
            sibling.operation.encode(into: &writer)
        }
        return writer.bytes
    }

    /// One key's element of the content digest (``ContentDigester/element(_:)``); nil
    /// unless its winner is a put.
    static func contentElement(_ key: TradeKey, _ state: KeyState) -> [UInt8]? {
        guard let values = state.winner?.operation.values else { return nil }
        return ContentDigester.element(TradeRecord(key: key, values: values))
    }

    /// Both digests recomputed from every key, ignoring the running sums: O(n) hashes.
    /// `tradesync verify` and the tests compare it with ``digest()`` and ``contentDigest()``.
    public func digestsFromScratch() -> (state: [UInt8], content: [UInt8]) {
        var state = SetDigest()
        var content = SetDigest()
        for (slot, packed) in keys.keys.enumerated() {
            let key = tables.codes.key(packed)
            let keyState = states[slot].state(tables)
            if let element = Self.stateElement(key, keyState) { state.insert(element) }
            if let element = Self.contentElement(key, keyState) { content.insert(element) }
        }
        return (state.finalize(domain: "TSSTATE1", count: counts.keys),
                content.finalize(domain: "TSCONTENT1", count: counts.records))
    }

    /// Takes `state`'s elements (about to change) out of both digests.
    private mutating func forget(_ key: TradeKey, _ state: KeyState) {
        if let element = Self.stateElement(key, state) { stateSet.remove(element) }
        if let element = Self.contentElement(key, state) { contentSet.remove(element) }
    }

    /// Puts `state`'s elements into both digests.
    private mutating func remember(_ key: TradeKey, _ state: KeyState) {
        if let element = Self.stateElement(key, state) { stateSet.insert(element) }
        if let element = Self.contentElement(key, state) { contentSet.insert(element) }
    }

    /// ``remember(_:_:)`` for a key whose only version is `entry`: the same elements as
    /// ``stateElement(_:_:)`` (`key | 1 | 1 | origin | seq | hlc | operation`) and
    /// ``contentElement(_:_:)`` (`key | values`, for a put), hashed from the parts of the
    /// entry's canonical encoding, which lays out the same fields with the same encodings.
    /// - Returns: false (nothing done) for an encoding beyond `entryBytesMax`.
    private mutating func rememberOnly(_ entry: Entry) -> Bool {
        let isPut = !entry.operation.isDelete
        let done: Void? = entry.withParts { dotAndHLC, key, operation in
            Self.oneVersionHeader.withUnsafeBytes { header in
                stateSet.insert(key, header, dotAndHLC, operation)
            }
            // A put's operation is its tag byte, then the values' encoding.
            if isPut { contentSet.insert(key, UnsafeRawBufferPointer(rebasing: operation.dropFirst())) }
        }
        return done != nil
    }

    /// A state element's sibling count and the sibling's dot count, both 1, as varints.
    private static let oneVersionHeader: [UInt8] = [1, 1]

    static func contribution(of state: KeyState?) -> ReplicaCounts {
        guard let state, let winner = state.winner else { return ReplicaCounts() }
        var counts = ReplicaCounts()
        counts.keys = 1
        if winner.operation.isDelete { counts.tombstones = 1 } else { counts.records = 1 }
        if state.versions.count > 1 && state.siblingCount > 1 { counts.conflicts = 1 }
        return counts
    }
}
