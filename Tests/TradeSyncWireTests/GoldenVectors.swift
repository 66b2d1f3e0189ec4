import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// The messages behind `Protocol/vectors/*.hex`, with the comment header of each file.
///
/// `GoldenVectorTests` regenerates the files from these when run with
/// `TRADESYNC_WRITE_VECTORS=1`, and otherwise checks the files against literal values.
enum GoldenVectors {
    struct Vector {
        let file: String
        let description: [String]
        let message: Message
    }

    static let directory = packageRoot.appendingPathComponent("Protocol/vectors")

    /// Origin A1…A1 (32 bytes of 0xa1), author of the batch entries.
    static func originA() throws -> NodeID { try node(0xA1) }

    /// The three entries of `batch-deflated.hex`, in payload order.
    static func batchEntries() throws -> [Entry] {
        let origin = try originA()
        let keyFRA = try TradeKey(parsing: "DEU:FRA:X:850760:2022")
        let keyUSA = try TradeKey(parsing: "DEU:USA:M:8507:202203:C01:3200")
        let first = Entry(
            dot: Dot(origin: origin, seq: 1), hlc: HLCTimestamp(physicalMs: 1_700_000_000_000, logical: 0),
            context: VersionVector(), key: keyFRA,
            operation: .put(TradeValues(
                valueUSD: ExactDecimal(1_250_000), netWeightKg: ExactDecimal(normalizingMantissa: 3105, scale: 1),
                quantity: ExactDecimal(12), quantityUnit: "u", flags: [])))
        let second = Entry(
            dot: Dot(origin: origin, seq: 2), hlc: HLCTimestamp(physicalMs: 1_700_000_000_001, logical: 0),
            context: VersionVector([origin: 1, try node(0xB2): 7]), key: keyFRA,
            operation: .put(TradeValues(
                valueUSD: ExactDecimal(normalizingMantissa: 130_000_025, scale: 2),
                netWeightKg: ExactDecimal(normalizingMantissa: 3105, scale: 1), quantity: ExactDecimal(12),
                quantityUnit: "u", flags: [.estimated])))
        let third = Entry(
            dot: Dot(origin: origin, seq: 3), hlc: HLCTimestamp(physicalMs: 1_700_000_000_001, logical: 1),
            context: VersionVector([origin: 2]), key: keyUSA, operation: .delete)
        return [first, second, third]
    }

    /// The signer of `batch-signed.hex`: the Ed25519 key whose 32-byte seed is 0x5a repeated.
    static func signer() throws -> ChainSigner { try ChainSigner(rawPrivateKey: [UInt8](repeating: 0x5A, count: 32)) }

    /// The entry of `batch-signed.hex`: entry seq 1 of batch-deflated.hex, authored by ``signer()``.
    static func signedEntry() throws -> Entry {
        let first = try batchEntries()[0]
        return Entry(
            dot: Dot(origin: try signer().origin, seq: 1), hlc: first.hlc, context: first.context, key: first.key,
            operation: first.operation)
    }

