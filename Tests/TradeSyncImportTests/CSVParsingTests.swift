import Testing
import TradeSyncImport
import TradeSyncModel

/// The byte-level CSV scanner, seen through TradeSync CSV files built in the test.
@Suite struct CSVParsingTests {
    static let header = "reporter,partner,flow,hs6,period,value_usd,net_weight_kg,qty,qty_unit"

    @Test("Import: CSV quoted fields: commas, doubled quotes and line breaks are field text")
    func quotedFields() throws {
        let text =
            Self.header + "\n"
            + "DEU,FRA,X,850760,2022,100,,5,\"kg, net\"\n"
            + "DEU,FRA,M,850760,2022,200,,6,\"5\"\" pipe\"\n"
            + "DEU,FRA,RX,850760,2022,300,,7,\"two\nlines\"\n"
            + "\"DEU\",\"FRA\",\"RM\",\"850760\",\"2022\",\"400\",\"\",\"\",\"\"\n"
        let report = try parse(text)
        #expect(report.rejected.isEmpty)
        #expect(report.rows.map(\.record.values.quantityUnit) == ["kg, net", "5\" pipe", "two\nlines", ""])
        #expect(report.rows.map(\.line) == [2, 3, 4, 6])
        #expect(try row(report, "DEU:FRA:RM:850760:2022").record.values == TradeValues(valueUSD: try dec("400")))
    }

    @Test("Import: CSV line ends: CRLF, LF and a lone CR all end rows; physical line numbers count blank lines")
    func lineEnds() throws {
        let text =
            "\u{FEFF}" + Self.header + "\r\n"
            + "DEU,FRA,X,850760,2022,1,,,NA\r\n"
            + "\r\n"
            + "DEU,FRA,M,850760,2022,2,,,NA\n"
            + "DEU,FRA,RX,850760,2022,3,,,NA\r"
            + "DEU,FRA,RM,850760,2022,4,,,NA"
            + "\r\n\r\n\n"
        let report = try parse(text)
        #expect(report.format == .tradeSyncCSV)
        #expect(report.rowsRead == 4)
        #expect(report.rows.map(\.line) == [2, 4, 5, 6])
        #expect(report.rows.map { $0.record.values.valueUSD?.description } == ["1", "2", "3", "4"])
    }

    @Test("Import: CSV trailing comma: exactly one extra empty field is accepted, anything else rejects the row")
    func trailingComma() throws {
        let text =
            Self.header + "\n"
            + "DEU,FRA,X,850760,2022,1,,,NA,\n"
            + "DEU,FRA,M,850760,2022,2,,,NA,x\n"
            + "DEU,FRA,RX,850760,2022,3,,,NA,,\n"
            + "DEU,FRA,RM,850760,2022,4,,\n"
        let report = try parse(text)
        #expect(report.rows.map(\.line) == [2])
        #expect(
            report.rejected == [
                RowError(file: "test.csv", line: 3, reason: "row has 10 fields, the header has 9"),
                RowError(file: "test.csv", line: 4, reason: "row has 11 fields, the header has 9"),
                RowError(file: "test.csv", line: 5, reason: "row has 8 fields, the header has 9"),
            ])
    }

    @Test("Import: CSV unterminated quote: malformed error names the line where the quote opened")
    func unterminatedQuote() {
        let text =
            Self.header + "\n"
            + "DEU,FRA,X,850760,2022,1,,,NA\n"
            + "DEU,FRA,M,850760,2022,2,,,\"kg\n"
            + "DEU,FRA,RX,850760,2022,3,,,NA\n"
        let error = importError(Array(text.utf8))
        #expect(
            error
                == .malformed(
                    file: "test.csv", line: 3, reason: "unterminated quoted field (field 9, opened on line 3)"))
        #expect(error?.description == "test.csv:3: malformed: unterminated quoted field (field 9, opened on line 3)")
    }

    @Test("Import: CSV text after a closing quote: that row is rejected, the next rows still import")
    func textAfterQuote() throws {
        let text =
            Self.header + "\n"
            + "DEU,FRA,X,850760,2022,1,,,\"kg\"x\n"
            + "DEU,FRA,M,850760,2022,2,,,NA\n"
        let report = try parse(text)
        #expect(
            report.rejected == [RowError(file: "test.csv", line: 2, reason: "field 9: text after the closing quote")])
        #expect(report.rows.map(\.line) == [3])
    }

    @Test("Import: CSV over-wide row: malformed error instead of unbounded growth")
    func overWideRow() {
        let wide = String(repeating: ",", count: ImportLimits.fieldsPerRowMax + 5)
        let error = importError(Array((Self.header + "\n" + wide + "\n").utf8))
        #expect(
            error
                == .malformed(
                    file: "test.csv", line: 2, reason: "row has more than \(ImportLimits.fieldsPerRowMax) fields"))
    }

    @Test("Import: Windows-1252 text: a non-UTF-8 byte in a stored field is decoded as cp1252, not rejected")
    func windows1252Unit() throws {
        var bytes = Array((Self.header + "\nDEU,FRA,X,850760,2022,1,,3,m").utf8)
        bytes.append(0xB2)  // "²" in Windows-1252; alone it is invalid UTF-8
        bytes.append(0x0A)
        let report = try TradeFileImporter.parse(bytes: bytes, file: "cp1252.csv")
        #expect(report.rows.first?.record.values.quantityUnit == "m²")
    }
}
