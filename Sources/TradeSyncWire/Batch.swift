import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// The number of a BATCH within one direction of one session: 1, 2, 3, … without gaps.
public struct BatchID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number, from 1.
    public let rawValue: UInt64

    /// Wraps a batch number. Decoders refuse 0 from the wire.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Batch order: lower numbers were sent first.
    public static func < (lhs: BatchID, rhs: BatchID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `batch N`.
    public var description: String { "batch \(rawValue)" }
}

/// BATCH (0x03) as it travels:
/// `batchID varint | entryCount varint | flags u8 | uncompressedLength varint |
/// [signatureCount varint | signatureCount × (entryIndex varint | publicKey 32 | signature 64)] | payload`.
///
/// The signature section is there when flag bit 1 is set (protocol v2 sends it in every
/// batch): each signature is its origin's over the chain head at the entry numbered
/// `entryIndex` (0-based, strictly ascending); see PROTOCOL.md "Signed entries".
/// Flag bit 2 (protocol v3) means the payload is columnar (``ColumnarPayload``); otherwise
/// the uncompressed payload is each entry as `varint length | Entry canonical encoding`;
/// entries of one origin appear in ascending, contiguous seq order. Flag bit 0 means the
/// payload is one zlib stream (RFC 1950/1951) that inflates to exactly
/// `uncompressedLength` bytes, with the preset dictionary its zlib header names, if any
/// (``dictionaryID``). Kept in wire form so it re-encodes byte for byte; entries come out
/// of ``decodeEntries(dictionaries:)``. Source: `Protocol/PROTOCOL.md`, "BATCH".
public struct BatchMessage: Equatable, Sendable {
    /// Flag bit 0: the payload is deflated. Other bits are reserved and must be 0.
    public static let flagDeflated: UInt8 = 0x01
    /// Flag bit 1: a signature section precedes the payload.
    public static let flagSigned: UInt8 = 0x02
    /// Flag bit 2 (protocol v3): the payload is columnar (``ColumnarPayload``), not rows.
    public static let flagColumnar: UInt8 = 0x04

    /// The batch's number in its direction of the session.
    public let id: BatchID
    /// The number of entries in the payload, 1...``Limits/batchEntriesMax``.
    public let entryCount: Int
    /// True when the payload is deflated.
    public let isDeflated: Bool
    /// The payload's length before compression, in bytes.
    public let uncompressedLength: Int
    /// The payload as sent (deflated or not).
    public let payload: [UInt8]
    /// Origins' signatures by entry number in the batch (0-based), ascending; empty
    /// without a signature section.
    public let signatures: [(index: Int, signature: ChainSignature)]
    /// True when the batch has a signature section (flag bit 1).
    public let isSigned: Bool
    /// True when the payload is columnar (flag bit 2, protocol v3), false for rows.
    public let isColumnar: Bool

    public static func == (lhs: BatchMessage, rhs: BatchMessage) -> Bool {
        lhs.id == rhs.id && lhs.entryCount == rhs.entryCount && lhs.isDeflated == rhs.isDeflated
            && lhs.uncompressedLength == rhs.uncompressedLength && lhs.payload == rhs.payload
            && lhs.isSigned == rhs.isSigned && lhs.isColumnar == rhs.isColumnar && lhs.signatures.elementsEqual(rhs.signatures, by: { $0 == $1 })
    }

    /// Wraps already-encoded parts without checking them (for tools and tests that build
    /// hostile batches). Peers' batches go through ``Message/decode(_:)`` instead.
    public init(
        id: BatchID, entryCount: Int, isDeflated: Bool, uncompressedLength: Int, payload: [UInt8],
        signatures: [(index: Int, signature: ChainSignature)]? = nil, isColumnar: Bool = false
    ) {
        self.isColumnar = isColumnar
        self.id = id
        self.entryCount = entryCount
        self.isDeflated = isDeflated
        self.uncompressedLength = uncompressedLength
        self.payload = payload
        self.isSigned = signatures != nil
        self.signatures = signatures ?? []
    }

