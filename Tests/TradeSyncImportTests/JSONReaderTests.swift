import Testing
import TradeSyncImport
import TradeSyncModel

/// The Comtrade API JSON reader on small literal documents.
@Suite struct JSONReaderTests {
    static func record(_ fields: String) -> String {
        """
        {"reporterCode": 156, "reporterISO": "CHN", "flowCode": "X", "partnerCode": 276, "partnerISO": "DEU",
         "partner2ISO": "W00", "cmdCode": "TOTAL", "period": "2010", "customsCode": "C00", "motCode": 0, \(fields)}
        """
    }

    @Test("Import: JSON numbers: kept as source text, so 19 digits and exponents stay exact")
    func exactNumbers() throws {
        let text = """
            {"count": 2, "data": [
            \(Self.record(#""primaryValue": 12345678901234567.89, "netWgt": 1.5E+3, "qty": null, "qtyUnitAbbr": "kg""#)),
            \(Self.record(#""flowCode": "M", "primaryValue": 0.1, "netWgt": 0, "isNetWgtEstimated": true"#))
            ], "error": ""}
            """
        let report = try parse(text, name: "api.json")
        #expect(report.format == .comtradeAPIJSON)
        #expect(report.rejected.isEmpty)
        let export = try row(report, "CHN:DEU:X:TOTAL:2010")
        #expect(export.line == 2)
        #expect(export.record.values.valueUSD?.description == "12345678901234567.89")
        #expect(
            export.record.values == TradeValues(valueUSD: try dec("12345678901234567.89"), netWeightKg: try dec("1500"))
        )
        let imports = try row(report, "CHN:DEU:M:TOTAL:2010")
        #expect(imports.line == 4)
        #expect(
            imports.record.values
                == TradeValues(valueUSD: try dec("0.1"), netWeightKg: .zero, flags: .netWeightEstimated))
    }

    @Test("Import: JSON strings and ignored values: escapes decode, nested unknown fields are skipped")
    func escapesAndNesting() throws {
        let text = """
            [\(Self.record(#""reporterISO": "\u0043HN", "primaryValue": 5, "extra": {"a": [1, {"b": null}, []], "c": "\"}"}"#)),
            \(Self.record(#""primaryValue": 6, "flowCode": "M", "qty": [1]"#)), 7]
            """
        let report = try parse(text, name: "bare.json")
        #expect(report.rowsRead == 3)
        #expect(try row(report, "CHN:DEU:X:TOTAL:2010").record.values == TradeValues(valueUSD: try dec("5")))
        #expect(
            report.rejected == [
                RowError(file: "bare.json", line: 3, reason: "field qty holds an object or array"),
                RowError(file: "bare.json", line: 4, reason: "data element is not a JSON object"),
            ])
    }

    @Test("Import: JSON damage: bad syntax names its line; count mismatch and API errors refuse the file")
    func damage() {
        let missingComma = "{\"data\": [\n{\"reporterISO\": \"CHN\"\n \"flowCode\": \"X\"}\n]}"
        #expect(
            importError(Array(missingComma.utf8), name: "a.json")
                == .malformed(file: "a.json", line: 3, reason: "invalid JSON: expected ',' or '}', found '\"'"))
        let countMismatch = "{\"count\": 3,\n\"data\": [\(Self.record("\"primaryValue\": 1"))]}"
        #expect(
            importError(Array(countMismatch.utf8), name: "b.json")
                == .malformed(file: "b.json", line: 1, reason: "count is 3 but data holds 1 records"))
        let apiError = "{\"data\": [], \"error\": \"Too many requests\"}"
        #expect(
            importError(Array(apiError.utf8), name: "c.json")
                == .malformed(file: "c.json", line: 1, reason: "the response reports an error: 'Too many requests'"))
        let truncated = "{\"data\": [\(Self.record("\"primaryValue\": 1")),\n"
        #expect(
            importError(Array(truncated.utf8), name: "d.json")
                == .malformed(file: "d.json", line: 3, reason: "invalid JSON: unexpected end of file"))
    }

    @Test("Import: JSON object without data: unknownFormat names the keys it saw")
    func noData() {
        let error = importError(Array("{\"results\": [], \"count\": 0}".utf8), name: "ref.json")
        #expect(
            error
                == .unknownFormat(
                    file: "ref.json", reason: "JSON object without a \"data\" array (keys: results, count)"))
    }
}
