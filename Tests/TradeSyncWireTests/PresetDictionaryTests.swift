import Foundation
import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncWire

/// Entries as an import authors them: one origin, seqs 1…count, HLCs from one reading,
/// empty contexts, Comtrade-like keys and values.
func importLikeEntries(count: Int) throws -> [Entry] {
    let origin = try #require(NodeID(bytes: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 19) }))
    let reporters = ["USA", "CHN", "DEU", "JPN", "THA"]
    let partners = ["CHN", "USA", "DEU", "FRA", "GBR", "KOR", "W00", "MEX", "CAN", "ITA", "NLD"]
    let commodities = ["850760", "852352", "252310", "8542", "TOTAL", "870323", "300490"]
    return try (1...count).map { index in
        let key = try TradeKey(
            reporter: AreaCode(reporters[index % reporters.count]),
            partner: AreaCode(partners[index * 7 % partners.count]), flow: index % 2 == 0 ? .export : .import,
            commodity: CommodityCode(commodities[index * 3 % commodities.count]),
            period: Period(year: 2010 + index % 15))
        let values = TradeValues(
            valueUSD: ExactDecimal(Int64(index) * 7_919 + 1_000), netWeightKg: ExactDecimal(Int64(index) * 313 + 40),
            quantity: ExactDecimal(Int64(index) * 313 + 40), quantityUnit: "kg",
            flags: index % 4 == 0 ? [.estimated] : [])
        return Entry(
            dot: Dot(origin: origin, seq: UInt64(index)),
            hlc: HLCTimestamp(physicalMs: 1_764_460_800_000, logical: UInt16(index - 1)), context: VersionVector(),
            key: key, operation: .put(values))
    }
}

@Suite struct PresetDictionaryTests {
    @Test("Wire: preset dictionary: trade-1's embedded bytes equal Protocol/dictionaries/trade-1.bin; Adler-32 is its DICTID")
    func embeddedBytesMatchProtocolFile() throws {
        let url = packageRoot.appendingPathComponent("Protocol/dictionaries/trade-1.bin")
        let file = [UInt8](try Data(contentsOf: url))
        let dictionary = PresetDictionary.trade1
        #expect(dictionary.bytes == file)
        #expect(Zlib.adler32(file) == dictionary.id)
        #expect((1...8 * 1024).contains(file.count))
        #expect(dictionary.name == "trade-1")
        // RFC 1950 §9 check value: Adler-32 of "Wikipedia" (a known vector) is 0x11e60398.
        #expect(Zlib.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
    }

