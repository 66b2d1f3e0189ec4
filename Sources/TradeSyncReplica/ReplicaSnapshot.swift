import Dispatch
import Synchronization
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// Snapshot of the materialised replica state, for a fast restart.
///
/// The log module stores these bytes as an opaque blob in its checkpoint file, which has its
/// own header, CRC-32C and log position; this codec covers only the replica state.
///
/// Layout, version 2. Integers are big-endian; `varint` is unsigned LEB128; `zigzag` is a
/// zig-zag varint; `str` is `varint length | UTF-8 bytes`; `idx(T)` is a varint index into table T.
///
/// ```
/// u8        format version (2; version 1 stored a sorted-order SHA-256 digest and is replayed instead)
/// 32 B      localID
/// varint O, O × 32 B             origin table: every distinct NodeID in the vector, contexts and dots
/// varint V, V × (idx(origin), varint seq ≥ 1)    vector, origin indices strictly ascending
/// u64       HLC clock: last timestamp issued or observed (raw 48-bit ms | 16-bit logical)
/// 4 × varint                     counts: records, keys, conflicts, tombstones
/// 32 B, 32 B                     the state and content digests' AdHash sums (``SetDigest/sumBytes``)
/// varint n, n × str              area codes (reporters, partners), canonical, ≤ 4 B
/// varint n, n × str              flow codes (M, X, RM, …)
/// varint n, n × str              commodity codes, canonical, ≤ 10 B
/// varint n, n × (u16 year, u8 month)   periods (month 0 = annual)
/// varint n, n × str              customs procedure codes, canonical (`all`, `C01`, …), ≤ 8 B
/// varint n, n × str              mode of transport codes, canonical (`all`, `1000`, …), ≤ 8 B
/// varint n, n × str              quantity units, ≤ 32 B
/// varint N, N × chunk            the keys, in chunks (16,384 keys each when written here)
///   varint K, varint L           K key states in the next L bytes (K ≤ L / 9), then:
///   7 × varint                   idx(area) reporter, idx(area) partner, idx(flow), idx(commodity),
///                                idx(period), idx(customs), idx(transport)
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
/// ``Replica/digest()``, which a decoded replica reproduces exactly. Chunks let a second
/// thread parse keys while the decoding thread fills the dictionary.
extension Replica {
    /// Snapshot format version written by ``encodeSnapshot()``.
    public static let snapshotFormatVersion: UInt8 = 2

    /// The whole materialised state as bytes (layout above).
    ///
    /// Pure and linear in the state's size; it hashes nothing: it stores the digests' sums,
    /// which the replica keeps current, so `status` is instant after a restart. Meant to run
    /// on a copy of the replica, off the actor.
    /// - Returns: about 46 bytes per single-version key with three values, plus small tables.
    public func encodeSnapshot() -> [UInt8] { encodeSnapshot(chunkKeys: 16_384) }

    /// ``encodeSnapshot()`` with `chunkKeys` keys per chunk (tests use small chunks).
    /// `packedPath` false writes every key through its rebuilt ``KeyState`` (the reference
    /// that tests compare ``PackedKeyWriter`` with).
    func encodeSnapshot(chunkKeys: Int, packedPath: Bool = true) -> [UInt8] {
        var coding = SnapshotEncodingTables()
        var packedWriter = PackedKeyWriter(tables)
        let chunkCapacity = 48 * min(keys.count, chunkKeys)
        var body = ByteWriter(capacity: 48 * keys.count + 64)
        var chunk = ByteWriter(capacity: chunkCapacity)
        var inChunk = 0
        func flush() {
            body.writeVarint(inChunk)
            body.writeLengthPrefixed(chunk.bytes)
            chunk = ByteWriter(capacity: chunkCapacity)
            inChunk = 0
        }
        body.writeVarint((keys.count + chunkKeys - 1) / chunkKeys)
        for (slot, packed) in keys.keys.enumerated() {
            if packedPath, case .single(let version) = states[slot] {
                packedWriter.write(packed, version, tables: tables, coding: &coding, into: &chunk)
            } else {
                coding.write(tables.codes.key(packed), states[slot].state(tables), into: &chunk)
            }
            inChunk += 1
            if inChunk == chunkKeys { flush() }
        }
        if inChunk > 0 { flush() }
        var head = ByteWriter(capacity: body.bytes.count + 256 + 32 * coding.origins.values.count)
        head.writeU8(Self.snapshotFormatVersion)
        localID.encode(into: &head)
        var vectorPart = ByteWriter(capacity: 16)
        coding.writeVector(vector, into: &vectorPart)  // interns the vector's origins before the table is written
        head.writeVarint(coding.origins.values.count)
        for origin in coding.origins.values { origin.encode(into: &head) }
        head.writeBytes(vectorPart.bytes)
        head.writeU64(clock.last.rawValue)
        for count in [counts.records, counts.keys, counts.conflicts, counts.tombstones] { head.writeVarint(count) }
        head.writeBytes(stateSet.sumBytes)
        head.writeBytes(contentSet.sumBytes)
        for table in [coding.areas, coding.flows, coding.commodities] { head.writeStrings(table.values) }
        head.writeVarint(coding.periods.values.count)
        for period in coding.periods.values {
            head.writeU16(period.year)
            head.writeU8(period.month)
        }
        for table in [coding.customs, coding.transports, coding.units] { head.writeStrings(table.values) }
        head.writeBytes(body.bytes)
        return head.bytes
    }

