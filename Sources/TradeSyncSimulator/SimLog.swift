import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// A simulated disk under the ``LogStore`` contract, in memory, that can crash mid-append.
///
/// Layout (as the file log's, in miniature): records back to back in one byte buffer, each
/// `u32 big-endian payload length | u32 checksum (low half of FNV-1a 64 of the payload) |
/// payload` where the payload is ``Entry/encoded()``. Everything before ``verifiedEnd``
/// was checked when it was written or recovered.
///
/// Faults, only those the design survives (STYLE.md, "The simulator"): while ``isArmed``,
/// an append crashes with probability ``crashPerAppendProbability``. Then a random prefix of
/// the batch reaches the durable bytes (possibly all of it: the crash struck before the
/// fsync returned), possibly followed by a torn part of the next record, the append throws
/// ``LogError/io(file:operation:errno:)`` (so nothing was acknowledged), and the log refuses
/// every call until ``recover()``, which indexes the complete records after ``verifiedEnd``
/// and cuts the torn tail. Entries of one origin must be appended in seq order without
/// gaps, exactly as ``FileLog`` requires (``LogError/notContiguous(dot:expectedSeq:)``).
public final class SimLog: LogStore {
    /// Bytes of the record header: length and checksum.
    static let recordHeaderBytes = 8
    /// The name used in errors.
    public let file: String
    /// The random ID made when the log was created (HELLO carries it).
    public let instanceID: UInt64
    /// When true, appends may crash.
    public var isArmed = false
    /// Chance that one append crashes, in [0, 1].
    public var crashPerAppendProbability: Double
    /// Crashed appends so far, and the bytes cut as torn tails on recovery.
    public private(set) var crashes = 0
    public private(set) var tornBytesCut = 0
    /// True after a crash until ``recover()``.
    public private(set) var isCrashed = false

    private var random: SimRandom
    private var bytes: [UInt8] = []
    private var verifiedEnd = 0
    /// Start offset of each record, in append order.
    private var recordStarts: [Int] = []
    /// Per origin, the record index of seq 1, 2, ….
    private var recordsByOrigin: [NodeID: [Int]] = [:]
    public private(set) var vector = VersionVector()

    /// Creates an empty log. `random` drives its crash decisions.
    public init(file: String, instanceID: UInt64, random: SimRandom, crashPerAppendProbability: Double = 0) {
        self.file = file
        self.instanceID = instanceID
        self.random = random
        self.crashPerAppendProbability = crashPerAppendProbability
    }

    /// A copy of this disk as it is now (its bytes, index and crash state): a backup, or the
    /// data directory a clone starts from. The copy shares nothing with the original and
    /// draws its crash decisions from a copy of the original's random stream.
    public func copy() -> SimLog {
        let copy = SimLog(
            file: file, instanceID: instanceID, random: random, crashPerAppendProbability: crashPerAppendProbability)
        copy.isArmed = isArmed
        copy.crashes = crashes
        copy.tornBytesCut = tornBytesCut
        copy.isCrashed = isCrashed
        copy.bytes = bytes
        copy.verifiedEnd = verifiedEnd
        copy.recordStarts = recordStarts
        copy.recordsByOrigin = recordsByOrigin
        copy.vector = vector
        return copy
    }

    public var entryCount: Int { recordStarts.count }
    /// Bytes held, torn tail included.
    public var byteCount: Int { bytes.count }

    /// Appends durably, all or nothing, unless a crash strikes (see the type's summary).
    /// - Throws: ``LogError/notContiguous(dot:expectedSeq:)``, ``LogError/entryTooLarge(bytes:bytesMax:)``
    ///   (nothing written); ``LogError/closed(file:)`` after a crash; ``LogError/io(file:operation:errno:)``
    ///   when this append crashed.
    public func append(_ entries: [Entry]) throws(LogError) {
        guard !isCrashed else { throw .closed(file: file) }
        guard !entries.isEmpty else { return }
        var payloads: [[UInt8]] = []
        payloads.reserveCapacity(entries.count)
        var batchSeqs: [NodeID: UInt64] = [:]
        for entry in entries {
            let expected = (batchSeqs[entry.dot.origin] ?? vector[entry.dot.origin]) &+ 1
            guard entry.dot.seq == expected else { throw .notContiguous(dot: entry.dot, expectedSeq: expected) }
            let payload = entry.encoded()
            guard payload.count <= EntryLimits.entryBytesMax else {
                throw .entryTooLarge(bytes: payload.count, bytesMax: EntryLimits.entryBytesMax)
            }
            batchSeqs[entry.dot.origin] = expected
            payloads.append(payload)
        }
        if isArmed && random.chance(crashPerAppendProbability) {
            crash(writing: payloads)
            throw .io(file: file, operation: "crash during append", errno: 5)
        }
        for (entry, payload) in zip(entries, payloads) { writeRecord(payload, dot: entry.dot) }
        verifiedEnd = bytes.count
    }

    /// The crash: a random prefix of the records becomes durable (unindexed until recovery),
    /// then perhaps a torn piece of the next one.
    private func crash(writing payloads: [[UInt8]]) {
        let durable = random.int(0...payloads.count)
        for payload in payloads.prefix(durable) { bytes.append(contentsOf: Self.record(payload)) }
        if durable < payloads.count && random.chance(0.5) {
            let record = Self.record(payloads[durable])
            bytes.append(contentsOf: record.prefix(random.int(1...record.count - 1)))
        }
        crashes += 1
        isCrashed = true
    }

