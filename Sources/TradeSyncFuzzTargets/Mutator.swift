import TradeSyncModel
import TradeSyncWire

/// Byte-level and frame-aware mutations of fuzz inputs, driven by one ``FuzzRandom``.
///
/// Byte level: bit flips, bytes set to interesting values (0, 1, 0x7f, 0x80, 0xff),
/// random bytes, inserted, deleted and duplicated ranges, widest varints (10 bytes).
/// Corpus: splices of two inputs, and a frame of another input appended or inserted.
/// Frame aware: a frame's length field set to a boundary value (0, 1, ±1, `frameBytesMax`,
/// `frameBytesMax + 1`, `0xffffffff`); a frame's body mutated with its length fixed up; a
/// BATCH's uncompressed payload mutated and re-deflated, so mutations reach the entry
/// decoder through zlib. The harness header (selector, options, seed) is changed rarely.
public struct Mutator: Sendable {
    /// Inputs are cut to this many bytes.
    public static let inputBytesMax = 64 * 1024
    private var random: FuzzRandom

    /// Creates a mutator whose choices follow `seed`.
    public init(seed: UInt64) { random = FuzzRandom(seed: seed) }

    /// A mutant of `input`: 1 to 4 stacked mutations; `corpus` supplies splice partners.
    public mutating func mutate(_ input: [UInt8], corpus: [[UInt8]]) -> [UInt8] {
        var bytes = input
        while bytes.count < FuzzTarget.headerBytes { bytes.append(0) }
        for _ in 0...random.below(4) {
            mutateOnce(&bytes, corpus: corpus)
        }
        if bytes.count > Self.inputBytesMax { bytes.removeSubrange(Self.inputBytesMax...) }
        return bytes
    }

    private mutating func mutateOnce(_ bytes: inout [UInt8], corpus: [[UInt8]]) {
        let header = FuzzTarget.headerBytes
        switch random.below(16) {
        case 0: bytes[random.below(header)] = UInt8(truncatingIfNeeded: random.next())
        case 1, 2, 3: mutateBytes(&bytes, from: header)
        case 4: setLengthField(&bytes)
        case 5, 6: mutateFrameBody(&bytes)
        case 7, 8: mutateBatchPayload(&bytes)
        case 9: splice(&bytes, corpus: corpus)
        case 10: insertFrame(&bytes, corpus: corpus)
        default: mutateBytes(&bytes, from: header)
        }
    }