    /// Builds a signed batch (flag bit 1): as ``init(id:entries:columnar:payloadBytesMax:dictionary:)``,
    /// with each entry's signature, if it has one, in the signature section.
    public init(
        id: BatchID, signed: [SignedEntry], columnar: Bool = false, payloadBytesMax: Int = Limits.batchBytesMax,
        dictionary: PresetDictionary? = nil
    ) {
        let plain = BatchMessage(
            id: id, entries: signed.map(\.entry), columnar: columnar, payloadBytesMax: payloadBytesMax,
            dictionary: dictionary)
        var signatures: [(index: Int, signature: ChainSignature)] = []
        for (index, item) in signed.enumerated() {
            if let signature = item.signature { signatures.append((index, signature)) }
        }
        self.init(
            id: id, entryCount: plain.entryCount, isDeflated: plain.isDeflated,
            uncompressedLength: plain.uncompressedLength, payload: plain.payload, signatures: signatures,
            isColumnar: columnar)
    }

    /// Builds a batch, deflating the payload when it is long enough and deflating makes it
    /// smaller.
    ///
    /// Without a dictionary (the default), "long enough" is ``Limits/deflateThresholdBytes``
    /// and the stream has no preset dictionary: the bytes are exactly those of protocol v1
    /// before dictionaries. With one, the payload is deflated with it (FDICT set, its
    /// ``PresetDictionary/id`` as DICTID) from its ``PresetDictionary/deflateThresholdBytes``
    /// on; pass a dictionary only when the peer announced it in HELLO.
    ///
    /// `columnar` (protocol v3 only) sends the payload column by column (flag bit 2,
    /// ``ColumnarPayload``), deflated with ``Zlib/strategyFiltered`` and a block per column,
    /// without the dictionary (which applies to rows only).
    /// Source: `Protocol/PROTOCOL.md`, "BATCH", "Columnar payload (v3)" and "Preset dictionary".
    /// - Preconditions: 1...``Limits/batchEntriesMax`` entries; each entry's encoding at
    ///   most ``EntryLimits/entryBytesMax`` bytes; the row payload at most `payloadBytesMax`
    ///   (default ``Limits/batchBytesMax``); per origin, seqs ascending and contiguous.
    public init(
        id: BatchID, entries: [Entry], columnar: Bool = false, payloadBytesMax: Int = Limits.batchBytesMax,
        dictionary: PresetDictionary? = nil
    ) {
        precondition(!entries.isEmpty && entries.count <= Limits.batchEntriesMax, "batch of \(entries.count) entries")
        precondition(Self.firstOrderViolation(entries) == nil, "batch entries out of per-origin seq order")
        if columnar {
            self.init(id: id, columnar: entries)
            return
        }
        var writer = ByteWriter(capacity: entries.count * 128)
        for entry in entries {
            let encoded = entry.encoded()
            precondition(encoded.count <= EntryLimits.entryBytesMax, "entry \(entry.dot) encodes to \(encoded.count) bytes")
            writer.writeLengthPrefixed(encoded)
        }
        let plain = writer.bytes
        precondition(plain.count <= payloadBytesMax, "batch payload \(plain.count) above \(payloadBytesMax) bytes")
        var payload = plain
        var deflated = false
        let threshold = dictionary?.deflateThresholdBytes ?? Limits.deflateThresholdBytes
        if plain.count >= threshold, let packed = try? Zlib.deflate(plain, dictionary: dictionary),
            packed.count < plain.count
        {
            payload = packed
            deflated = true
        }
        self.init(id: id, entryCount: entries.count, isDeflated: deflated, uncompressedLength: plain.count, payload: payload)
    }