    /// Recovery after a crash, as on reopening a file: scans past ``verifiedEnd``, indexes
    /// every complete record and cuts the torn tail. Returns the bytes cut.
    /// - Precondition: the bytes before ``verifiedEnd`` are intact (the simulator never
    ///   corrupts them; mid-log corruption is a scenario of its own).
    @discardableResult
    public func recover() -> Int {
        var offset = verifiedEnd
        // Bounded: each turn consumes one record of at least 9 bytes.
        while let (payload, next) = Self.readRecord(bytes, at: offset), let entry = try? Entry.decode(payload),
            entry.dot.seq == vector[entry.dot.origin] + 1
        {
            indexRecord(at: offset, dot: entry.dot)
            offset = next
        }
        let cut = bytes.count - offset
        bytes.removeSubrange(offset..<bytes.count)
        verifiedEnd = offset
        tornBytesCut += cut
        isCrashed = false
        return cut
    }

    public func entries(origin: NodeID, after seq: UInt64, limit: Int) throws(LogError) -> [Entry] {
        guard !isCrashed else { throw .closed(file: file) }
        guard let records = recordsByOrigin[origin], seq < UInt64(records.count), limit > 0 else { return [] }
        let end = min(records.count, Int(seq) + limit)
        var result: [Entry] = []
        result.reserveCapacity(end - Int(seq))
        for index in Int(seq)..<end { result.append(try decodeRecord(records[index])) }
        return result
    }

    public func recent(limit: Int) throws(LogError) -> [Entry] {
        guard !isCrashed else { throw .closed(file: file) }
        var result: [Entry] = []
        for index in recordStarts.indices.suffix(max(0, limit)) { result.append(try decodeRecord(index)) }
        return result
    }

    public func replay(from first: Int, _ visit: (Entry) throws -> Void) throws {
        guard !isCrashed else { throw LogError.closed(file: file) }
        for index in recordStarts.indices where index >= first { try visit(try decodeRecord(index)) }
    }

    // The simulated disk makes every append durable before it returns (or crashes), so
    // written and durable are the same here; group commit is the daemon's concern.

    /// Same as ``vector``: every append is durable when it returns.
    public var durableVector: VersionVector { vector }
    /// Same as ``entryCount``.
    public var durableCount: Int { entryCount }
    /// The simulated disk keeps no checkpoint.
    public var checkpoint: LogCheckpoint? { nil }

    /// ``append(_:)``; returns the entry count after it.
    public func write(_ entries: [Entry]) throws(LogError) -> Int {
        try append(entries)
        return entryCount
    }

    /// Nothing to do: appends are durable when they return.
    public func sync() throws(LogError) {
        guard !isCrashed else { throw .closed(file: file) }
    }

    /// FNV-1a 64 of the stored encoding of `dot`, or nil when not held (for the oracle).
    public func payloadHash(of dot: Dot) -> UInt64? {
        guard let records = recordsByOrigin[dot.origin], dot.seq >= 1, dot.seq <= UInt64(records.count) else { return nil }
        guard let (payload, _) = Self.readRecord(bytes, at: recordStarts[records[Int(dot.seq) - 1]]) else { return nil }
        return TraceHasher.hash(payload)
    }

    // MARK: Records

    private func writeRecord(_ payload: [UInt8], dot: Dot) {
        let start = bytes.count
        bytes.append(contentsOf: Self.record(payload))
        indexRecord(at: start, dot: dot)
    }

    private func indexRecord(at start: Int, dot: Dot) {
        precondition(dot.seq == vector[dot.origin] + 1, "SimLog: index \(dot) out of order")
        recordsByOrigin[dot.origin, default: []].append(recordStarts.count)
        recordStarts.append(start)
        vector.add(dot)
    }

    private func decodeRecord(_ index: Int) throws(LogError) -> Entry {
        let start = recordStarts[index]
        guard let (payload, _) = Self.readRecord(bytes, at: start) else {
            throw .corrupt(file: file, offset: start, reason: "record does not verify")
        }
        do { return try Entry.decode(payload) } catch {
            throw .corrupt(file: file, offset: start, reason: error.description)
        }
    }

    static func record(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(recordHeaderBytes + payload.count)
        let length = UInt32(payload.count)
        let sum = UInt32(truncatingIfNeeded: TraceHasher.hash(payload))
        for shift in [24, 16, 8, 0] { out.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        for shift in [24, 16, 8, 0] { out.append(UInt8(truncatingIfNeeded: sum >> UInt32(shift))) }
        out.append(contentsOf: payload)
        return out
    }

    /// The payload at `start` and the offset after it, or nil when the record is
    /// incomplete or its checksum fails (a torn tail).
    static func readRecord(_ bytes: [UInt8], at start: Int) -> ([UInt8], Int)? {
        guard start + recordHeaderBytes <= bytes.count else { return nil }
        var length = 0
        var sum: UInt32 = 0
        for index in 0..<4 { length = length << 8 | Int(bytes[start + index]) }
        for index in 4..<8 { sum = sum << 8 | UInt32(bytes[start + index]) }
        let end = start + recordHeaderBytes + length
        guard length > 0, length <= EntryLimits.entryBytesMax, end <= bytes.count else { return nil }
        let payload = bytes[(start + recordHeaderBytes)..<end]
        guard UInt32(truncatingIfNeeded: TraceHasher.hash(payload)) == sum else { return nil }
        return (Array(payload), end)
    }
}
