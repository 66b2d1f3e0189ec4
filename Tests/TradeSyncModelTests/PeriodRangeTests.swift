import Testing

import TradeSyncModel

/// The `--period` grammar shared by the CLI and the node.
@Suite struct PeriodRangeTests {
    static func period(_ text: String) throws -> Period { try Period(text) }

    @Test("PeriodRange: every accepted form: canonical text", arguments: [
        ("2015", "2015"), ("201503", "201503"), ("2015..2019", "2015..2019"), ("2015..", "2015.."),
        ("..2019", "..2019"), (" 201501..201906 ", "201501..201906"), ("2015..2015", "2015"),
    ])
    func accepted(text: String, canonical: String) throws {
        #expect(try PeriodRange(parsing: text).description == canonical)
    }

    @Test("PeriodRange: malformed text: FieldError for period", arguments: [
        "", "..", "15", "2015...2019", "2015..20", "2015-2019", "201513", "2015..2019..2020", "abcd",
    ])
    func refused(text: String) {
        #expect {
            try PeriodRange(parsing: text)
        } throws: { error in
            (error as? FieldError)?.field == "period"
        }
    }

    @Test("PeriodRange: first after last: refused as empty")
    func emptyRange() {
        #expect(throws: FieldError.self) { try PeriodRange(parsing: "2019..2015") }
        #expect(throws: FieldError.self) { try PeriodRange(parsing: "201906..201905") }
    }

    @Test("PeriodRange: a year as a bound covers the whole year")
    func yearBounds() throws {
        let range = try PeriodRange(parsing: "2015..2019")
        for text in ["2015", "201501", "201912", "2019", "2017"] {
            #expect(range.contains(try Self.period(text)), "\(text)")
        }
        for text in ["2014", "201412", "2020", "202001"] {
            #expect(!range.contains(try Self.period(text)), "\(text)")
        }
    }

    @Test("PeriodRange: single year, single month, open ends: what each contains", arguments: [
        ("2015", ["2015", "201501", "201507", "201512"], ["2014", "201412", "2016"]),
        ("201503", ["201503"], ["2015", "201502", "201504"]),
        ("201506..", ["201506", "201612", "2199"], ["2015", "201505", "1900"]),
        ("..2019", ["1900", "2019", "201912"], ["2020", "202001"]),
    ])
    func membership(range text: String, inside: [String], outside: [String]) throws {
        let range = try PeriodRange(parsing: text)
        for period in inside { #expect(range.contains(try Self.period(period)), "\(period) in \(text)") }
        for period in outside { #expect(!range.contains(try Self.period(period)), "\(period) not in \(text)") }
    }
}
