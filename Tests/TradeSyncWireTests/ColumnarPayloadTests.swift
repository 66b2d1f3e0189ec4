import Foundation
import Testing
import TradeSyncClock
import TradeSyncImport
import TradeSyncLog
import TradeSyncModel
@testable import TradeSyncWire

/// A small deterministic generator (SplitMix64) for the random entries below.
struct ColumnarRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Entries from several interleaved origins with every field varied: contexts naming
/// origins that author nothing in the batch, deletes, negative and scaled decimals, units,
/// flags, breakdown codes, HLCs that jump back and forth, seqs near 2^63.
func randomEntries(seed: UInt64, count: Int) throws -> [Entry] {
    var random = ColumnarRandom(state: seed)
    let origins = try (1...4).map { try node(UInt8(0x10 * $0 + Int(seed % 16))) }
    let outsiders = try [node(0x01), node(0xFE)]
    var nextSeq = origins.map { _ in UInt64(1 + random.below(3)) == 1 ? 1 : random.next() >> 2 }
    let areas = ["DEU", "FRA", "USA", "W00", "_X", "S19", "X1", "CHN"]
    let commodities = ["850760", "TOTAL", "01", "9999AA", "8703231990", "2523"]
    let customs = ["all", "C01", "C20"]
    let transports = ["all", "1000", "2100", "9110"]
    let units = ["", "kg", "u", "Number of items", "m²"]
    var hlc = random.next()
    var entries: [Entry] = []
    var origin = 0
    for _ in 0..<count {
        if random.below(5) == 0 { origin = random.below(origins.count) }
        let seq = nextSeq[origin]
        nextSeq[origin] += 1
        hlc = random.below(4) == 0 ? random.next() : hlc &+ UInt64(random.below(3))
        var context: [NodeID: UInt64] = [:]
        for candidate in origins + outsiders where random.below(6) == 0 { context[candidate] = 1 + random.next() >> 1 }
        let key = try TradeKey(
            reporter: AreaCode(random.pick(areas)), partner: AreaCode(random.pick(areas)),
            flow: random.pick(Flow.allCases), commodity: CommodityCode(random.pick(commodities)),
            period: Period(year: 1900 + random.below(300), month: random.below(13)),
            customs: random.pick(customs), transport: random.pick(transports))
        func decimal() -> ExactDecimal? {
            switch random.below(4) {
            case 0: nil
            case 1: ExactDecimal(Int64(random.below(100_000)))
            case 2: ExactDecimal(normalizingMantissa: Int64(bitPattern: random.next()) >> 2, scale: UInt8(random.below(10)))
            default: ExactDecimal(normalizingMantissa: -Int64(random.below(1_000_000)), scale: UInt8(random.below(4)))
            }
        }
        let weight = decimal()
        let values = TradeValues(
            valueUSD: decimal(), netWeightKg: weight, quantity: random.below(3) == 0 ? weight : decimal(),
            quantityUnit: random.pick(units), flags: RecordFlags(rawValue: UInt8(random.below(16))))
        entries.append(
            Entry(
                dot: Dot(origin: origins[origin], seq: seq), hlc: HLCTimestamp(rawValue: hlc),
                context: VersionVector(context), key: key, operation: random.below(8) == 0 ? .delete : .put(values)))
    }
    return entries
}

/// A columnar BATCH over `payload` as it would arrive uncompressed.
func columnarBatch(_ payload: [UInt8], entryCount: Int) -> BatchMessage {
    BatchMessage(
        id: BatchID(rawValue: 1), entryCount: entryCount, isDeflated: false, uncompressedLength: payload.count,
        payload: payload, isColumnar: true)
}

