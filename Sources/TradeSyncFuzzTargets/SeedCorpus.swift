/// Seed inputs built from the golden frames of `Protocol/vectors/*.hex`.
///
/// Each seed is a fuzz input (see ``FuzzTarget``): single frames and all frames back to
/// back for the frame target; HELLO + VECTOR + batches + ACK + PING + PONG + ERROR as a
/// peer would send them for the session target; the messages after the handshake for the
/// handshaken session target; each with a few option bytes.
public enum SeedCorpus {
    /// Parses golden-vector text: `#` lines are comments, whitespace is ignored.
    /// - Returns: the bytes, or nil for an odd number of digits or a non-hex character.
    public static func parseHex(_ text: String) -> [UInt8]? {
        var digits: [UInt8] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            for byte in line.utf8 where byte != 0x20 && byte != 0x09 && byte != 0x0D {
                guard let value = hexValue(byte) else { return nil }
                digits.append(value)
            }
        }
        guard digits.count % 2 == 0 else { return nil }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }

    /// The seeds, named, from the golden frames by file name (`hello.hex` → its frame).
    /// Files that a combination needs but that are missing are left out of it.
    public static func seeds(vectors: [String: [UInt8]]) -> [(name: String, input: [UInt8])] {
        let names = vectors.keys.sorted()
        func frames(_ files: [String]) -> [UInt8] { files.flatMap { vectors[$0] ?? [] } }
        let peerFlow = ["hello.hex", "vector.hex", "batch-deflated.hex", "batch-plain.hex", "ping.hex", "ack.hex",
                        "pong.hex", "error.hex"]
        let afterHandshake = ["batch-deflated.hex", "ping.hex", "ack.hex", "batch-plain.hex", "pong.hex"]
        var seeds: [(name: String, input: [UInt8])] = []
        for name in names {
            seeds.append(("frames-\(name)", [FuzzTarget.frames.rawValue, 0x40, 0] + frames([name])))
        }
        seeds.append(("frames-all", [FuzzTarget.frames.rawValue, 0xA0, 1] + frames(names)))
        seeds.append(("frames-all-small-limit", [FuzzTarget.frames.rawValue, 0x1F, 2] + frames(names)))
        // Session options: 0x43 = window 4, one entry per batch, 3 local entries;
        // 0xB6 = window 3, five per batch, persists newest first, 10 local entries.
        for options: UInt8 in [0x00, 0x43, 0xB6, 0xF1] {
            let suffix = String(options, radix: 16)
            seeds.append(("session-flow-\(suffix)", [FuzzTarget.session.rawValue, options, 0] + frames(peerFlow)))
            seeds.append((
                "handshaken-flow-\(suffix)",
                [FuzzTarget.sessionAfterHandshake.rawValue, options, 1] + frames(afterHandshake)))
        }
        seeds.append(("session-hello", [FuzzTarget.session.rawValue, 0x43, 3] + frames(["hello.hex"])))
        seeds.append(("session-error-first", [FuzzTarget.session.rawValue, 0, 4] + frames(["error.hex"])))
        seeds.append(("handshaken-ack", [FuzzTarget.sessionAfterHandshake.rawValue, 0x41, 5] + frames(["ack.hex"])))
        seeds.append((
            "handshaken-batches", [FuzzTarget.sessionAfterHandshake.rawValue, 0x12, 6]
                + frames(["batch-deflated.hex", "batch-plain.hex"])))
        // The columnar payload of protocol v3 (flag bit 2), through the frame checks that
        // decode its entries and rebuild it.
        seeds.append(("frames-columnar-twice", [FuzzTarget.frames.rawValue, 0x40, 7] + frames(["batch-columnar.hex", "batch-columnar.hex"])))
        return seeds
    }
}