    /// One byte-level mutation of `bytes[from...]`.
    mutating func mutateBytes(_ bytes: inout [UInt8], from start: Int) {
        let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF]
        let count = bytes.count - start
        let at = start + (count > 0 ? random.below(count) : 0)
        switch random.below(8) {
        case 0 where count > 0: bytes[at] ^= 1 << UInt8(random.below(8))
        case 1 where count > 0: bytes[at] = interesting[random.below(interesting.count)]
        case 2 where count > 0: bytes[at] = UInt8(truncatingIfNeeded: random.next())
        case 3:
            let inserted = (0...random.below(16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            bytes.insert(contentsOf: inserted, at: at)
        case 4 where count > 0:
            let length = 1 + random.below(min(count - (at - start), 64))
            bytes.removeSubrange(at..<at + length)
        case 5 where count > 0:
            let length = 1 + random.below(min(count - (at - start), 256))
            bytes.insert(contentsOf: bytes[at..<at + length], at: start + random.below(count))
        case 6:
            // A varint at its widest: ten bytes, all but the last with the high bit set.
            let widest: [[UInt8]] = [
                [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
                [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
                [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
                [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
            ]
            let varint = widest[random.below(widest.count)]
            if random.oneIn(2), count >= varint.count {
                let place = start + random.below(count - varint.count + 1)
                bytes.replaceSubrange(place..<place + varint.count, with: varint)
            } else {
                bytes.insert(contentsOf: varint, at: at)
            }
        default:
            if count > 0 { bytes[at] = bytes[at] &+ UInt8(truncatingIfNeeded: random.below(7)) &- 3 }
        }
    }

    /// Sets one frame's length field to a boundary value.
    private mutating func setLengthField(_ bytes: inout [UInt8]) {
        let spans = Self.frameSpans(bytes, from: FuzzTarget.headerBytes)
        guard !spans.isEmpty else { return mutateBytes(&bytes, from: FuzzTarget.headerBytes) }
        let span = spans[random.below(spans.count)]
        let max = UInt32(Limits.frameBytesMax)
        let declared = UInt32(span.bodyCount + 1)
        let values: [UInt32] = [0, 1, declared &- 1, declared &+ 1, max, max + 1, 0xFFFF_FFFF, 0x4745_5420, declared &+ 64]
        Self.writeLength(values[random.below(values.count)], into: &bytes, at: span.offset)
    }

    /// Mutates the type and body of one frame, then fixes its length field (usually).
    private mutating func mutateFrameBody(_ bytes: inout [UInt8]) {
        let spans = Self.frameSpans(bytes, from: FuzzTarget.headerBytes)
        guard !spans.isEmpty else { return mutateBytes(&bytes, from: FuzzTarget.headerBytes) }
        let span = spans[random.below(spans.count)]
        var frame = Array(bytes[(span.offset + Frame.headerBytes)..<span.end])
        mutateBytes(&frame, from: random.oneIn(8) ? 0 : 1)
        if frame.isEmpty { frame = [0] }
        var replacement: [UInt8] = [0, 0, 0, 0] + frame
        Self.writeLength(UInt32(frame.count), into: &replacement, at: 0)
        bytes.replaceSubrange(span.offset..<span.end, with: replacement)
    }

    /// Mutates the uncompressed payload of one BATCH and re-encodes it (deflated when it
    /// was), with the declared length fixed up (usually) and the frame length fixed.
    private mutating func mutateBatchPayload(_ bytes: inout [UInt8]) {
        let spans = Self.frameSpans(bytes, from: FuzzTarget.headerBytes).filter {
            bytes[$0.offset + Frame.headerBytes] == MessageType.batch.rawValue
        }
        guard !spans.isEmpty else { return mutateFrameBody(&bytes) }
        let span = spans[random.below(spans.count)]
        let frame = Frame(
            type: MessageType.batch.rawValue, body: Array(bytes[(span.offset + Frame.headerBytes + 1)..<span.end]))
        guard case .batch(let batch)? = try? Message.decode(frame), var plain = try? batch.uncompressedPayload(dictionaries: PresetDictionary.known) else {
            return mutateFrameBody(&bytes)
        }
        mutateBytes(&plain, from: 0)
        let deflated = batch.isDeflated != random.oneIn(8)
        let payload = deflated ? ((try? Zlib.deflate(plain)) ?? plain) : plain
        let declared = random.oneIn(8) ? batch.uncompressedLength : plain.count
        let entryCount = random.oneIn(8) ? 1 + random.below(8) : batch.entryCount
        let mutated = BatchMessage(
            id: batch.id, entryCount: entryCount, isDeflated: deflated, uncompressedLength: declared, payload: payload)
        guard payload.count + Limits.batchHeaderBytesMax <= Limits.frameBytesMax else { return }
        bytes.replaceSubrange(span.offset..<span.end, with: Message.batch(mutated).encoded())
    }

    /// This input's header and first part, then another input's last part.
    private mutating func splice(_ bytes: inout [UInt8], corpus: [[UInt8]]) {
        guard let other = corpus.isEmpty ? nil : corpus[random.below(corpus.count)],
            other.count > FuzzTarget.headerBytes
        else { return mutateBytes(&bytes, from: FuzzTarget.headerBytes) }
        let cut = FuzzTarget.headerBytes + random.below(bytes.count - FuzzTarget.headerBytes + 1)
        let otherCut = FuzzTarget.headerBytes + random.below(other.count - FuzzTarget.headerBytes)
        bytes = Array(bytes[..<cut]) + other[otherCut...]
    }

    /// Inserts a whole frame of another input at a frame boundary of this one (or the end).
    private mutating func insertFrame(_ bytes: inout [UInt8], corpus: [[UInt8]]) {
        guard let other = corpus.isEmpty ? nil : corpus[random.below(corpus.count)] else { return }
        let otherSpans = Self.frameSpans(other, from: FuzzTarget.headerBytes)
        guard !otherSpans.isEmpty else { return splice(&bytes, corpus: corpus) }
        let span = otherSpans[random.below(otherSpans.count)]
        let boundaries = Self.frameSpans(bytes, from: FuzzTarget.headerBytes).map(\.end) + [FuzzTarget.headerBytes]
        let at = random.oneIn(2) ? bytes.count : boundaries[random.below(boundaries.count)]
        bytes.insert(contentsOf: other[span.offset..<span.end], at: at)
    }

    /// A frame found in a fuzz input: where its length field starts, its body size, its end.
    struct FrameSpan {
        let offset: Int
        let bodyCount: Int
        var end: Int { offset + Frame.headerBytes + 1 + bodyCount }
    }

    /// The whole frames from `start` on, up to the first that is empty, too large or cut short.
    static func frameSpans(_ bytes: [UInt8], from start: Int) -> [FrameSpan] {
        var spans: [FrameSpan] = []
        var offset = start
        while bytes.count - offset >= Frame.headerBytes {
            let declared = bytes[offset..<offset + Frame.headerBytes].reduce(0) { $0 << 8 | Int($1) }
            guard declared >= 1, declared <= Limits.frameBytesMax, offset + Frame.headerBytes + declared <= bytes.count
            else { break }
            spans.append(FrameSpan(offset: offset, bodyCount: declared - 1))
            offset += Frame.headerBytes + declared
        }
        return spans
    }

    static func writeLength(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(index))) }
    }
}
