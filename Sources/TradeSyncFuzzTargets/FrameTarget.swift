import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// Fuzz target for ``FrameDecoder`` and ``Message`` decoding.
///
/// Checks, for any byte stream:
/// - the stream fed whole and fed in pseudo-random chunks gives the same frames and the
///   same error (with the same stream offset);
/// - after each drain the decoder holds at most one partial frame (`bufferedByteCount` <
///   4 + its declared length), and the frames and error match a plain reference walk of
///   the stream, also with a small `frameBytesMax` so the limit path is reached;
/// - every frame that decodes re-encodes to a frame that decodes to the same message; a
///   BATCH's entries decode, re-encode and decode again to the same entries, also when
///   rebuilt (and deflated) by ``BatchMessage/init(id:entries:payloadBytesMax:)``;
/// - encodings are canonical: a message or entry that decodes re-encodes to its own bytes;
/// - decoding errors are input errors (never ``WireError/zlib(reason:)``, which means zlib
///   itself failed).
public enum FrameTarget {
    /// Runs the checks on `data`; `options` picks the small frame limit, `seed` the chunking.
    /// - Returns: a summary of the outcome (message types seen, error kind), for feedback.
    /// - Throws: ``FuzzFailure`` when an invariant does not hold.
    public static func run(_ data: [UInt8], options: UInt8, seed: UInt8) throws(FuzzFailure) -> UInt64 {
        let whole = try decodeWhole(data, frameBytesMax: Limits.frameBytesMax)
        var random = FuzzRandom(hashing: data, salt: UInt64(seed))
        let chunked = try decodeChunked(data, frameBytesMax: Limits.frameBytesMax, random: &random, options: options)
        try expect(whole == chunked, "whole vs chunked decode differ: \(whole.summary) vs \(chunked.summary)")
        let reference = referenceWalk(data, frameBytesMax: Limits.frameBytesMax)
        try expect(whole == reference, "decoder vs reference walk differ: \(whole.summary) vs \(reference.summary)")
        let smallMax = 1 + Int(options)
        let small = try decodeChunked(data, frameBytesMax: smallMax, random: &random, options: options)
        let smallReference = referenceWalk(data, frameBytesMax: smallMax)
        try expect(
            small == smallReference,
            "limit \(smallMax): decoder vs reference walk differ: \(small.summary) vs \(smallReference.summary)")
        var typesSeen: UInt64 = 0
        var batchOutcome: UInt64 = 0
        for frame in whole.frames {
            typesSeen |= 1 << UInt64(min(frame.type, 8))
            batchOutcome |= try MessageChecks.check(frame)
        }
        let errorKind = UInt64(whole.error?.errorCode.rawValue ?? 0)
        return typesSeen | errorKind << 9 | batchOutcome << 13 | UInt64(min(whole.frames.count, 7)) << 20
    }

    /// Frames and the error (if any) from decoding one stream.
    struct Decoded: Equatable {
        var frames: [Frame] = []
        var error: WireError?

        var summary: String {
            "\(frames.count) frames (types \(frames.map { String($0.type) }.joined(separator: ","))), "
                + "error \(error.map { "\($0)" } ?? "none")"
        }
    }

    static func decodeWhole(_ data: [UInt8], frameBytesMax: Int) throws(FuzzFailure) -> Decoded {
        var decoder = FrameDecoder(frameBytesMax: frameBytesMax)
        decoder.feed(data)
        var decoded = Decoded()
        try drain(&decoder, into: &decoded, stream: data, fed: data.count, frameBytesMax: frameBytesMax)
        return decoded
    }

    /// Feeds `data` in chunks of 1...(chunk size picked from `options`) bytes, draining after each.
    static func decodeChunked(
        _ data: [UInt8], frameBytesMax: Int, random: inout FuzzRandom, options: UInt8
    ) throws(FuzzFailure) -> Decoded {
        let chunkMax = [1, 3, 16, 64, 512, 4096][Int(options >> 5) % 6]
        var decoder = FrameDecoder(frameBytesMax: frameBytesMax)
        var decoded = Decoded()
        var start = 0
        while start < data.count {
            let end = min(data.count, start + 1 + random.below(chunkMax))
            decoder.feed(Array(data[start..<end]))
            start = end
            try drain(&decoder, into: &decoded, stream: data, fed: end, frameBytesMax: frameBytesMax)
        }
        if decoded.error != nil {
            // Sticky: more input is dropped and the same error comes back.
            decoder.feed([0, 0, 0, 1, 5])
            try expect(decoder.bufferedByteCount == 0, "decoder buffers input after an error")
            let again: Result<Frame?, WireError> = Result { () throws(WireError) in try decoder.next() }
            guard case .failure(let error) = again else { throw FuzzFailure(.frames, "decoder error not sticky") }
            try expect(error == decoded.error, "sticky error changed: \(error)")
        }
        return decoded
    }

    /// Takes frames until nil or an error, checking the buffer bound when it stops.
    static func drain(
        _ decoder: inout FrameDecoder, into decoded: inout Decoded, stream: [UInt8], fed: Int, frameBytesMax: Int
    ) throws(FuzzFailure) {
        guard decoded.error == nil else { return }
        while true {
            do throws(WireError) {
                guard let frame = try decoder.next() else { break }
                decoded.frames.append(frame)
            } catch {
                decoded.error = error
                return
            }
        }
        let offset = decoder.streamOffset
        let buffered = decoder.bufferedByteCount
        try expect(offset + buffered == fed, "streamOffset \(offset) + buffered \(buffered) != \(fed) bytes fed")
        if buffered >= Frame.headerBytes {
            let declared = stream[offset..<offset + Frame.headerBytes].reduce(0) { $0 << 8 | Int($1) }
            try expect(
                declared >= 1 && declared <= frameBytesMax && buffered < Frame.headerBytes + declared,
                "decoder holds \(buffered) bytes with a frame of \(declared) declared (limit \(frameBytesMax))")
        }
    }

    /// The frames and error of `data` by a direct reading of PROTOCOL.md "Frames".
    static func referenceWalk(_ data: [UInt8], frameBytesMax: Int) -> Decoded {
        var decoded = Decoded()
        var offset = 0
        while data.count - offset >= Frame.headerBytes {
            let declared = data[offset..<offset + Frame.headerBytes].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if declared == 0 {
                decoded.error = .frameEmpty(streamOffset: offset)
                break
            }
            if declared > UInt32(frameBytesMax) {
                decoded.error = .frameTooLarge(declaredBytes: declared, bytesMax: frameBytesMax, streamOffset: offset)
                break
            }
            let end = offset + Frame.headerBytes + Int(declared)
            guard end <= data.count else { break }
            let typeIndex = offset + Frame.headerBytes
            decoded.frames.append(Frame(type: data[typeIndex], body: Array(data[(typeIndex + 1)..<end])))
            offset = end
        }
        return decoded
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
        if !condition { throw FuzzFailure(.frames, message()) }
    }
}
