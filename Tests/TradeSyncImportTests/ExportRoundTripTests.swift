import Testing
import TradeSyncImport
import TradeSyncModel

/// `tradesync export`'s layouts (``TradeRecordWriter``) read back by the importer.
@Suite struct ExportRoundTripTests {
    /// Records that exercise every field: breakdown keys, 19-digit and fractional decimals,
    /// zero vs absent, units with commas, quotes and non-ASCII, every flag, monthly periods.
    static func tricky() throws -> [TradeRecord] {
        [
            TradeRecord(
                key: try TradeKey(parsing: "AZE:W00:M:252310:2019:C01:3200"),
                values: TradeValues(valueUSD: try dec("9223372036854775807"), netWeightKg: .zero)),
            TradeRecord(
                key: try TradeKey(parsing: "CHN:DEU:X:TOTAL:2010"),
                values: TradeValues(
                    valueUSD: try dec("1234567890.123456789"), quantity: try dec("0.5"), quantityUnit: "Number of items",
                    flags: [.estimated, .quantityEstimated, .netWeightEstimated, .confidential])),
            TradeRecord(
                key: try TradeKey(parsing: "THA:_X:M:854231:201403:C00:1000"),
                values: TradeValues(quantity: try dec("-1.25"), quantityUnit: "m², \"kg\"\nper unit")),
            TradeRecord(key: try TradeKey(parsing: "USA:CHN:RX:01:2017"), values: TradeValues()),
        ]
    }

    @Test("Export: CSV and JSON Lines read back to equal records, in both layouts, with the detected format")
    func roundTrip() throws {
        let records = try Self.tricky()
        for format in ExportFormat.allCases {
            var text = format == .csv ? TradeRecordWriter.csvHeader + "\n" : ""
            for record in records {
                #expect(TradeRecordWriter.roundTripProblem(record) == nil)
                text += TradeRecordWriter.line(record, format: format) + "\n"
            }
            let report = try parse(text, name: "export.\(format.rawValue)")
            #expect(report.format == (format == .csv ? .tradeSyncCSV : .tradeSyncJSONL))
            #expect(report.rejected.isEmpty, "\(report.rejected)")
            #expect(report.rows.map(\.record) == records)
        }
    }

    @Test("Export: the JSON Lines form of a record, field by field")
    func jsonLine() throws {
        let line = TradeRecordWriter.jsonLine(try Self.tricky()[0])
        #expect(
            line == #"{"reporter":"AZE","partner":"W00","flow":"M","commodity":"252310","period":"2019","customs":"C01","transport":"3200","value_usd":"9223372036854775807","net_weight_kg":"0","qty":null,"qty_unit":"","flags":""}"#
        )
        #expect(TradeRecordWriter.csvLine(try Self.tricky()[0]) == "AZE,W00,M,252310,2019,C01,3200,9223372036854775807,0,,,")
    }

    @Test("Import: JSON Lines: hs6 alias, numbers and strings, blank lines; a bad line is a rejected row with its line")
    func jsonLinesRows() throws {
        let text = """
            {"reporter":"DEU","partner":"FRA","flow":"Export","hs6":"8703","period":"2020","value_usd":1.5E+3}

            {"reporter":"DEU","partner":"FRA","flow":"M","commodity":"8703","period":"2020","value_usd":"7","flags":"estimated"}
            [1, 2]
            {"reporter":"DEU","partner":"FRA","flow":"M","commodity":"8703","period":"20201","value_usd":"7"}
            """
        let report = try parse(text, name: "lines.jsonl")
        #expect(report.format == .tradeSyncJSONL)
        #expect(try row(report, "DEU:FRA:X:8703:2020").record.values == TradeValues(valueUSD: try dec("1500")))
        #expect(try row(report, "DEU:FRA:M:8703:2020").line == 3)
        #expect(report.rejected.map(\.line) == [4, 5])
        #expect(report.rejected.first?.reason == "line is not a JSON object")
    }

    @Test("Import: a Comtrade JSON document on one line is still read as Comtrade, not as JSON Lines")
    func comtradeOneLine() throws {
        let text = #"{"count":1,"data":[{"reporterISO":"CHN","partnerISO":"DEU","flowCode":"X","cmdCode":"TOTAL","period":"2010","primaryValue":5}],"error":""}"#
        let report = try parse(text, name: "api.json")
        #expect(report.format == .comtradeAPIJSON)
        #expect(report.rows.count == 1)
    }

    @Test("Export: records the importer would read differently are named, not written wrong in silence")
    func problems() throws {
        let numeric = TradeRecord(key: try TradeKey(parsing: "842:W00:M:01:2017"), values: TradeValues())
        #expect(TradeRecordWriter.roundTripProblem(numeric)?.hasPrefix("reporter '842' is numeric") == true)
        let oddCode = TradeRecord(key: try TradeKey(parsing: "USA:W00:M:123:2017"), values: TradeValues())
        #expect(TradeRecordWriter.roundTripProblem(oddCode)?.contains("odd number of digits") == true)
        let spaced = TradeRecord(key: try TradeKey(parsing: "USA:W00:M:01:2017"), values: TradeValues(quantityUnit: " kg"))
        #expect(TradeRecordWriter.roundTripProblem(spaced)?.contains("would trim it") == true)
        let na = TradeRecord(key: try TradeKey(parsing: "USA:W00:M:01:2017"), values: TradeValues(quantityUnit: "na"))
        #expect(TradeRecordWriter.roundTripProblem(na)?.contains("NA as no unit") == true)
    }
}