    @Test("Wire: preset dictionary: PROTOCOL.md's table gives trade-1's bit, DICTID, size and threshold")
    func protocolTable() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Protocol/PROTOCOL.md"), encoding: .utf8)
        let dictionary = PresetDictionary.trade1
        let row = String(
            format: "| `trade-1` | 0 | `0x%08x` | %d | %d bytes of uncompressed payload |", dictionary.id,
            dictionary.bytes.count, dictionary.deflateThresholdBytes)
        #expect(text.contains(row), "PROTOCOL.md lacks the row \(row)")
        #expect(text.contains("\n### Preset dictionary\n"))
    }

    @Test("Wire: preset dictionary: trade-1 is HELLO features bit 0; unknown bits announce nothing")
    func featureBits() {
        #expect(PresetDictionary.trade1.featureBit == 1)
        #expect(PresetDictionary.known == [.trade1])
        #expect(PresetDictionary.features(announcing: PresetDictionary.known) == 1)
        #expect(PresetDictionary.features(announcing: []) == 0)
        #expect(PresetDictionary.announced(in: 1) == [.trade1])
        #expect(PresetDictionary.announced(in: 0xFFFF_FFFF) == [.trade1])
        #expect(PresetDictionary.announced(in: 0xFFFF_FFFE).isEmpty)
        #expect(PresetDictionary.announced(in: 0).isEmpty)
    }

    @Test("Wire: preset dictionary: batches round-trip with and without the dictionary", arguments: [1, 10, 100, 1000])
    func roundTrip(count: Int) throws {
        let entries = try importLikeEntries(count: count)
        let plainBytes = plainPayload(entries).count
        let without = BatchMessage(id: BatchID(rawValue: 7), entries: entries)
        let with = BatchMessage(id: BatchID(rawValue: 7), entries: entries, dictionary: .trade1)
        // Without a dictionary: the v1 rule, no FDICT, readable by anyone.
        #expect(without.isDeflated == (plainBytes >= Limits.deflateThresholdBytes))
        #expect(without.dictionaryID == nil)
        #expect(try decoded(without).decodeEntries() == entries)
        #expect(try decoded(without).decodeEntries(dictionaries: [.trade1]) == entries)
        // With it: deflated even for one entry, FDICT set, DICTID = trade-1's, and shorter.
        #expect(with.isDeflated)
        #expect(with.uncompressedLength == plainBytes)
        #expect(with.payload.count < (without.isDeflated ? without.payload.count : plainBytes))
        #expect(with.payload[1] & 0x20 != 0)
        #expect(with.dictionaryID == PresetDictionary.trade1.id)
        let received = try decoded(with)
        #expect(received == with)
        #expect(try received.decodeEntries(dictionaries: [.trade1]) == entries)
        // A receiver that announced no dictionary refuses it, naming the DICTID.
        let refusal = WireError.zlibUnknownDictionary(dictionaryID: PresetDictionary.trade1.id, offeredIDs: [])
        #expect(throws: refusal) { try received.decodeEntries() }
        #expect(refusal.errorCode == .compression)
    }

    @Test("Wire: preset dictionary: a stream naming an unknown DICTID is refused with that DICTID in hex")
    func unknownDictionaryID() throws {
        let entries = try importLikeEntries(count: 10)
        var stream = try Zlib.deflate(plainPayload(entries), dictionary: .trade1)
        #expect(Array(stream[0..<2]) == [0x78, 0xBB])  // CMF 0x78, FLG with FDICT; passes the %31 check
        #expect(Array(stream[2..<6]) == withUnsafeBytes(of: PresetDictionary.trade1.id.bigEndian) { Array($0) })
        stream.replaceSubrange(2..<6, with: [0xDE, 0xAD, 0xBE, 0xEF])
        let error = WireError.zlibUnknownDictionary(dictionaryID: 0xDEAD_BEEF, offeredIDs: [PresetDictionary.trade1.id])
        #expect(throws: error) {
            try Zlib.inflate(stream, declaredBytes: plainPayload(entries).count, dictionaries: [.trade1])
        }
        #expect(error.description.contains("0xdeadbeef"))
        #expect(error.description.contains(String(format: "0x%08x", PresetDictionary.trade1.id)))
        let batch = BatchMessage(
            id: BatchID(rawValue: 1), entryCount: 10, isDeflated: true, uncompressedLength: plainPayload(entries).count,
            payload: stream)
        #expect(batch.dictionaryID == 0xDEAD_BEEF)
        #expect(throws: error) { try decoded(batch).decodeEntries(dictionaries: [.trade1]) }
    }

    @Test("Wire: preset dictionary: a stream without FDICT inflates whether or not dictionaries are offered")
    func dictionaryOfferedButUnused() throws {
        let entries = try importLikeEntries(count: 100)
        let plain = plainPayload(entries)
        let stream = try Zlib.deflate(plain)
        #expect(stream[1] & 0x20 == 0)
        #expect(try Zlib.inflate(stream, declaredBytes: plain.count, dictionaries: [.trade1]) == plain)
        // And a dictionary stream inflated with the right dictionary gives the same bytes.
        let primed = try Zlib.deflate(plain, dictionary: .trade1)
        #expect(try Zlib.inflate(primed, declaredBytes: plain.count, dictionaries: PresetDictionary.known) == plain)
    }

    @Test("Wire: preset dictionary: a sender below the dictionary's threshold or without gain sends plain")
    func plainWhenNotShorter() throws {
        // An entry with a long unpredictable unit: deflate cannot win on 1 entry.
        let origin = try node(0x77)
        let noiseBytes: [UInt8] = (0..<32).map { (index: Int) -> UInt8 in UInt8(33 + (index * 37 + 11) % 90) }
        let noise = String(decoding: noiseBytes, as: UTF8.self)
        let entry = try makeEntry(origin, 1)
        let values = TradeValues(valueUSD: ExactDecimal(1), quantityUnit: noise)
        let odd = Entry(dot: entry.dot, hlc: entry.hlc, context: entry.context, key: entry.key, operation: .put(values))
        let batch = BatchMessage(id: BatchID(rawValue: 1), entries: [odd], dictionary: .trade1)
        let packed = try Zlib.deflate(plainPayload([odd]), dictionary: .trade1)
        #expect(batch.isDeflated == (packed.count < plainPayload([odd]).count))
        #expect(batch.payload.count == min(packed.count, plainPayload([odd]).count))
        #expect(try decoded(batch).decodeEntries(dictionaries: [.trade1]) == [odd])
        // The smallest entry there is (a delete, two-letter codes): 63 bytes, below trade-1's
        // threshold, so it is sent plain, exactly as without a dictionary.
        let tiny = try TradeKey(
            reporter: AreaCode("US"), partner: AreaCode("CN"), flow: .import, commodity: CommodityCode("85"),
            period: Period(year: 2022), customs: "1", transport: "2")
        let minimal = Entry(
            dot: Dot(origin: origin, seq: 2), hlc: entry.hlc, context: VersionVector(), key: tiny, operation: .delete)
        #expect(plainPayload([minimal]).count == 63)
        #expect(PresetDictionary.trade1.deflateThresholdBytes == 64)
        let small = BatchMessage(id: BatchID(rawValue: 2), entries: [minimal], dictionary: .trade1)
        #expect(!small.isDeflated)
        #expect(small == BatchMessage(id: BatchID(rawValue: 2), entries: [minimal]))
    }

    /// The batch after a trip through the frame encoder and decoder.
    func decoded(_ batch: BatchMessage) throws -> BatchMessage {
        guard case .batch(let received) = try message(from: Message.batch(batch).encoded()) else {
            Issue.record("not a batch")
            return batch
        }
        return received
    }
}