    /// A columnar batch (flag bit 2): the payload of ``ColumnarPayload/segments(_:)``,
    /// deflated when that pays, as for rows, but never with a preset dictionary: the
    /// dictionaries hold fragments of row encodings, and on 100-entry live batches of
    /// `gen_trade.py` data `trade-1` saved 5 of 1,800 bytes while loading it into the
    /// deflater cost about 90 µs, a fifth of the batch's encoding time
    /// (`tradesync-pipeline-bench --live 100`). The receiver inflates either form.
    private init(id: BatchID, columnar entries: [Entry]) {
        let segments = ColumnarPayload.segments(entries)
        let plain = Array(segments.joined())
        // A columnar payload is at most a few bytes per entry above the row payload (which
        // the sender keeps within batchBytesMax), far below what a receiver inflates.
        precondition(plain.count <= Limits.inflatedBytesMax, "columnar payload \(plain.count) bytes")
        var payload = plain
        var deflated = false
        if plain.count >= Limits.deflateThresholdBytes,
            let packed = try? Zlib.deflate(
                segments: segments, level: Self.columnarLevel, strategy: Zlib.strategyFiltered, dictionary: nil),
            packed.count < plain.count
        {
            payload = packed
            deflated = true
        }
        self.init(
            id: id, entryCount: entries.count, isDeflated: deflated, uncompressedLength: plain.count, payload: payload,
            isColumnar: true)
    }

    /// The deflate level of columnar payloads. Measured on `gen_trade.py` data (4096-entry
    /// batches, `Z_FILTERED`, a block per column; `tradesync-pipeline-bench`, 199,388
    /// entries): level 9 saves 0.1% over 6; level 4 makes 0.3% more bytes than 6 (11.55
    /// against 11.51 B/entry) in 14% less time (0.96 against 1.12 µs/entry for the whole
    /// encode); level 2 makes 5% more (12.14) for 0.82 µs.
    static let columnarLevel: Int32 = 4

    /// The bytes an entry adds to an uncompressed payload: its varint length prefix plus
    /// its canonical encoding. Senders sum this against ``Limits/batchBytesMax``.
    public static func payloadBytes(of entry: Entry) -> Int {
        let count = entry.encodedCount
        return varintBytes(UInt64(count)) + count
    }

    /// The number of bytes of the unsigned LEB128 varint for `value` (1...10).
    public static func varintBytes(_ value: UInt64) -> Int {
        var bytes = 1
        var remaining = value >> 7
        while remaining > 0 {
            bytes += 1
            remaining >>= 7
        }
        return bytes
    }

    func encode(into writer: inout ByteWriter) {
        writer.writeVarint(id.rawValue)
        writer.writeVarint(UInt64(entryCount))
        writer.writeU8(
            (isDeflated ? Self.flagDeflated : 0) | (isSigned ? Self.flagSigned : 0) | (isColumnar ? Self.flagColumnar : 0))
        writer.writeVarint(UInt64(uncompressedLength))
        if isSigned {
            writer.writeVarint(UInt64(signatures.count))
            for (index, signature) in signatures {
                writer.writeVarint(UInt64(index))
                writer.writeBytes(signature.publicKey)
                writer.writeBytes(signature.signature)
            }
        }
        writer.writeBytes(payload)
    }

    /// Decodes and checks a BATCH body up to its payload, without inflating.
    /// - Throws: ``WireError/batchTooManyEntries(declaredEntries:entriesMax:)``,
    ///   ``WireError/inflatedTooLarge(declaredBytes:bytesMax:)`` (before any inflating), or
    ///   ``WireError/malformed(messageType:reason:)`` (batch ID 0, no entries, reserved flag
    ///   bits, an uncompressed payload whose length differs from the declaration).
    static func decode(_ body: [UInt8]) throws(WireError) -> BatchMessage {
        var reader = ByteReader(body)
        let header: (id: UInt64, count: UInt64, flags: UInt8, length: UInt64)
        do throws(DecodeError) {
            header = (try reader.readVarint(), try reader.readVarint(), try reader.readU8(), try reader.readVarint())
        } catch {
            throw error.wire(.batch)
        }
        func malformed(_ reason: String) -> WireError { .malformed(messageType: MessageType.batch.rawValue, reason: reason) }
        guard header.id >= 1 else { throw malformed("batchID 0; batch IDs start at 1") }
        guard header.count >= 1 else { throw malformed("entryCount 0; a batch carries at least one entry") }
        guard header.count <= UInt64(Limits.batchEntriesMax) else {
            throw .batchTooManyEntries(declaredEntries: header.count, entriesMax: Limits.batchEntriesMax)
        }
        guard header.flags & ~(Self.flagDeflated | Self.flagSigned | Self.flagColumnar) == 0 else {
            throw malformed("reserved flag bits \(header.flags)")
        }
        guard header.length <= UInt64(Limits.inflatedBytesMax) else {
            throw .inflatedTooLarge(declaredBytes: header.length, bytesMax: Limits.inflatedBytesMax)
        }
        let signed = header.flags & Self.flagSigned != 0
        let signatures = signed ? try decodeSignatures(&reader, entryCount: Int(header.count)) : nil
        let payload = Array(body[reader.offset...])
        let deflated = header.flags & Self.flagDeflated != 0
        if !deflated && UInt64(payload.count) != header.length {
            throw malformed("uncompressed payload has \(payload.count) bytes, declared \(header.length)")
        }
        return BatchMessage(
            id: BatchID(rawValue: header.id), entryCount: Int(header.count), isDeflated: deflated,
            uncompressedLength: Int(header.length), payload: payload, signatures: signatures,
            isColumnar: header.flags & Self.flagColumnar != 0)
    }

