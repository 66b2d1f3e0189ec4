import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

@Suite struct GoldenVectorTests {
    @Test(
        "Wire: golden generator: writes Protocol/vectors/*.hex",
        .enabled(if: ProcessInfo.processInfo.environment["TRADESYNC_WRITE_VECTORS"] == "1"))
    func generate() throws {
        try FileManager.default.createDirectory(at: GoldenVectors.directory, withIntermediateDirectories: true)
        for vector in try GoldenVectors.all() {
            let url = GoldenVectors.directory.appendingPathComponent(vector.file)
            try GoldenVectors.fileText(vector).write(to: url, atomically: true, encoding: .utf8)
        }
    }

    @Test("Wire: golden vectors: every file decodes to its generator's message and re-encodes byte for byte")
    func filesMatchMessages() throws {
        let vectors = try GoldenVectors.all()
        #expect(vectors.count == 12)
        for vector in vectors {
            let bytes = try GoldenVectors.bytes(vector.file)
            let decoded = try message(from: bytes)
            #expect(decoded.encoded() == bytes, "\(vector.file) does not re-encode byte for byte")
            if case .batch(let stored) = decoded, case .batch(let generated) = vector.message {
                // Deflate output may differ between zlib builds; the content may not.
                let known = PresetDictionary.known
                #expect(
                    try stored.uncompressedPayload(dictionaries: known)
                        == generated.uncompressedPayload(dictionaries: known), "\(vector.file)")
                #expect(
                    try stored.decodeEntries(dictionaries: known) == generated.decodeEntries(dictionaries: known),
                    "\(vector.file)")
            } else {
                #expect(decoded == vector.message, "\(vector.file)")
                #expect(vector.message.encoded() == bytes, "\(vector.file): encoder output differs from the file")
            }
        }
    }

    @Test("Wire: golden HELLO: fields and the 52-byte body")
    func hello() throws {
        let bytes = try GoldenVectors.bytes("hello.hex")
        #expect(bytes.count == 57)
        #expect(Array(bytes[0..<9]) == [0, 0, 0, 53, 0x01, 0x54, 0x53, 0x59, 0x4E])
        guard case .hello(let hello) = try message(from: bytes) else { return #expect(Bool(false), "not a HELLO") }
        #expect(hello.versions == 1...1)
        #expect(hello.nodeID.bytes == (1...32).map { UInt8($0) })
        #expect(hello.logInstanceID == 0x0123_4567_89AB_CDEF)
        #expect(hello.features == 0)
    }

    @Test("Wire: golden VECTOR: two origins in order, varint counters")
    func vector() throws {
        let bytes = try GoldenVectors.bytes("vector.hex")
        #expect(bytes.count == 4 + 1 + 1 + 33 + 34)
        guard case .vector(let vector) = try message(from: bytes) else { return #expect(Bool(false), "not a VECTOR") }
        #expect(vector.sorted.map(\.seq) == [5, 300])
        #expect(vector[try node(0x11)] == 5)
        #expect(vector[try node(0x22)] == 300)
        #expect(Array(bytes.suffix(2)) == [0xAC, 0x02])
    }

    @Test("Wire: golden deflated BATCH: header fields, three entries, inflated length")
    func batchDeflated() throws {
        let bytes = try GoldenVectors.bytes("batch-deflated.hex")
        guard case .batch(let batch) = try message(from: bytes) else { return #expect(Bool(false), "not a BATCH") }
        #expect(batch.id == BatchID(rawValue: 1))
        #expect(batch.entryCount == 3)
        #expect(batch.isDeflated)
        #expect(batch.payload.count < batch.uncompressedLength)
        #expect(batch.uncompressedLength >= Limits.deflateThresholdBytes)
        #expect(Array(bytes[5..<8]) == [0x01, 0x03, 0x01])
        #expect(batch.payload.first == 0x78)
        let entries = try batch.decodeEntries()
        #expect(entries.map(\.dot.seq) == [1, 2, 3])
        #expect(entries.allSatisfy { $0.dot.origin == (try? node(0xA1)) })
        #expect(entries[0].key.description == "DEU:FRA:X:850760:2022")
        #expect(entries[0].operation.values?.valueUSD == ExactDecimal(1_250_000))
        #expect(entries[0].operation.values?.netWeightKg?.description == "310.5")
        #expect(entries[1].operation.values?.valueUSD?.description == "1300000.25")
        #expect(entries[1].operation.values?.flags == [.estimated])
        #expect(entries[1].context[try node(0xB2)] == 7)
        #expect(entries[2].key.description == "DEU:USA:M:8507:202203:C01:3200")
        #expect(entries[2].operation == .delete)
        #expect(entries[2].hlc == HLCTimestamp(physicalMs: 1_700_000_000_001, logical: 1))
        #expect(try batch.uncompressedPayload() == plainPayload(entries))
    }

    @Test("Wire: golden plain BATCH: not deflated below the threshold, payload is the entry")
    func batchPlain() throws {
        let bytes = try GoldenVectors.bytes("batch-plain.hex")
        guard case .batch(let batch) = try message(from: bytes) else { return #expect(Bool(false), "not a BATCH") }
        #expect(batch.id == BatchID(rawValue: 2))
        #expect(batch.entryCount == 1)
        #expect(!batch.isDeflated)
        #expect(batch.uncompressedLength == batch.payload.count)
        #expect(try batch.decodeEntries() == [try GoldenVectors.batchEntries()[0]])
    }

    @Test("Wire: golden dictionary BATCH: FDICT and trade-1's DICTID in the zlib header; the batch-plain entry")
    func batchDictionary() throws {
        let bytes = try GoldenVectors.bytes("batch-dictionary.hex")
        guard case .batch(let batch) = try message(from: bytes) else { return #expect(Bool(false), "not a BATCH") }
        #expect(batch.id == BatchID(rawValue: 3))
        #expect(batch.entryCount == 1)
        #expect(batch.isDeflated)
        #expect(Array(bytes[5..<8]) == [0x03, 0x01, 0x01])
        #expect(Array(batch.payload.prefix(2)) == [0x78, 0xBB])
        let id = PresetDictionary.trade1.id
        #expect(Array(batch.payload[2..<6]) == [UInt8(id >> 24), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)])
        #expect(batch.dictionaryID == id)
        let entry = try GoldenVectors.batchEntries()[0]
        #expect(try batch.decodeEntries(dictionaries: [.trade1]) == [entry])
        #expect(batch.uncompressedLength == plainPayload([entry]).count)
        // Smaller than the same entry sent plain (batch-plain.hex), header and all.
        #expect(bytes.count < (try GoldenVectors.bytes("batch-plain.hex")).count)
        #expect(throws: WireError.zlibUnknownDictionary(dictionaryID: id, offeredIDs: [])) { try batch.decodeEntries() }
    }

    @Test("Wire: golden signed BATCH (v2): flag bit 1, signature section before the payload, and the signature verifies")
    func batchSigned() throws {
        let bytes = try GoldenVectors.bytes("batch-signed.hex")
        guard case .batch(let batch) = try message(from: bytes) else { return #expect(Bool(false), "not a BATCH") }
        #expect(batch.id == BatchID(rawValue: 4))
        #expect(batch.isSigned && !batch.isDeflated)
        #expect(Array(bytes[5..<8]) == [0x04, 0x01, 0x02])
        let signer = try GoldenVectors.signer()
        let entry = try GoldenVectors.signedEntry()
        let signed = try batch.decodeSignedEntries()
        #expect(signed.map(\.entry) == [entry])
        let signature = try #require(signed[0].signature)
        #expect(signature.publicKey == signer.publicKey)
        #expect(signature.signer == entry.dot.origin)
        let head = EntryChain.next(EntryChain.genesis, entry: entry)
        #expect(EntryChain.problem(with: signature, at: entry.dot, head: head) == nil)
        // The section costs 1 (count) + 1 (index) + 32 + 64 bytes.
        #expect(bytes.count == (try GoldenVectors.bytes("batch-plain.hex")).count + 98)
        // Another entry under the same signature does not verify.
        let other = try GoldenVectors.batchEntries()[1]
        #expect(EntryChain.problem(with: signature, at: entry.dot, head: EntryChain.next(EntryChain.genesis, entry: other)) != nil)
    }

    @Test("Wire: golden columnar BATCH (v3): flag bit 2, the payload column by column, the three entries of batch-deflated")
    func batchColumnar() throws {
        let bytes = try GoldenVectors.bytes("batch-columnar.hex")
        guard case .batch(let batch) = try message(from: bytes) else { return #expect(Bool(false), "not a BATCH") }
        #expect(batch.id == BatchID(rawValue: 5))
        #expect(batch.isColumnar && !batch.isDeflated && !batch.isSigned)
        #expect(Array(bytes[5..<8]) == [0x05, 0x03, 0x04])
        let entries = try GoldenVectors.batchEntries()
        let decoded = try batch.decodeEntries()
        #expect(decoded == entries)
        #expect(decoded.map { $0.encoded() } == entries.map { $0.encoded() })
        #expect(batch.payload == ColumnarPayload.encode(entries))
        // Origins: count 2, a1…a1 (the dots), b2…b2 (a context); then one run: origin 0, seq 1, length 3.
        let origin = try GoldenVectors.originA()
        #expect(Array(batch.payload[0..<33]) == [0x02] + origin.bytes)
        #expect(Array(batch.payload[65..<70]) == [0x01, 0x00, 0x01, 0x03, 0x80])
        // Smaller than the same entries in rows, uncompressed.
        #expect(batch.uncompressedLength < plainPayload(entries).count)
    }

    @Test("Wire: golden ACK, PING, PONG: fields")
    func ackPingPong() throws {
        guard case .ack(let ack) = try message(from: try GoldenVectors.bytes("ack.hex")) else {
            return #expect(Bool(false), "not an ACK")
        }
        #expect(ack.batchID == BatchID(rawValue: 1))
        #expect(ack.vector == VersionVector([try node(0x11): 8, try node(0x22): 300]))
        let ping = try GoldenVectors.bytes("ping.hex")
        #expect(ping == [0, 0, 0, 9, 0x05, 1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try message(from: ping) == .ping(nonce: 0x0102_0304_0506_0708))
        #expect(try message(from: try GoldenVectors.bytes("pong.hex")) == .pong(nonce: 0x0102_0304_0506_0708))
    }

    @Test("Wire: golden ERROR: code 2 and the reason with both ranges")
    func error() throws {
        let bytes = try GoldenVectors.bytes("error.hex")
        #expect(Array(bytes[0..<8]) == [0, 0, 0, 56, 0x07, 0x00, 0x02, 52])
        guard case .error(let error) = try message(from: bytes) else { return #expect(Bool(false), "not an ERROR") }
        #expect(error.code == .versionMismatch)
        #expect(error.reason == "no common protocol version: ours [1,1], theirs [2,3]")
    }
}
