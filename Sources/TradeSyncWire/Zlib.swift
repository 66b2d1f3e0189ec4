import CZlib

/// zlib-format (RFC 1950) deflate (RFC 1951) compression over the system zlib, with
/// optional preset dictionaries (RFC 1950 §2.2, FDICT/DICTID).
///
/// Inflate is bounded by a declared output length: it never offers zlib more than
/// `declaredBytes + 1` bytes of output, and it grows its output buffer in steps of at most
/// ``inflateChunkBytes``, so a stream that expands beyond its declaration (a zlib bomb)
/// is refused after at most that much work, and a stream that lies about its length costs
/// memory in proportion to what it actually produces, not to what it declares.
/// Source: RFC 1950, RFC 1951; `Protocol/PROTOCOL.md`, "BATCH" and "Preset dictionary".
public enum Zlib {
    /// The compression level senders use (zlib's default trade-off).
    public static let levelDefault: Int32 = 6
    /// zlib's `Z_DEFAULT_STRATEGY`.
    public static let strategyDefault: Int32 = 0
    /// zlib's `Z_FILTERED`: fewer short matches, more Huffman coding. Measured on columnar
    /// BATCH payloads of `gen_trade.py` data: about 3% smaller than the default strategy.
    public static let strategyFiltered: Int32 = 1

    /// The most output, in bytes, that inflate adds to its buffer (and offers zlib) in one
    /// step. 64 KiB keeps the number of steps for a full 1 MiB batch small (17) while a
    /// lying stream that stops early has cost at most one step beyond what it produced.
    public static let inflateChunkBytes = 64 * 1024

    /// Compresses `input` into one complete zlib stream (header, deflate blocks, Adler-32).
    ///
    /// With a `dictionary`, the stream is primed with its bytes: the zlib header has FDICT
    /// set and carries the dictionary's ``PresetDictionary/id`` as DICTID (4 bytes, big
    /// endian), so the stream is 4 bytes longer before any saving. Output is at most
    /// `deflateBound(input.count)` bytes; it can exceed the input for incompressible data,
    /// so callers compare sizes. Deterministic for one zlib build, level and dictionary.
    /// - Throws: ``WireError/zlib(reason:)`` when zlib cannot initialise, take the
    ///   dictionary, or finish.
    public static func deflate(_ input: [UInt8], level: Int32 = levelDefault, dictionary: PresetDictionary? = nil)
        throws(WireError) -> [UInt8]
    {
        try deflate(segments: [input], level: level, dictionary: dictionary)
    }

