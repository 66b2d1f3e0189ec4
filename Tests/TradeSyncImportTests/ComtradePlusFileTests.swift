import Testing
import TradeSyncImport
import TradeSyncModel

/// Files 4–6 of shared/data/trade/SOURCES.md: Comtrade Plus CSV (Windows-1252) and API v1 JSON.
@Suite struct ComtradePlusFileTests {
    @Test("Import: Plus totals file (file 4): cp1252, trailing commas, TOTAL commodity, _X and X1 partners")
    func plusTotals() throws {
        let report = try TestData.report(TestData.plusTotals)
        #expect(report.format == .comtradePlusCSV)
        #expect(report.rowsRead == 1_352)
        #expect(report.rows.count == 1_352)
        #expect(report.rejected.isEmpty)
        #expect(report.duplicatesCollapsed == 0)
        #expect(report.rows.allSatisfy { $0.record.key.commodity == .total })
        // comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv line 2: CHN M World, netWgt 0 estimated, flag 4
        let world = try row(report, "CHN:W00:M:TOTAL:2022")
        #expect(world.line == 2)
        #expect(
            world.record.values
                == TradeValues(
                    valueUSD: try dec("2715997517261"), netWeightKg: .zero, flags: [.estimated, .netWeightEstimated]))
        // comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv line 95: "C\xF4te d'Ivoire" (Windows-1252 byte)
        let ivoryCoast = try row(report, "CHN:CIV:M:TOTAL:2022")
        #expect(ivoryCoast.line == 95)
        #expect(
            ivoryCoast.record.values
                == TradeValues(
                    valueUSD: try dec("970219283"), netWeightKg: .zero, flags: [.estimated, .netWeightEstimated]))
        // comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv line 221: partnerISO "_X " (Areas, nes)
        let areasNes = try row(report, "CHN:_X:M:TOTAL:2022")
        #expect(areasNes.line == 221)
        #expect(areasNes.record.values.valueUSD == (try dec("1353880685")))
        // comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv line 896: partnerISO "X1 " (Bunkers), decimal value
        let bunkers = try row(report, "DEU:X1:X:TOTAL:2022")
        #expect(bunkers.line == 896)
        #expect(
            bunkers.record.values
                == TradeValues(
                    valueUSD: try dec("5342259710.708"), netWeightKg: .zero, flags: [.estimated, .netWeightEstimated]))
        // comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv line 441: empty netWgt, legacyEstimationFlag 0
        let germany = try row(report, "DEU:W00:M:TOTAL:2022")
        #expect(germany.line == 441)
        #expect(germany.record.values == TradeValues(valueUSD: try dec("1588852981506.719")))
    }

    @Test("Import: Plus totals file (file 4): line 95 really is Windows-1252, not UTF-8")
    func plusTotalsEncoding() throws {
        let bytes = try rawFile(TestData.path(TestData.plusTotals))
        #expect(String(validating: bytes, as: UTF8.self) == nil)
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv line 95: 0xF4 is "ô" in cp1252
        #expect(lines[94].contains(0xF4))
        #expect(String(decoding: lines[94].prefix(90), as: UTF8.self).contains("\"384\",\"CIV\""))
    }

    @Test("Import: Plus Thailand file (file 5): qty units, estimation flags, mosCode '0 ' ignored")
    func plusThailand() throws {
        let report = try TestData.report(TestData.plusThailand)
        #expect(report.format == .comtradePlusCSV)
        #expect(report.rowsRead == 1_178)
        #expect(report.rows.count == 1_178)
        #expect(report.rejected.isEmpty)
        #expect(report.duplicatesCollapsed == 0)
        // comtradeplus_csv_tha-imports-8542_2014-2024.csv line 2: World 2014, qty and netWgt empty
        let world = try row(report, "THA:W00:M:8542:2014")
        #expect(world.line == 2)
        #expect(world.record.values == TradeValues(valueUSD: try dec("9680795326")))
        // comtradeplus_csv_tha-imports-8542_2014-2024.csv line 3: Andorra, netWgt 74 estimated, flag 4
        let andorra = try row(report, "THA:AND:M:8542:2014")
        #expect(andorra.line == 3)
        #expect(
            andorra.record.values
                == TradeValues(
                    valueUSD: try dec("60938"), netWeightKg: try dec("74"), flags: [.estimated, .netWeightEstimated]))
        // comtradeplus_csv_tha-imports-8542_2014-2024.csv line 117: mosCode "0 ", qty 0 with unit N/A → none
        let world2015 = try row(report, "THA:W00:M:8542:2015")
        #expect(world2015.line == 117)
        #expect(
            world2015.record.values
                == TradeValues(valueUSD: try dec("9389778348.49"), flags: [.quantityEstimated, .netWeightEstimated]))
        // comtradeplus_csv_tha-imports-8542_2014-2024.csv line 141: qty 0.081 kg estimated, netWgt 0.081
        let ecuador = try row(report, "THA:ECU:M:8542:2015")
        #expect(ecuador.line == 141)
        #expect(
            ecuador.record.values
                == TradeValues(
                    valueUSD: try dec("69.25"), netWeightKg: try dec("0.081"), quantity: try dec("0.081"),
                    quantityUnit: "kg", flags: [.quantityEstimated, .netWeightEstimated]))
        // comtradeplus_csv_tha-imports-8542_2014-2024.csv line 550: legacyEstimationFlag 6
        let world2019 = try row(report, "THA:W00:M:8542:2019")
        #expect(world2019.line == 550)
        #expect(
            world2019.record.values
                == TradeValues(
                    valueUSD: try dec("11267085662.933"), netWeightKg: try dec("76355733.019"),
                    flags: [.estimated, .quantityEstimated, .netWeightEstimated]))
        // comtradeplus_csv_tha-imports-8542_2014-2024.csv lines 63 and 116: partners S19 and "_X "
        #expect(try row(report, "THA:S19:M:8542:2014").record.values.valueUSD == (try dec("2207750958")))
        #expect(try row(report, "THA:_X:M:8542:2014").line == 116)
    }

    @Test("Import: API v1 JSON (file 6): nulls are absent values, 6804128143.0 stays exact, lines of each object")
    func apiJSON() throws {
        let report = try TestData.report(TestData.apiJSON)
        #expect(report.format == .comtradeAPIJSON)
        #expect(report.rowsRead == 4)
        #expect(report.rows.count == 4)
        #expect(report.rejected.isEmpty)
        #expect(report.duplicatesCollapsed == 0)
        // comtrade_api_v1_get_C_A_HS_chn-2010.json line 5: CHN M ARG, qty/netWgt null, primaryValue 6804128143.0
        let argentina = try row(report, "CHN:ARG:M:TOTAL:2010")
        #expect(argentina.line == 5)
        #expect(argentina.record.values == TradeValues(valueUSD: try dec("6804128143")))
        #expect(argentina.record.values.valueUSD?.mantissa == 6_804_128_143)
        #expect(argentina.record.values.valueUSD?.scale == 0)
        // comtrade_api_v1_get_C_A_HS_chn-2010.json line 54: CHN M DEU, primaryValue 74251272075.0
        let germany = try row(report, "CHN:DEU:M:TOTAL:2010")
        #expect(germany.line == 54)
        #expect(germany.record.values == TradeValues(valueUSD: try dec("74251272075")))
        // comtrade_api_v1_get_C_A_HS_chn-2010.json lines 103 and 152: the exports
        #expect(try row(report, "CHN:ARG:X:TOTAL:2010").line == 103)
        #expect(try row(report, "CHN:DEU:X:TOTAL:2010").record.values.valueUSD == (try dec("68047133397")))
    }
}
