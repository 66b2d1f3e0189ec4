import Testing
import TradeSyncImport
import TradeSyncModel

/// TradeSync CSV, duplicate keys and Comtrade edge cases on small literal files.
@Suite struct RecordMappingTests {
    @Test("Import: tradesync-csv from gen_trade.py: every column maps, NA unit means none")
    func generatedFile() throws {
        // The first rows of `gen_trade.py --rows 6 --seed 1`, plus one NA-unit row.
        let text = """
            reporter,partner,flow,hs6,period,value_usd,net_weight_kg,qty,qty_unit
            CHN,SGP,RM,740310,202405,999,163,163,kg
            YEM,NLD,M,540380,202411,147172,11164,66288,m2
            GBR,USA,X,921710,2023,77675,11552,10479,u
            TWN,WLD,X,300490,2019,5000,,,NA

            """
        let report = try parse(text)
        #expect(report.format == .tradeSyncCSV)
        #expect(report.rowsRead == 4)
        #expect(report.rejected.isEmpty)
        let copper = try row(report, "CHN:SGP:RM:740310:202405")
        #expect(copper.line == 2)
        #expect(
            copper.record.values
                == TradeValues(
                    valueUSD: try dec("999"), netWeightKg: try dec("163"), quantity: try dec("163"), quantityUnit: "kg")
        )
        #expect(try row(report, "GBR:USA:X:921710:2023").record.values.quantity == (try dec("10479")))
        #expect(try row(report, "TWN:W00:X:300490:2019").record.values == TradeValues(valueUSD: try dec("5000")))
    }

    @Test("Import: tradesync-csv optional columns: commodity, customs, transport, flags, numeric areas")
    func optionalColumns() throws {
        let text = """
            flags,reporter,partner,flow,commodity,period,customs,transport,value_usd,net_weight_kg,qty,qty_unit
            estimated;qty_estimated,842,840,Export,10121,202203,C01,3200,1200.50,10.250,,
            ,276,W00,M,TOTAL,2022,,,7,,,
            bogus,DEU,FRA,X,850760,2022,,,1,,,

            """
        let report = try parse(text)
        // Comtrade 842 and ISO 840 are both USA; the odd-length "10121" lost a leading zero.
        let first = try row(report, "USA:USA:X:010121:202203:C01:3200")
        #expect(
            first.record.values
                == TradeValues(
                    valueUSD: try dec("1200.5"), netWeightKg: try dec("10.25"), flags: [.estimated, .quantityEstimated])
        )
        #expect(try row(report, "DEU:W00:M:TOTAL:2022").record.values == TradeValues(valueUSD: try dec("7")))
        #expect(report.rejected == [RowError(file: "test.csv", line: 4, reason: "flags: unknown flag 'bogus'")])
    }

    @Test("Import: duplicate keys: equal values collapse, different values reject the later row naming the first")
    func duplicates() throws {
        let text = """
            reporter,partner,flow,hs6,period,value_usd,net_weight_kg,qty,qty_unit
            DEU,FRA,X,850760,2022,100,5,,
            DEU,FRA,X,850760,2022,100.00,5.0,,
            DEU,FRA,X,850760,2022,101,5,,
            DEU,FRA,X,850760,2022:C00:0,100,5,,
            DEU,FRA,X,850760,2022,100,5,,

            """
        let report = try parse(text)
        #expect(report.rowsRead == 5)
        #expect(report.rows.map(\.line) == [2])
        #expect(report.duplicatesCollapsed == 2)
        #expect(
            report.rejected == [
                RowError(
                    file: "test.csv", line: 4,
                    reason: "duplicate key DEU:FRA:X:850760:2022 with different values (first at line 2)"),
                RowError(file: "test.csv", line: 5, reason: "period: '2022:C00:0' is not YYYY or YYYYMM"),
            ])
    }

    @Test("Import: bad fields: each rejected row names the field and the text")
    func badFields() throws {
        let text = """
            reporter,partner,flow,hs6,period,value_usd,net_weight_kg,qty,qty_unit
            DEU,FRA,X,850760,2022,1e400,,,
            DEU,999,X,850760,2022,1,,,
            DEU,FRA,Q,850760,2022,1,,,
            DEU,FRA,X,850760,202213,1,,,
            DEU,FRA,X,850760,2022,0.1234567891,,,
            DEU,FRA,X,850760,2022,12345678901234567.89,,,

            """
        let report = try parse(text)
        #expect(report.rejected.map(\.line) == [2, 3, 4, 5, 6])
        #expect(report.rejected[0].reason == "value_usd: '1e400' is not a decimal number")
        #expect(report.rejected[1].reason == "partner: numeric area code 999 is not in the Comtrade/M49 table")
        #expect(report.rejected[2].reason.hasPrefix("flow: 'Q' is not a Comtrade flow code"))
        #expect(report.rejected[3].reason == "period: year 2022 month 13 is out of range")
        #expect(report.rejected[4].reason == "value_usd: '0.1234567891' has more than 9 fractional digits")
        // 19 significant digits: beyond a Double's 15–17, kept exactly.
        #expect(report.rows.first?.record.values.valueUSD?.description == "12345678901234567.89")
    }

    @Test("Import: legacy CSV: 2nd partner by code only, flow text/code disagreement, unknown area code")
    func legacyEdgeCases() throws {
        let text = """
            Year,Trade Flow Code,Trade Flow,Reporter Code,Partner Code,2nd Partner Code,Commodity Code,Trade Value (US$),Flag
            2017,1,Import,842,156,0,1,10,0
            2017,2,Export,842,156,251,1,20,0
            2017,2,Import,842,156,,2,30,0
            2017,0,XOP,842,123,,2,40,0
            2017,3,,842,156,,2,50,x

            """
        let report = try parse(text, name: "legacy.csv")
        #expect(report.format == .comtradeLegacyCSV)
        #expect(try row(report, "USA:CHN:M:01:2017").record.values == TradeValues(valueUSD: try dec("10")))
        #expect(report.rejected.map(\.line) == [3, 4, 5, 6])
        #expect(report.rejected[0].reason.hasPrefix("2nd Partner Code '251' is a specific 2nd partner, not World"))
        #expect(report.rejected[1].reason == "flow: Trade Flow 'Import' disagrees with Trade Flow Code 2")
        #expect(report.rejected[2].reason == "partner: numeric area code 123 is not in the Comtrade/M49 table")
        #expect(report.rejected[3].reason == "Flag: 'x' is not an integer flag")
    }

    @Test("Import: Plus CSV: refYear/refMonth fallback, specific partner2ISO rejected, bad boolean named")
    func plusEdgeCases() throws {
        let text = """
            reporterCode,reporterISO,partnerCode,partnerISO,partner2ISO,flowCode,cmdCode,period,refYear,refMonth,\
            qtyUnitAbbr,qty,isQtyEstimated,primaryValue,legacyEstimationFlag
            "842","USA","156","CHN","W00","M","8542","","2022","3","u","12","true","100","0",
            "842","","156","","","X","8542","","2022","52","N/A","0","false","200","4",
            "842","USA","156","CHN","FRA","M","8542","2021","","","","","","300","0",
            "842","USA","156","CHN","W00","M","8542","2020","","","","","maybe","400","0",

            """
        let report = try parse(text, name: "plus.csv")
        #expect(report.format == .comtradePlusCSV)
        #expect(
            try row(report, "USA:CHN:M:8542:202203").record.values
                == TradeValues(
                    valueUSD: try dec("100"), quantity: try dec("12"), quantityUnit: "u", flags: .quantityEstimated))
        // reporterISO and partnerISO blank: the codes 842 and 156 are used.
        #expect(
            try row(report, "USA:CHN:X:8542:2022").record.values
                == TradeValues(valueUSD: try dec("200"), flags: .estimated))
        #expect(report.rejected.map(\.line) == [4, 5])
        #expect(report.rejected[0].reason.hasPrefix("partner2ISO 'FRA' is a specific 2nd partner, not World"))
        #expect(report.rejected[1].reason == "isQtyEstimated: 'maybe' is not true or false")
    }
}
