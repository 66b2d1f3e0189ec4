import CZlib

/// zlib-format (RFC 1950) deflate (RFC 1951) compression over the system zlib.
///
/// Inflate is bounded by a declared output length: it never offers zlib more than
/// `declaredBytes + 1` bytes of output, so a stream that expands beyond its declaration
/// (a zlib bomb) is refused after at most that much work and memory.
/// Source: RFC 1950, RFC 1951; `Protocol/PROTOCOL.md`, "BATCH".
public enum Zlib {
    /// The compression level senders use (zlib's default trade-off).
    public static let levelDefault: Int32 = 6

    /// Compresses `input` into one complete zlib stream (header, deflate blocks, Adler-32).
    ///
    /// Output is at most `deflateBound(input.count)` bytes; it can exceed the input for
    /// incompressible data, so callers compare sizes. Deterministic for one zlib build.
    /// - Throws: ``WireError/zlib(reason:)`` when zlib cannot initialise or finish.
    public static func deflate(_ input: [UInt8], level: Int32 = levelDefault) throws(WireError) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initStatus = deflateInit2_(
            stream, level, Z_DEFLATED, MAX_WBITS, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw .zlib(reason: "deflateInit2_ returned \(initStatus)") }
        defer { deflateEnd(stream) }
        let bound = Int(deflateBound(stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: max(bound, 1))
        var source = input
        let status = source.withUnsafeMutableBufferPointer { sourceBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                stream.pointee.next_in = sourceBuffer.baseAddress
                stream.pointee.avail_in = uInt(sourceBuffer.count)
                stream.pointee.next_out = outputBuffer.baseAddress
                stream.pointee.avail_out = uInt(outputBuffer.count)
                return CZlib.deflate(stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw .zlib(reason: "deflate returned \(status) with a full-size buffer") }
        output.removeSubrange(Int(stream.pointee.total_out)...)
        return output
    }

    /// Inflates one complete zlib stream that must produce exactly `declaredBytes` bytes.
    ///
    /// The caller checks `declaredBytes` against its limit first (for batches,
    /// ``Limits/inflatedBytesMax``); this function allocates `declaredBytes + 1` bytes.
    /// - Throws:
    ///   - ``WireError/inflatedBeyondDeclared(declaredBytes:)`` when more output follows;
    ///   - ``WireError/inflatedLengthMismatch(declaredBytes:producedBytes:)`` when the stream ends short;
    ///   - ``WireError/zlibTruncated(consumedBytes:producedBytes:)`` when input ends mid-stream
    ///     (zlib `Z_BUF_ERROR` / no progress with all input consumed);
    ///   - ``WireError/zlibCorrupt(reason:)`` on `Z_DATA_ERROR` or `Z_NEED_DICT`;
    ///   - ``WireError/zlibTrailingBytes(count:)`` when input remains after the stream end;
    ///   - ``WireError/zlib(reason:)`` when zlib cannot initialise or runs out of memory.
    /// - Precondition: `declaredBytes >= 0`.
    public static func inflate(_ input: [UInt8], declaredBytes: Int) throws(WireError) -> [UInt8] {
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
        var output = [UInt8](repeating: 0, count: declaredBytes + 1)
        var source = input
        let status = source.withUnsafeMutableBufferPointer { sourceBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                stream.pointee.next_in = sourceBuffer.baseAddress
                stream.pointee.avail_in = uInt(sourceBuffer.count)
                stream.pointee.next_out = outputBuffer.baseAddress
                stream.pointee.avail_out = uInt(outputBuffer.count)
                return runInflate(stream)
            }
        }
        let produced = Int(stream.pointee.total_out)
        let consumed = Int(stream.pointee.total_in)
        let remainingInput = Int(stream.pointee.avail_in)
        try check(status: status, stream: stream, produced: produced, consumed: consumed, declaredBytes: declaredBytes)
        guard remainingInput == 0 else { throw .zlibTrailingBytes(count: remainingInput) }
        output.removeLast()
        return output
    }

    /// Calls `inflate` until the stream ends, fails, or stops making progress (bounded:
    /// each productive call consumes input or fills output, and both are finite; a hard
    /// cap of 64 calls guards against a zlib that reports progress without making any).
    private static func runInflate(_ stream: UnsafeMutablePointer<z_stream>) -> Int32 {
        var status = Z_OK
        for _ in 0..<64 {
            status = CZlib.inflate(stream, Z_NO_FLUSH)
            guard status == Z_OK else { return status }
            if stream.pointee.avail_in == 0 || stream.pointee.avail_out == 0 { return status }
        }
        return status
    }

    private static func check(
        status: Int32, stream: UnsafeMutablePointer<z_stream>, produced: Int, consumed: Int, declaredBytes: Int
    ) throws(WireError) {
        switch status {
        case Z_STREAM_END:
            guard produced <= declaredBytes else { throw .inflatedBeyondDeclared(declaredBytes: declaredBytes) }
            guard produced == declaredBytes else {
                throw .inflatedLengthMismatch(declaredBytes: declaredBytes, producedBytes: produced)
            }
        case Z_OK, Z_BUF_ERROR:
            if produced > declaredBytes { throw .inflatedBeyondDeclared(declaredBytes: declaredBytes) }
            if stream.pointee.avail_in == 0 { throw .zlibTruncated(consumedBytes: consumed, producedBytes: produced) }
            throw .zlib(reason: "inflate made no progress (status \(status))")
        case Z_DATA_ERROR:
            throw .zlibCorrupt(reason: message(stream) ?? "invalid data")
        case Z_NEED_DICT:
            throw .zlibCorrupt(reason: "stream asks for a preset dictionary; protocol v1 uses none")
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
}