@Suite struct ColumnarPayloadTests {
    @Test("Wire: columnar BATCH: random entries round-trip through the frame; each entry's bytes are the origin's", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomRoundTrip(seed: UInt64) throws {
        for count in [1, 2, 17, 600] {
            let entries = try randomEntries(seed: seed &* 1000 &+ UInt64(count), count: count)
            let batch = BatchMessage(id: BatchID(rawValue: 9), entries: entries, columnar: true)
            #expect(batch.isColumnar)
            guard case .batch(let received) = try message(from: Message.batch(batch).encoded()) else {
                return #expect(Bool(false), "not a BATCH")
            }
            #expect(received == batch)
            let decoded = try received.decodeEntries()
            #expect(decoded == entries)
            #expect(decoded.map { $0.encoded() } == entries.map { $0.encoded() })
            #expect(decoded.map(\.hash) == entries.map(\.hash))
        }
    }

    @Test("Wire: columnar BATCH: signed and of one entry round-trip; sent without the dictionary, accepted with it")
    func signedAndDictionary() throws {
        let entries = try randomEntries(seed: 77, count: 40)
        let signature = ChainSignature(
            publicKey: [UInt8](repeating: 7, count: ChainSignature.publicKeyBytes),
            signature: [UInt8](repeating: 9, count: ChainSignature.signatureBytes))
        let signed = entries.enumerated().map { SignedEntry($1, signature: $0 % 10 == 9 ? signature : nil) }
        let batch = BatchMessage(id: BatchID(rawValue: 2), signed: signed, columnar: true, dictionary: .trade1)
        #expect(batch.isColumnar && batch.isSigned && batch.isDeflated)
        // The sender leaves the dictionary out of columnar payloads: no FDICT in the zlib header.
        #expect(batch.payload.count > 2 && batch.payload[1] & 0x20 == 0)
        guard case .batch(let received) = try message(from: Message.batch(batch).encoded()) else {
            return #expect(Bool(false), "not a BATCH")
        }
        #expect(try received.decodeSignedEntries(dictionaries: [.trade1]) == signed)
        // Built from fields checked as Entry.decode checks them, so marked as decoded (the
        // log does not decode them again), and their canonical bytes do decode, to them.
        let decoded = try received.decodeSignedEntries(dictionaries: [.trade1])
        #expect(decoded.count == signed.count)
        for entry in decoded.map(\.entry) {
            #expect(entry.wasDecoded)
            #expect(try Entry.decode(entry.encoded()) == entry)
        }
        // A columnar payload deflated with trade-1 (as 0.8.0 sent it) still decodes.
        let segments = ColumnarPayload.segments(entries)
        let withDictionary = try Zlib.deflate(
            segments: segments, strategy: Zlib.strategyFiltered, dictionary: .trade1)
        #expect(withDictionary[1] & 0x20 != 0)
        let old = BatchMessage(
            id: BatchID(rawValue: 4), entryCount: entries.count, isDeflated: true,
            uncompressedLength: segments.joined().count, payload: withDictionary,
            signatures: batch.signatures, isColumnar: true)
        guard case .batch(let oldReceived) = try message(from: Message.batch(old).encoded()) else {
            return #expect(Bool(false), "not a BATCH")
        }
        #expect(try oldReceived.decodeSignedEntries(dictionaries: [.trade1]) == signed)
        #expect(throws: WireError.self) { try oldReceived.decodeSignedEntries(dictionaries: []) }
        let one = BatchMessage(id: BatchID(rawValue: 3), entries: [entries[0]], columnar: true)
        #expect(try one.decodeEntries() == [entries[0]])
    }

    @Test("Wire: columnar BATCH: real trade files in 4,096-entry batches round-trip and travel smaller than rows")
    func realFiles() throws {
        var tried = 0
        for name in ["comtrade_legacy_bulk_cement-252310_1988-2020.csv", "comtradeplus_csv_tha-imports-8542_2014-2024.csv",
                     "comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv", "comtrade_legacy_api_bicycles-871200_2016-2019.csv"] {
            let path = sharedDataDirectory + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { continue }
            tried += 1
            let records = try TradeFileImporter.read(path: path).rows.map(\.record)
            let origin = try node(0x5E)
            var clock = HybridLogicalClock()
            let entries = records.enumerated().map { index, record in
                Entry(
                    dot: Dot(origin: origin, seq: UInt64(index + 1)), hlc: clock.tick(nowMs: 1_764_460_800_000),
                    context: VersionVector(), key: record.key, operation: .put(record.values))
            }
            var rows = 0
            var columns = 0
            for start in stride(from: 0, to: entries.count, by: Limits.batchEntriesMax) {
                let slice = Array(entries[start..<min(start + Limits.batchEntriesMax, entries.count)])
                let columnar = BatchMessage(id: BatchID(rawValue: 1), entries: slice, columnar: true)
                let decoded = try columnar.decodeEntries()
                #expect(decoded.map { $0.encoded() } == slice.map { $0.encoded() }, "\(name)")
                columns += Message.batch(columnar).encoded().count
                rows += Message.batch(BatchMessage(id: BatchID(rawValue: 1), entries: slice)).encoded().count
            }
            print("columnar: \(name): \(entries.count) entries, rows \(rows / max(entries.count, 1)) B/entry, "
                + "columnar \(Double(columns * 10 / max(entries.count, 1)) / 10) B/entry")
            #expect(columns < rows, "\(name)")
        }
        #expect(tried > 0, "no trade file found in \(sharedDataDirectory)")
    }

    @Test("Wire: columnar string tables of long or non-ASCII strings (counted as strings) give the reference's bytes")
    func frequencyTableOfLongStrings() {
        // Precomposed and decomposed é are equal Strings with different bytes: one entry,
        // spelled as first used, as a String dictionary counts them.
        let pools = [
            ["caf\u{E9}", "cafe\u{301}", "kg"], ["a long unit name", "kg", "u"], ["nul\u{0}", "nul"],
        ]
        for pool in pools {
            let values = pool + pool.reversed() + [pool[0]]
            var counts: [String: (count: Int, first: Int)] = [:]
            for (position, value) in values.enumerated() { counts[value, default: (0, position)].count += 1 }
            let order = counts.sorted {
                $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.value.first < $1.value.first
            }.map { values[$0.value.first] }
            var writer = ByteWriter()
            writer.writeVarint(UInt64(order.count))
            for value in order { writer.writeString(value) }
            let table = FrequencyTable(values)
            #expect(table.encoded == writer.bytes, "\(pool)")
            #expect(table.indices == values.map { value in UInt64(order.firstIndex { $0 == value } ?? -1) }, "\(pool)")
        }
        #expect(FrequencyTable(["caf\u{E9}", "cafe\u{301}"]).indices == [0, 0])
    }

    @Test("Wire: short-string words: one-to-one for ASCII up to 8 bytes; nil for longer, non-ASCII or NUL")
    func shortTextWords() {
        let short = ["", "k", "kg", "TOTAL", "847130", "12345678", "1234567", "2", "02", "20"]
        let words = short.compactMap(ShortText.word)
        #expect(words.count == short.count)
        #expect(Set(words).count == short.count)
        #expect(ShortText.word("kg") == 0x676B)
        for refused in ["123456789", "caf\u{E9}", "a\u{0}", "\u{0}"] { #expect(ShortText.word(refused) == nil, "\(refused)") }
    }

    @Test("Wire: columnar string tables: most used first, ties by first use; one hash per value gives the reference's bytes")
    func frequencyTableMatchesReference() {
        var random = ColumnarRandom(state: 0x7AB1E)
        for round in 0..<200 {
            let pool = (0..<(1 + random.below(12))).map { "C\($0)" }
            // Runs and scattered values alike (runs take the "same as before" path).
            var values: [String] = []
            while values.count < 1 + random.below(300) {
                let value = random.pick(pool)
                values += Array(repeating: value, count: 1 + random.below(4))
            }
            // The reference: count, order by (count desc, first use asc), index each value.
            var counts: [String: (count: Int, first: Int)] = [:]
            for (position, value) in values.enumerated() { counts[value, default: (0, position)].count += 1 }
            let order = counts.sorted {
                $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.value.first < $1.value.first
            }.map(\.key)
            var writer = ByteWriter()
            writer.writeVarint(UInt64(order.count))
            for value in order { writer.writeString(value) }
            let table = FrequencyTable(values)
            #expect(table.encoded == writer.bytes, "round \(round)")
            #expect(table.indices == values.map { UInt64(order.firstIndex(of: $0) ?? -1) }, "round \(round)")
        }
    }
}

/// `$TRADESYNC_DATA_DIR`, else `shared/data/trade` beside the checkout.
let sharedDataDirectory: String = {
    if let value = ProcessInfo.processInfo.environment["TRADESYNC_DATA_DIR"], !value.isEmpty { return value }
    return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/trade").path
}()
