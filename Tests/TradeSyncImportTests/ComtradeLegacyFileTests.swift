import Testing
import TradeSyncImport
import TradeSyncModel

/// Files 1–3 of shared/data/trade/SOURCES.md: UN Comtrade legacy CSV.
@Suite struct ComtradeLegacyFileTests {
    @Test("Import: cement bulk file (file 1): 6,630 2nd-partner rows rejected, 9,553 unique keys imported")
    func cementCounts() throws {
        let report = try TestData.report(TestData.cement)
        #expect(report.format == .comtradeLegacyCSV)
        #expect(report.rowsRead == 16_183)
        #expect(report.rows.count == 9_553)
        #expect(report.rejected.count == 6_630)
        #expect(report.duplicatesCollapsed == 0)
        #expect(report.rejected.allSatisfy { $0.reason.contains("is a specific 2nd partner, not World") })
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 962: 2nd Partner Code 899, ISO "_X "
        let areasNes = try rejection(report, line: 962)
        #expect(
            areasNes.description
                == TestData.path(TestData.cement) + ":962: 2nd Partner ISO '_X' is a specific 2nd partner, not World: "
                + "the record key has no 2nd partner, so the row cannot be stored without losing it")
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 9253: 2nd Partner ISO "XX " (Special Categories)
        #expect(try rejection(report, line: 9253).reason.hasPrefix("2nd Partner ISO 'XX' is a specific 2nd partner"))
    }

    @Test("Import: cement bulk file (file 1): World rows, flow letters and C01/3200 breakdowns map exactly")
    func cementRecords() throws {
        let report = try TestData.report(TestData.cement)
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 2: AUS X 1988, 839062 kg, US$ 58552, Flag 0
        let first = try row(report, "AUS:W00:X:252310:1988")
        #expect(first.line == 2)
        #expect(
            first.record.values
                == TradeValues(
                    valueUSD: try dec("58552"), netWeightKg: try dec("839062"), quantity: try dec("839062"),
                    quantityUnit: "kg"))
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 235: AZE M 2016, Customs C01, MOT 3200 (Road)
        let road = try row(report, "AZE:W00:M:252310:2016:C01:3200")
        #expect(road.line == 235)
        #expect(road.record.key.customs == "C01")
        #expect(road.record.key.transport == "3200")
        #expect(
            road.record.values
                == TradeValues(
                    valueUSD: try dec("2574"), netWeightKg: try dec("2506"), quantity: try dec("2506"),
                    quantityUnit: "kg"))
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 284: AGO X 2018, blank Netweight, Flag 6
        let angola = try row(report, "AGO:W00:X:252310:2018")
        #expect(angola.line == 284)
        #expect(
            angola.record.values
                == TradeValues(
                    valueUSD: try dec("11255307"), netWeightKg: nil, quantity: try dec("311459483"), quantityUnit: "kg",
                    flags: .estimated))
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 225: Qty Unit -1 "N/A" with Qty 0 → no quantity
        let noQuantity = try row(report, "AGO:W00:X:252310:2016")
        #expect(noQuantity.line == 225)
        #expect(noQuantity.record.values == TradeValues(valueUSD: try dec("252")))
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 602: flow letters DX (domestic export)
        #expect(try row(report, "BRB:W00:DX:252310:2017").record.values.valueUSD == (try dec("1")))
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 1384: XOP, sea transport (MOT 2100)
        #expect(try row(report, "BGR:W00:XOP:252310:2018:all:2100").record.values.valueUSD == (try dec("144093")))
        // comtrade_legacy_bulk_cement-252310_1988-2020.csv line 688: reporter 58 Belgium-Luxembourg, ISO BEL
        #expect(try row(report, "BEL:W00:X:252310:1995").line == 688)
    }

    @Test("Import: bicycles API file (file 2): all 1,302 rows, WLD → W00, reporter 490 with empty ISO → S19")
    func bicycles() throws {
        let report = try TestData.report(TestData.bicycles)
        #expect(report.format == .comtradeLegacyCSV)
        #expect(report.rowsRead == 1_302)
        #expect(report.rows.count == 1_302)
        #expect(report.rejected.isEmpty)
        #expect(report.duplicatesCollapsed == 0)
        #expect(report.rows.filter { $0.record.key.flow == .reExport }.count == 110)
        #expect(report.rows.filter { $0.record.key.flow == .reImport }.count == 52)
        // comtrade_legacy_api_bicycles-871200_2016-2019.csv line 2: ALB Import 2017, 37075 "Number of items"
        let albania = try row(report, "ALB:W00:M:871200:2017")
        #expect(albania.line == 2)
        #expect(
            albania.record.values
                == TradeValues(
                    valueUSD: try dec("1028137"), netWeightKg: try dec("384854"), quantity: try dec("37075"),
                    quantityUnit: "Number of items"))
        // comtrade_legacy_api_bicycles-871200_2016-2019.csv line 3: Qty 0 "No Quantity", Flag 2
        let algeria = try row(report, "DZA:W00:M:871200:2017")
        #expect(algeria.line == 3)
        #expect(
            algeria.record.values
                == TradeValues(valueUSD: try dec("9113970"), netWeightKg: try dec("4082917"), flags: .estimated))
        // comtrade_legacy_api_bicycles-871200_2016-2019.csv line 139: reporter 490 "Other Asia, nes", ISO empty
        let taiwan = try row(report, "S19:W00:M:871200:2017")
        #expect(taiwan.line == 139)
        #expect(
            taiwan.record.values
                == TradeValues(
                    valueUSD: try dec("42378472"), netWeightKg: try dec("8835498"), quantity: try dec("617265"),
                    quantityUnit: "Number of items", flags: .estimated))
        // comtrade_legacy_api_bicycles-871200_2016-2019.csv line 38: Re-Import (code 4), blank Netweight
        let canada = try row(report, "CAN:W00:RM:871200:2017")
        #expect(canada.line == 38)
        #expect(
            canada.record.values
                == TradeValues(
                    valueUSD: try dec("56562"), netWeightKg: nil, quantity: try dec("90"),
                    quantityUnit: "Number of items"))
    }

    @Test("Import: USA–China HS2 subset (file 3): 12 columns, codes from 842/156, lost leading zeros restored")
    func usaChinaHS2() throws {
        let report = try TestData.report(TestData.usaChinaHS2)
        #expect(report.format == .comtradeLegacyCSV)
        #expect(report.rowsRead == 290)
        #expect(report.rows.count == 290)
        #expect(report.rejected.isEmpty)
        #expect(report.duplicatesCollapsed == 0)
        #expect(report.rows.allSatisfy { $0.record.key.commodity.rawValue.utf8.count == 2 })
        // comtrade_legacy_selectedcols_usa-chn_hs2_2017.csv line 2: "842,USA,156,China,1,Animals; live,36327640,4"
        let animals = try row(report, "USA:CHN:M:01:2017")
        #expect(animals.line == 2)
        #expect(animals.record.values == TradeValues(valueUSD: try dec("36327640"), flags: .estimated))
        // comtrade_legacy_selectedcols_usa-chn_hs2_2017.csv line 4: Re-Export of chapter 1, Flag 0
        let reExport = try row(report, "USA:CHN:RX:01:2017")
        #expect(reExport.line == 4)
        #expect(reExport.record.values == TradeValues(valueUSD: try dec("179614")))
        // comtrade_legacy_selectedcols_usa-chn_hs2_2017.csv line 289: chapter 99, two digits already
        #expect(try row(report, "USA:CHN:M:99:2017").record.values == TradeValues(valueUSD: try dec("6219818322")))
    }
}
