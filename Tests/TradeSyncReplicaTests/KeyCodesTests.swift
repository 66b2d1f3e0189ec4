import Testing
import TradeSyncModel
@testable import TradeSyncReplica

/// The code tables' words and flow positions: what packed keys are made of.
@Suite struct KeyCodesTests {
    @Test("Flow positions are the flows' places in Flow.allCases")
    func flowPositions() {
        for (position, flow) in Flow.allCases.enumerated() { #expect(KeyCodes.flowIndex(flow) == UInt64(position), "\(flow)") }
    }

    @Test("Area pair words: distinct pairs, distinct words, over every 2–4 byte shape")
    func areaPairWords() throws {
        let codes = try ["DE", "DEU", "DEUX", "W00", "S19", "_X", "X1", "ZZZ", "ZZZZ", "00", "0000", "A_", "A_B"].map { try AreaCode($0) }
        var seen: [UInt64: AreaPair] = [:]
        for reporter in codes {
            for partner in codes {
                let pair = AreaPair(reporter: reporter, partner: partner)
                if let earlier = seen.updateValue(pair, forKey: pair.word) { Issue.record("\(earlier) and \(pair) share a word") }
            }
        }
        #expect(seen.count == codes.count * codes.count)
    }

    @Test("Commodity words: distinct codes, distinct words, from 2 to 10 characters")
    func commodityWords() throws {
        var texts = ["01", "10", "0A", "A0", "ZZ", "99", "TOTAL", "9999AA", "0101", "010100", "1010", "0000000000", "ZZZZZZZZZZ", "9999999999"]
        for length in 2...10 { texts.append(String(repeating: "1", count: length)); texts.append("0" + String(repeating: "Z", count: length - 1)) }
        let codes = try Set(texts).map { try CommodityCode($0) }
        let words = Set(codes.map(\.word))
        #expect(words.count == codes.count)
        #expect(codes.allSatisfy { $0.word < 1 << 60 })
    }

    @Test("Packing interns each code once and gives the key back")
    func packRoundTrip() throws {
        var codes = KeyCodes()
        let keys = try ["DEU", "FRA", "W00"].flatMap { reporter in
            try ["0101", "TOTAL"].map { commodity in
                try TradeKey(reporter: AreaCode(reporter), partner: AreaCode("CHN"), flow: .reExport, commodity: CommodityCode(commodity), period: Period(year: 2024, month: 3))
            }
        }
        let packed = keys.map { codes.pack($0) }
        #expect(Set(packed).count == keys.count)
        #expect(packed.map { codes.key($0) } == keys)
        #expect(keys.map { codes.lookup($0) } == packed)
        #expect(codes.areaPairs.values.count == 3 && codes.commodities.values.count == 2)
    }
}