    /// The node a snapshot was taken on (its bytes 1..<33), for offline tools such as
    /// `tradesync verify` that hold a data directory but not the node's key.
    /// - Throws: ``DecodeError`` on a wrong format version or fewer than 33 bytes.
    public static func snapshotLocalID(_ bytes: [UInt8]) throws(DecodeError) -> NodeID {
        var reader = SnapshotReader(bytes: bytes, offset: 0, end: bytes.count)
        let version = try reader.u8()
        guard version == snapshotFormatVersion else {
            throw .badValue(offset: 0, field: "snapshot format version", reason: "\(version), expected \(snapshotFormatVersion)")
        }
        return try reader.nodeID()
    }

    /// Rebuilds a replica from ``encodeSnapshot()``'s bytes, checking every field and the
    /// state's consistency; the digests' sums are restored, not recomputed.
    ///
    /// With more than one chunk, one helper thread (from the global dispatch queue) parses
    /// chunks while the calling thread inserts them into the dictionary, which is most of the
    /// cost; the caller parses chunks itself when the helper has not claimed them, and never
    /// waits for the helper to start, so a busy queue only makes it slower. Linear time; parsed
    /// chunks waiting to be inserted hold at most one more copy of the keys. The result does
    /// not depend on which thread parsed what.
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
        var reader = SnapshotReader(bytes: bytes, offset: 0, end: bytes.count)
        let version = try reader.u8()
        guard version == snapshotFormatVersion else {
            throw .badValue(offset: 0, field: "snapshot format version", reason: "\(version), expected \(snapshotFormatVersion)")
        }
        let stored = try reader.nodeID()
        guard stored == localID else {
            throw .badValue(offset: 1, field: "snapshot localID", reason: "\(stored.hex) is not this node (\(localID.hex))")
        }
        var tables = SnapshotDecodingTables()
        tables.origins = try reader.table("origin table", minBytes: 32) { (r: inout SnapshotReader) throws(DecodeError) in try r.nodeID() }
        guard Set(tables.origins).count == tables.origins.count else {
            throw .badValue(offset: 33, field: "origin table", reason: "duplicate origin")
        }
        var vectorPairs: [(index: Int, seq: UInt64)] = []
        let vector = try reader.vector(origins: tables.origins, field: "vector", pairs: &vectorPairs)
        tables.vectorSeqs = [UInt64](repeating: 0, count: tables.origins.count)
        for pair in vectorPairs { tables.vectorSeqs[pair.index] = pair.seq }
        let clock = HybridLogicalClock(last: HLCTimestamp(rawValue: try reader.u64()))
        let countsAt = reader.offset
        let storedCounts = [try reader.varint(), try reader.varint(), try reader.varint(), try reader.varint()]
        let stateSet = SetDigest(sumBytes: try reader.raw(32))
        let contentSet = SetDigest(sumBytes: try reader.raw(32))
        try tables.readCodes(&reader)

        var chunks: [(keys: Int, range: Range<Int>)] = []
        var keyCount = 0
        for _ in 0..<(try reader.count("chunk count", minBytes: 2)) {
            let at = reader.offset
            let (keys, length) = (try reader.varint(), try reader.count("chunk length", minBytes: 1))
            guard keys <= UInt64(length / 9) else { throw .lengthTooLarge(offset: at, length: keys, lengthMax: length / 9) }
            chunks.append((Int(keys), reader.offset..<reader.offset + length))
            try reader.skip(length)
            keyCount += Int(keys)
        }
        try reader.expectEnd()

