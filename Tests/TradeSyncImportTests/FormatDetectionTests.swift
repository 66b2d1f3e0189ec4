import Testing
import TradeSyncImport
import TradeSyncModel

@Suite struct FormatDetectionTests {
    @Test("Import: unknown CSV header: unknownFormat error quotes the header")
    func unknownHeader() {
        let error = importError(Array("t,i,j,k,v,q\n2023,410,36,852352,1223.702,0.748\n".utf8), name: "baci.csv")
        guard case .unknownFormat(let file, let reason) = error else {
            Issue.record("expected unknownFormat, got \(String(describing: error))")
            return
        }
        #expect(file == "baci.csv")
        #expect(reason.contains("header 't,i,j,k,v,q' (line 1)"))
        #expect(error?.description.hasPrefix("baci.csv: unknown format: header 't,i,j,k,v,q'") == true)
    }

    @Test("Import: BACI and Census files: refused as unknown formats, naming their headers")
    func otherSources() throws {
        for (name, header) in [(TestData.baci, "t,i,j,k,v,q"), (TestData.census, "CTY_CODE,CTY_NAME,GEN_VAL_MO")] {
            do {
                _ = try TradeFileImporter.read(path: TestData.path(name))
                Issue.record("\(name) imported")
            } catch {
                guard case .unknownFormat(_, let reason) = error else {
                    Issue.record("\(name): \(error)")
                    continue
                }
                #expect(reason.contains("header '\(header)"))
            }
        }
    }

    @Test("Import: empty or blank file: unknownFormat 'the file is empty'")
    func emptyFile() {
        for text in ["", "\u{FEFF}", "\r\n\n  \n"] {
            #expect(importError(Array(text.utf8)) == .unknownFormat(file: "test.csv", reason: "the file is empty"))
        }
    }

    @Test("Import: legacy header without any flow column: unknownFormat names what is missing")
    func legacyHeaderMissingFlow() {
        let error = importError(Array("Year,Reporter Code,Partner Code,Commodity Code,Trade Value (US$)\n".utf8))
        guard case .unknownFormat(_, let reason) = error else {
            Issue.record("expected unknownFormat, got \(String(describing: error))")
            return
        }
        #expect(reason.hasSuffix("lacks Trade Flow or Trade Flow Code"))
    }

    @Test("Import: detection ignores the file name: Plus CSV content named .json is Plus CSV")
    func nameIgnored() throws {
        let text = "reporterISO,partnerISO,flowCode,cmdCode,period,primaryValue\nCHN,DEU,X,TOTAL,2022,\"12.5\"\n"
        let report = try parse(text, name: "looks-like.json")
        #expect(report.format == .comtradePlusCSV)
        #expect(try row(report, "CHN:DEU:X:TOTAL:2022").record.values == TradeValues(valueUSD: try dec("12.5")))
    }

    @Test("Import: missing file and directory: unreadable errors")
    func unreadable() {
        let missing = TestData.path("no-such-file.csv")
        do {
            _ = try TradeFileImporter.read(path: missing)
            Issue.record("read a missing file")
        } catch {
            #expect(error == .unreadable(file: missing, reason: "No such file or directory"))
            #expect(error.description == "\(missing): cannot read: No such file or directory")
        }
        do {
            _ = try TradeFileImporter.read(path: TestData.directory)
            Issue.record("read a directory")
        } catch {
            #expect(error == .unreadable(file: TestData.directory, reason: "not a regular file"))
        }
    }
}