    /// Reads the signature section: a count of 0...entryCount, then entry numbers strictly
    /// ascending below `entryCount`, each with a 32-byte key and a 64-byte signature.
    /// - Throws: ``WireError/malformed(messageType:reason:)`` naming the signature.
    private static func decodeSignatures(_ reader: inout ByteReader, entryCount: Int) throws(WireError)
        -> [(index: Int, signature: ChainSignature)]
    {
        var signatures: [(index: Int, signature: ChainSignature)] = []
        do throws(DecodeError) {
            let start = reader.offset
            let count = try reader.readVarint()
            guard count <= UInt64(entryCount) else {
                throw .badValue(offset: start, field: "signatureCount", reason: "\(count) above entryCount \(entryCount)")
            }
            for number in 0..<Int(count) {
                let at = reader.offset
                let index = try reader.readVarint()
                guard index < UInt64(entryCount), signatures.last.map({ UInt64($0.index) < index }) ?? true else {
                    throw .badValue(
                        offset: at, field: "signature \(number + 1) entry index",
                        reason: "\(index) not ascending or not below entryCount \(entryCount)")
                }
                let key = try reader.readBytes(ChainSignature.publicKeyBytes)
                let signature = try reader.readBytes(ChainSignature.signatureBytes)
                signatures.append((Int(index), ChainSignature(publicKey: key, signature: signature)))
            }
        } catch {
            throw error.wire(.batch, context: "signature section")
        }
        return signatures
    }

    /// ``decodeEntries(dictionaries:)`` with each entry's signature from the signature
    /// section. - Throws: as that does.
    public func decodeSignedEntries(dictionaries: [PresetDictionary] = []) throws(WireError) -> [SignedEntry] {
        let entries = try decodeEntries(dictionaries: dictionaries)
        var byIndex: [Int: ChainSignature] = [:]
        for (index, signature) in signatures { byIndex[index] = signature }
        return entries.enumerated().map { SignedEntry($1, signature: byIndex[$0]) }
    }