        let board = SnapshotBoard(bytes: bytes, tables: tables, chunks: chunks)
        defer { board.stop() }
        if chunks.count > 1 { DispatchQueue.global().async { board.work() } }
        guard keyCount < Int(UInt32.max) else {
            throw .lengthTooLarge(offset: 0, length: UInt64(keyCount), lengthMax: Int(UInt32.max) - 1)
        }
        // The snapshot's origin and unit tables are what the packed states index.
        var replicaTables = ReplicaTables(origins: Interner(values: tables.origins), units: Interner(values: tables.units))
        var keys = SlotTable<PackedKey>(minimumCapacity: keyCount)
        var states = ChunkedArray<StoredState>()
        states.reserveCapacity(keyCount)
        var counts = ReplicaCounts()
        var hlcMax = HLCTimestamp.zero
        for index in chunks.indices {
            var chunk = try board.result(index)
            // Move each state out of the chunk and into the state array: retaining and releasing
            // objects the helper thread made would cost a cache miss each.
            while let (offset, key, state) = chunk.entries.popLast() {
                guard keys.slot(of: replicaTables.codes.pack(key)).isNew else {
                    throw .badValue(offset: offset, field: "key", reason: "\(key) appears twice")
                }
                states.append(consume state)
            }
            counts.records += chunk.counts.records
            counts.keys += chunk.counts.keys
            counts.conflicts += chunk.counts.conflicts
            counts.tombstones += chunk.counts.tombstones
            hlcMax = max(hlcMax, chunk.hlcMax)
        }
        let computed = [counts.records, counts.keys, counts.conflicts, counts.tombstones].map { UInt64($0) }
        guard computed == storedCounts else {
            throw .badValue(offset: countsAt, field: "counts", reason: "stored \(storedCounts), keys give \(computed)")
        }
        guard hlcMax <= clock.last else {
            throw .badValue(offset: 0, field: "clock", reason: "\(clock.last) is below a version's HLC \(hlcMax)")
        }
        return Replica(
            localID: localID, vector: vector, counts: counts, keys: keys, states: states, tables: replicaTables, clock: clock,
            stateSet: stateSet, contentSet: contentSet)
    }
}

/// The chunks of one decode, parsed by whichever thread claims each first: the decoding
/// thread, or one helper. The decoding thread waits only for a chunk the helper has claimed
/// (and so is parsing), never for the helper to start.
private final class SnapshotBoard: Sendable {
    let bytes: [UInt8]
    let tables: SnapshotDecodingTables
    let chunks: [(keys: Int, range: Range<Int>)]
    private let next = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let results: Mutex<[Result<ParsedChunk, DecodeError>?]>
    private let published = DispatchSemaphore(value: 0)

    init(bytes: [UInt8], tables: SnapshotDecodingTables, chunks: [(keys: Int, range: Range<Int>)]) {
        (self.bytes, self.tables, self.chunks) = (bytes, tables, chunks)
        results = Mutex(Array(repeating: nil, count: chunks.count))
    }

    /// Claims and parses the next unclaimed chunk; false when none is left.
    func parseNext() -> Bool {
        guard !stopped.load(ordering: .relaxed) else { return false }
        let index = next.add(1, ordering: .relaxed).oldValue
        guard index < chunks.count else { return false }
        let result = Result { () throws(DecodeError) in try tables.parse(bytes, chunks[index].range, keyCount: chunks[index].keys) }
        results.withLock { $0[index] = result }
        if case .failure = result { stop() }  // every earlier chunk is claimed already; later ones are moot
        published.signal()
        return true
    }

    func work() { while parseNext() {} }
    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Chunk `index`, parsed: by the helper, or here (parsing later chunks while it waits).
    func result(_ index: Int) throws(DecodeError) -> ParsedChunk {
        while true {
            let result = results.withLock { all in
                defer { all[index] = nil }
                return all[index]
            }
            if let result { return try result.get() }
            if !parseNext() { published.wait() }
        }
    }
}

/// One chunk's key states with their offsets, and what they add to the counts and the clock check.
struct ParsedChunk: Sendable {
    var entries: [(offset: Int, key: TradeKey, state: StoredState)] = []
    var counts = ReplicaCounts()
    var hlcMax = HLCTimestamp.zero
}