    /// Compresses the concatenation of `segments` into one complete zlib stream, ending a
    /// deflate block after each segment but the last (zlib `Z_BLOCK`), so each segment gets
    /// Huffman codes of its own: for a columnar payload, one block per column. The stream is
    /// an ordinary RFC 1950 stream; an inflater need not know where the segments were.
    /// `strategy` is zlib's: ``strategyDefault``, or ``strategyFiltered`` (which favours
    /// Huffman coding over short matches: better on columns of numbers).
    /// Deterministic for one zlib build, level, strategy, dictionary and segmentation.
    /// - Throws: ``WireError/zlib(reason:)`` when zlib cannot initialise, take the
    ///   dictionary, or finish.
    /// - Precondition: at least one segment (it may be empty).
    public static func deflate(
        segments: [[UInt8]], level: Int32 = levelDefault, strategy: Int32 = strategyDefault,
        dictionary: PresetDictionary? = nil
    ) throws(WireError) -> [UInt8] {
        precondition(!segments.isEmpty, "deflate of no segments")
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initStatus = deflateInit2_(
            stream, level, Z_DEFLATED, MAX_WBITS, 8, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw .zlib(reason: "deflateInit2_ returned \(initStatus)") }
        defer { deflateEnd(stream) }
        if let dictionary {
            let status = dictionary.bytes.withUnsafeBufferPointer { bytes in
                deflateSetDictionary(stream, bytes.baseAddress, uInt(bytes.count))
            }
            guard status == Z_OK else { throw .zlib(reason: "deflateSetDictionary returned \(status)") }
        }
        // After the dictionary: the bound then counts the 4 DICTID bytes. Each block end
        // costs at most a few bytes more (a block header and padding).
        let total = segments.reduce(0) { $0 + $1.count }
        let bound = Int(deflateBound(stream, uLong(total))) + 16 * segments.count
        var output = [UInt8](repeating: 0, count: max(bound, 1))
        for (number, segment) in segments.enumerated() {
            let flush = number == segments.count - 1 ? Z_FINISH : Z_BLOCK
            // zlib refuses a second flush without input in between (Z_BUF_ERROR).
            if segment.isEmpty && flush != Z_FINISH { continue }
            let (status, left) = segment.withUnsafeBufferPointer { sourceBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer in
                    let produced = Int(stream.pointee.total_out)
                    stream.pointee.next_in = sourceBuffer.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
                    stream.pointee.avail_in = uInt(sourceBuffer.count)
                    stream.pointee.next_out = outputBuffer.baseAddress.map { $0 + produced }
                    stream.pointee.avail_out = uInt(outputBuffer.count - produced)
                    return (CZlib.deflate(stream, flush), stream.pointee.avail_in)
                }
            }
            let expected = flush == Z_FINISH ? Z_STREAM_END : Z_OK
            guard status == expected, left == 0 else {
                throw .zlib(reason: "deflate returned \(status) with \(left) bytes left, full-size buffer")
            }
        }
        output.removeSubrange(Int(stream.pointee.total_out)...)
        return output
    }

    /// Inflates one complete zlib stream that must produce exactly `declaredBytes` bytes.
    ///
    /// The caller checks `declaredBytes` against its limit first (for batches,
    /// ``Limits/inflatedBytesMax``). Output grows in steps of at most
    /// ``inflateChunkBytes`` up to `declaredBytes + 1` bytes, so memory follows what the
    /// stream produces. A stream whose header has FDICT set names its dictionary by DICTID
    /// (zlib returns `Z_NEED_DICT` with the ID in `adler`); it is inflated with the one of
    /// `dictionaries` whose ``PresetDictionary/id`` matches, and refused when none does.
    /// Complexity: O(declaredBytes) time and memory.
    /// - Throws:
    ///   - ``WireError/inflatedBeyondDeclared(declaredBytes:producedBytes:)`` when more
    ///     output follows (inflate stopped after `declaredBytes + 1` bytes);
    ///   - ``WireError/inflatedLengthMismatch(declaredBytes:producedBytes:)`` when the stream ends short;
    ///   - ``WireError/zlibTruncated(consumedBytes:producedBytes:)`` when input ends mid-stream
    ///     (zlib `Z_BUF_ERROR` / no progress with all input consumed);
    ///   - ``WireError/zlibUnknownDictionary(dictionaryID:offeredIDs:)`` when the stream
    ///     needs a dictionary that is not among `dictionaries`;
    ///   - ``WireError/zlibCorrupt(reason:)`` on `Z_DATA_ERROR`;
    ///   - ``WireError/zlibTrailingBytes(count:)`` when input remains after the stream end;
    ///   - ``WireError/zlib(reason:)`` when zlib cannot initialise or runs out of memory.
    /// - Precondition: `declaredBytes >= 0`.
    public static func inflate(_ input: [UInt8], declaredBytes: Int, dictionaries: [PresetDictionary] = [])
        throws(WireError) -> [UInt8]
    {
        precondition(declaredBytes >= 0, "negative declared length")
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initStatus = inflateInit2_(stream, MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw .zlib(reason: "inflateInit2_ returned \(initStatus)") }
        defer { inflateEnd(stream) }
        // One byte more than declared: producing it proves the stream lies about its length.
        var output: [UInt8] = []
        let outcome = input.withUnsafeBufferPointer { source in
            stream.pointee.next_in = source.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
            stream.pointee.avail_in = uInt(source.count)
            return run(stream, output: &output, outputMax: declaredBytes + 1, dictionaries: dictionaries)
        }
        let produced = Int(stream.pointee.total_out)
        let consumed = Int(stream.pointee.total_in)
        let remainingInput = Int(stream.pointee.avail_in)
        switch outcome {
        case .status(let status):
            try check(status: status, stream: stream, produced: produced, consumed: consumed, declaredBytes: declaredBytes)
        case .unknownDictionary(let id):
            throw .zlibUnknownDictionary(dictionaryID: id, offeredIDs: dictionaries.map(\.id))
        }
        guard remainingInput == 0 else { throw .zlibTrailingBytes(count: remainingInput) }
        precondition(produced == declaredBytes && output.count >= produced, "inflate accounting")
        output.removeSubrange(produced...)
        return output
    }

    /// How one inflate run ended: zlib's last status, or a dictionary it asked for that
    /// none of the offered ones matches.
    private enum Outcome {
        case status(Int32)
        case unknownDictionary(UInt32)
    }

    /// Calls `inflate` until the stream ends, fails, runs out of input, or has produced
    /// `outputMax` bytes, growing `output` by at most ``inflateChunkBytes`` whenever zlib
    /// has filled it. Bounded: every pass that does not end the run either grows the buffer
    /// (at most `outputMax / inflateChunkBytes + 1` times) or sets the dictionary (once);
    /// a cap of that many passes plus 8 guards against a zlib that reports progress
    /// without making any.
    private static func run(
        _ stream: UnsafeMutablePointer<z_stream>, output: inout [UInt8], outputMax: Int, dictionaries: [PresetDictionary]
    ) -> Outcome {
        var status = Z_OK
        var dictionarySet = false
        for _ in 0..<(outputMax / inflateChunkBytes + 8) {
            let produced = Int(stream.pointee.total_out)
            if produced == output.count {
                // Full: the stream has produced outputMax bytes, one more than declared.
                if output.count >= outputMax { return .status(status) }
                grow(&output, to: min(outputMax, output.count + inflateChunkBytes), capacityMax: outputMax)
            }
            status = output.withUnsafeMutableBufferPointer { buffer in
                stream.pointee.next_out = buffer.baseAddress.map { $0 + produced }
                stream.pointee.avail_out = uInt(buffer.count - produced)
                return CZlib.inflate(stream, Z_NO_FLUSH)
            }
            switch status {
            case Z_NEED_DICT:
                // After the header, zlib leaves the stream's DICTID in `adler` (RFC 1950 §2.2).
                let id = UInt32(truncatingIfNeeded: stream.pointee.adler)
                guard !dictionarySet, let dictionary = dictionaries.first(where: { $0.id == id }) else {
                    return .unknownDictionary(id)
                }
                status = dictionary.bytes.withUnsafeBufferPointer { bytes in
                    inflateSetDictionary(stream, bytes.baseAddress, uInt(bytes.count))
                }
                guard status == Z_OK else { return .status(status) }
                dictionarySet = true
            case Z_OK where stream.pointee.avail_out == 0:
                continue  // out of room: grow, or stop at outputMax
            default:
                return .status(status)  // ended, failed, or out of input (Z_OK / Z_BUF_ERROR)
            }
        }
        return .status(status)
    }

    /// Extends `output` with zeros to `count` bytes. Capacity grows geometrically (so the
    /// copies stay O(n) in total) but never beyond `capacityMax`.
    private static func grow(_ output: inout [UInt8], to count: Int, capacityMax: Int) {
        if output.capacity < count {
            output.reserveCapacity(min(capacityMax, max(count, output.capacity * 2)))
        }
        output.append(contentsOf: repeatElement(0, count: count - output.count))
    }

    private static func check(
        status: Int32, stream: UnsafeMutablePointer<z_stream>, produced: Int, consumed: Int, declaredBytes: Int
    ) throws(WireError) {
        switch status {
        case Z_STREAM_END:
            guard produced <= declaredBytes else {
                throw .inflatedBeyondDeclared(declaredBytes: declaredBytes, producedBytes: produced)
            }
            guard produced == declaredBytes else {
                throw .inflatedLengthMismatch(declaredBytes: declaredBytes, producedBytes: produced)
            }
        case Z_OK, Z_BUF_ERROR:
            if produced > declaredBytes {
                throw .inflatedBeyondDeclared(declaredBytes: declaredBytes, producedBytes: produced)
            }
            if stream.pointee.avail_in == 0 { throw .zlibTruncated(consumedBytes: consumed, producedBytes: produced) }
            throw .zlib(reason: "inflate made no progress (status \(status))")
        case Z_DATA_ERROR:
            throw .zlibCorrupt(reason: message(stream) ?? "invalid data")
        case Z_MEM_ERROR:
            throw .zlib(reason: "out of memory")
        default:
            throw .zlib(reason: "inflate returned \(status)" + (message(stream).map { ": \($0)" } ?? ""))
        }
    }

    private static func message(_ stream: UnsafeMutablePointer<z_stream>) -> String? {
        guard let text = stream.pointee.msg else { return nil }
        return String(cString: text)
    }

    /// The Adler-32 checksum of `bytes` (RFC 1950 §8.2), as zlib computes it; for a
    /// dictionary, its DICTID.
    public static func adler32(_ bytes: [UInt8]) -> UInt32 {
        let initial = CZlib.adler32(0, nil, 0)
        let sum = bytes.withUnsafeBufferPointer { buffer in
            CZlib.adler32(initial, buffer.baseAddress, uInt(buffer.count))
        }
        return UInt32(truncatingIfNeeded: sum)
    }
}