    /// The DICTID of the preset dictionary the deflated payload asks for: the 4 bytes after
    /// the zlib header when its FDICT bit (0x20 of the second byte) is set (RFC 1950 §2.2).
    /// Nil when the payload is not deflated, names no dictionary, or is too short to say.
    public var dictionaryID: UInt32? {
        guard isDeflated, payload.count >= 6, payload[1] & 0x20 != 0 else { return nil }
        return payload[2...5].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The uncompressed payload: inflated (bounded by ``uncompressedLength``) when deflated.
    /// - Parameter dictionaries: the preset dictionaries this receiver announced in HELLO;
    ///   a stream may use one of them and no other. Default: none.
    /// - Throws: the inflate errors of ``Zlib/inflate(_:declaredBytes:dictionaries:)``
    ///   (``WireError/zlibUnknownDictionary(dictionaryID:offeredIDs:)`` for a dictionary
    ///   not in `dictionaries`), and ``WireError/inflatedTooLarge(declaredBytes:bytesMax:)``
    ///   for a hand-built batch declaring more than ``Limits/inflatedBytesMax``.
    public func uncompressedPayload(dictionaries: [PresetDictionary] = []) throws(WireError) -> [UInt8] {
        guard uncompressedLength <= Limits.inflatedBytesMax else {
            throw .inflatedTooLarge(declaredBytes: UInt64(uncompressedLength), bytesMax: Limits.inflatedBytesMax)
        }
        guard isDeflated else { return payload }
        return try Zlib.inflate(payload, declaredBytes: uncompressedLength, dictionaries: dictionaries)
    }

    /// Inflates (if needed) and decodes exactly ``entryCount`` entries.
    /// - Parameter dictionaries: as for ``uncompressedPayload(dictionaries:)``.
    /// - Throws: the errors of ``uncompressedPayload(dictionaries:)``;
    ///   ``WireError/limitExceeded(limit:value:context:)`` for an entry longer than
    ///   ``EntryLimits/entryBytesMax`` or a field above its limit;
    ///   ``WireError/malformed(messageType:reason:)`` for a malformed entry, an entry whose
    ///   bytes are not its canonical encoding, fewer or more entries than declared, or one
    ///   origin's seqs not ascending and contiguous.
    public func decodeEntries(dictionaries: [PresetDictionary] = []) throws(WireError) -> [Entry] {
        let bytes = try uncompressedPayload(dictionaries: dictionaries)
        if isColumnar { return try decodeColumnar(bytes) }
        var reader = ByteReader(bytes)
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        do throws(DecodeError) {
            for _ in 0..<entryCount {
                let start = reader.offset
                let raw = try reader.readLengthPrefixed(limit: EntryLimits.entryBytes)
                let entry = try Entry.decode(raw)
                // Canonical (PROTOCOL.md "Conventions"): decoding normalises some fields (trims
                // and upper-cases codes, reads "C00" as "all"), so compare the bytes as well.
                guard entry.encoded() == raw else {
                    throw .badValue(offset: start, field: "entry", reason: "not canonical: it re-encodes to other bytes")
                }
                entries.append(entry)
            }
            try reader.expectEnd()
        } catch {
            throw error.wire(.batch, context: "entry \(entries.count + 1) of \(entryCount)")
        }
        if let violation = Self.firstOrderViolation(entries) {
            throw .malformed(messageType: MessageType.batch.rawValue, reason: violation)
        }
        return entries
    }

    /// The entries of an uncompressed columnar payload, in order.
    /// - Throws: ``WireError/malformed(messageType:reason:)`` or
    ///   ``WireError/limitExceeded(limit:value:context:)`` naming the column and offset.
    private func decodeColumnar(_ bytes: [UInt8]) throws(WireError) -> [Entry] {
        guard entryCount >= 1 && entryCount <= Limits.batchEntriesMax else {
            throw .batchTooManyEntries(declaredEntries: UInt64(entryCount), entriesMax: Limits.batchEntriesMax)
        }
        let entries: [Entry]
        do throws(DecodeError) {
            entries = try ColumnarPayload.decode(bytes, entryCount: entryCount)
        } catch {
            throw error.wire(.batch, context: "columnar payload")
        }
        if let violation = Self.firstOrderViolation(entries) {
            throw .malformed(messageType: MessageType.batch.rawValue, reason: violation)
        }
        return entries
    }

    /// Describes the first entry whose seq does not follow its origin's previous entry in
    /// the batch by exactly 1; nil when every origin's run is ascending and contiguous.
    /// One dictionary lookup per run of one origin's entries, not per entry: a batch is
    /// mostly one long run.
    static func firstOrderViolation(_ entries: [Entry]) -> String? {
        var last: [NodeID: UInt64] = [:]  // origins of runs before the current one
        var run: Dot?  // the current run's origin and last seq
        for (index, entry) in entries.enumerated() {
            let dot = entry.dot
            let previous: UInt64?
            if let current = run, current.origin == dot.origin {
                previous = current.seq
            } else {
                if let current = run { last[current.origin] = current.seq }
                previous = last[dot.origin]
            }
            if let previous, dot.seq != previous &+ 1 {
                return "entry \(index + 1) (\(dot)) does not follow seq \(previous) of its origin"
            }
            run = dot
        }
        return nil
    }
}