    static func all() throws -> [Vector] {
        let nodeSequential = try #require(NodeID(bytes: (1...32).map { UInt8($0) }))
        let entries = try batchEntries()
        return [
            Vector(
                file: "hello.hex",
                description: [
                    "HELLO (0x01): versions [1,1], nodeID 0102…1f20 (bytes 1 to 32),",
                    "logInstanceID 0x0123456789abcdef, features 0. Length 53 = type + 52-byte body.",
                ],
                message: .hello(Hello(versions: 1...1, nodeID: nodeSequential, logInstanceID: 0x0123_4567_89AB_CDEF))),
            Vector(
                file: "vector.hex",
                description: [
                    "VECTOR (0x02) with 2 origins, in origin order:",
                    "1111…11 (32 bytes of 0x11) -> seq 5 (varint 05);",
                    "2222…22 (32 bytes of 0x22) -> seq 300 (varint ac 02).",
                ],
                message: .vector(VersionVector([try node(0x11): 5, try node(0x22): 300]))),
            Vector(
                file: "batch-deflated.hex",
                description: [
                    "BATCH (0x03): batchID 1, entryCount 3, flags 01 (deflated), then uncompressedLength",
                    "and a zlib stream (RFC 1950, level 6) of 3 length-prefixed entries, all by origin a1…a1:",
                    "seq 1 put DEU:FRA:X:850760:2022 value_usd 1250000 net_weight_kg 310.5 qty 12 u, hlc 1700000000000.0;",
                    "seq 2 put same key value_usd 1300000.25 flags estimated, context {a1…:1, b2…:7}, hlc 1700000000001.0;",
                    "seq 3 delete DEU:USA:M:8507:202203:C01:3200, context {a1…:2}, hlc 1700000000001.1.",
                ],
                message: .batch(BatchMessage(id: BatchID(rawValue: 1), entries: entries))),
            Vector(
                file: "batch-plain.hex",
                description: [
                    "BATCH (0x03): batchID 2, entryCount 1, flags 00 (not deflated: below 256 bytes),",
                    "uncompressedLength = payload length; the payload is entry seq 1 of batch-deflated.hex.",
                ],
                message: .batch(BatchMessage(id: BatchID(rawValue: 2), entries: [entries[0]]))),
            Vector(
                file: "batch-dictionary.hex",
                description: [
                    "BATCH (0x03): batchID 3, entryCount 1, flags 01 (deflated), then uncompressedLength and a",
                    "zlib stream (RFC 1950, level 6) primed with the preset dictionary trade-1: header 78 bb",
                    "(FDICT set), then DICTID = Adler-32 of Protocol/dictionaries/trade-1.bin, big endian.",
                    "The payload is entry seq 1 of batch-deflated.hex, the same entry batch-plain.hex sends plain.",
                ],
                message: .batch(BatchMessage(id: BatchID(rawValue: 3), entries: [entries[0]], dictionary: .trade1))),
            Vector(
                file: "batch-signed.hex",
                description: [
                    "BATCH (0x03), protocol v2: batchID 4, entryCount 1, flags 02 (signed, not deflated),",
                    "uncompressedLength, then the signature section: count 1, entry index 0, the 32-byte Ed25519",
                    "public key of seed 5a…5a (RFC 8032), and its 64-byte signature over",
                    "\"TSSIG\\0\\01\" ‖ origin ‖ seq 1 (u64 BE) ‖ head, head = SHA-256(\"TSCHAIN1\" ‖ 32 zero bytes ‖",
                    "SHA-256(entry)); then the payload: entry seq 1 of batch-deflated.hex, its origin the key's node ID.",
                ],
                message: .batch(BatchMessage(
                    id: BatchID(rawValue: 4),
                    signed: [SignedEntry(
                        try signedEntry(),
                        signature: try signer().seal(
                            head: EntryChain.next(EntryChain.genesis, entry: try signedEntry()),
                            at: Dot(origin: try signer().origin, seq: 1)
                        ).signature)]))),
            Vector(
                file: "batch-columnar.hex",
                description: [
                    "BATCH (0x03), protocol v3: batchID 5, entryCount 3, flags 04 (columnar; not deflated: below",
                    "256 bytes; unsigned, to show the payload alone), uncompressedLength = payload length; the payload",
                    "is the 3 entries of batch-deflated.hex column by column (PROTOCOL.md, \"Columnar payload (v3)\"):",
                    "origins {a1…, b2…}, one run (origin 0, seq 1, 3 entries), HLC deltas, contexts, kinds 07 07 10,",
                    "tables (reporter, partner, commodity, customs, transport), key columns, unit table, value columns.",
                ],
                message: .batch(BatchMessage(id: BatchID(rawValue: 5), entries: entries, columnar: true))),
            Vector(
                file: "ack.hex",
                description: [
                    "ACK (0x04): batchID 1, vector {1111…11: 8, 2222…22: 300}.",
                ],
                message: .ack(Ack(batchID: BatchID(rawValue: 1), vector: VersionVector([try node(0x11): 8, try node(0x22): 300])))),
            Vector(
                file: "ping.hex", description: ["PING (0x05): nonce 0x0102030405060708."],
                message: .ping(nonce: 0x0102_0304_0506_0708)),
            Vector(
                file: "pong.hex", description: ["PONG (0x06): nonce 0x0102030405060708 (echoes ping.hex)."],
                message: .pong(nonce: 0x0102_0304_0506_0708)),
            Vector(
                file: "heads.hex",
                description: [
                    "HEADS (0x08) with 2 origins, in origin order: 1111…11 -> seq 5, hash prefix 0x0123456789abcdef;",
                    "2222…22 -> seq 300 (varint ac 02), hash prefix 0xfedcba9876543210 (first 8 bytes of the",
                    "SHA-256 of the entry at that dot).",
                ],
                message: .heads([
                    Head(origin: try node(0x11), seq: 5, hashPrefix: 0x0123_4567_89AB_CDEF),
                    Head(origin: try node(0x22), seq: 300, hashPrefix: 0xFEDC_BA98_7654_3210),
                ])),
            Vector(
                file: "error.hex",
                description: [
                    "ERROR (0x07): code 2 (versionMismatch), reason (varint length 52, UTF-8)",
                    "\"no common protocol version: ours [1,1], theirs [2,3]\".",
                ],
                message: .error(ErrorMessage(
                    code: .versionMismatch, reason: "no common protocol version: ours [1,1], theirs [2,3]"))),
        ]
    }

    /// The file text for one vector: comment header, then the frame in hex.
    static func fileText(_ vector: Vector) -> String {
        var lines = ["# TradeSync protocol golden frame: \(vector.file)"]
        lines += vector.description.map { "# " + $0 }
        lines.append("# Frame: length u32 BE | type u8 | body. Hex below, 32 bytes per line.")
        lines.append("# Generated by Tests/TradeSyncWireTests/GoldenVectorTests.swift (TRADESYNC_WRITE_VECTORS=1).")
        return lines.joined(separator: "\n") + "\n" + hexLines(vector.message.encoded()) + "\n"
    }

    /// The frame bytes stored in `file`.
    static func bytes(_ file: String) throws -> [UInt8] {
        try parseHex(String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8))
    }
}
