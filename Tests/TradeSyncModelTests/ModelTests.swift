import Testing
import TradeSyncModel

@Suite struct ExactDecimalTests {
    @Test(
        "ExactDecimal: text round-trips to canonical form",
        arguments: [
            ("58552", "58552"), ("1.392", "1.392"), ("6804128143.0", "6804128143"), ("-0.50", "-0.5"),
            ("0.001", "0.001"), ("1.5E+3", "1500"), ("  42 ", "42"), ("2.5e-2", "0.025"),
        ])
    func roundTrip(input: String, canonical: String) throws {
        let value = try ExactDecimal(parsing: input)
        #expect(value.description == canonical)
        #expect(try ExactDecimal(parsing: value.description) == value)
    }

    @Test("ExactDecimal: bad text is refused with the reason", arguments: ["", "abc", "1.2.3", "1,5", "--1"])
    func refuses(input: String) {
        #expect(throws: ExactDecimal.ParseError.self) { try ExactDecimal(parsing: input) }
    }

    @Test("ExactDecimal: more than 9 fractional digits or past Int64 is an error, never rounded")
    func limits() {
        #expect(throws: ExactDecimal.ParseError.tooManyFractionDigits("0.1234567891")) {
            try ExactDecimal(parsing: "0.1234567891")
        }
        #expect(throws: ExactDecimal.ParseError.outOfRange("99999999999999999999")) {
            try ExactDecimal(parsing: "99999999999999999999")
        }
    }

    @Test("ExactDecimal: thousand USD and tonnes scale exactly")
    func scaling() throws {
        // baci_HS22_Y2023_kor-852352.csv line 2: v = 1223.702 thousand USD, q = 0.748 t.
        #expect(try ExactDecimal(parsing: "1223.702").scaled(byPowerOf10: 3)?.description == "1223702")
        #expect(try ExactDecimal(parsing: "0.748").scaled(byPowerOf10: 3)?.description == "748")
        #expect(ExactDecimal(Int64.max).scaled(byPowerOf10: 1) == nil)
    }

    @Test("ExactDecimal: encoding round-trips and orders numerically")
    func encoding() throws {
        for text in ["0", "-17.25", "9223372036854775807", "0.000000001"] {
            let value = try ExactDecimal(parsing: text)
            var writer = ByteWriter()
            value.encode(into: &writer)
            var reader = ByteReader(writer.bytes)
            #expect(try ExactDecimal.decode(from: &reader) == value)
            #expect(reader.isAtEnd)
        }
        #expect(try ExactDecimal(parsing: "1.5") < ExactDecimal(parsing: "2"))
        #expect(try ExactDecimal(parsing: "-3") < ExactDecimal(parsing: "0.1"))
    }
}

@Suite struct TradeKeyTests {
    @Test("TradeKey: text form parses, normalises and prints back")
    func textForm() throws {
        let key = try TradeKey(parsing: "CHN:DEU:X:850760:2022")
        #expect(key.description == "CHN:DEU:X:850760:2022")
        #expect(key.customs == TradeKey.all && key.transport == TradeKey.all)
        let breakdown = try TradeKey(parsing: "AZE:W00:M:252310:2019:C01:3200")
        #expect(breakdown.customs == "C01" && breakdown.transport == "3200")
        #expect(breakdown.description == "AZE:W00:M:252310:2019:C01:3200")
        // World written WLD, totals written C00/0: the same key as the defaults.
        #expect(try TradeKey(parsing: "ALB:WLD:M:871200:2017:C00:0") == TradeKey(parsing: "ALB:W00:M:871200:2017"))
        #expect(try TradeKey(parsing: "tha:_x:m:8542:201403").description == "THA:_X:M:8542:201403")
    }

    @Test(
        "TradeKey: malformed text names the bad field",
        arguments: [
            ("CHN:DEU:X:850760", "key"), ("CHN:DEU:Q:850760:2022", "flow"), ("CHN:DEU:X:8:2022", "commodity"),
            ("CHN:DEU:X:850760:22", "period"), ("C#N:DEU:X:850760:2022", "reporter"), ("CHN:DEU:X:850760:202213", "period"),
        ])
    func errors(text: String, field: String) {
        #expect { try TradeKey(parsing: text) } throws: { ($0 as? FieldError)?.field == field }
    }

    @Test("TradeKey: encoding round-trips; order is field by field")
    func encoding() throws {
        let keys = try ["USA:CHN:M:01:2017", "AZE:W00:M:252310:2019:C01:3200", "THA:W00:M:8542:2014"].map {
            try TradeKey(parsing: $0)
        }
        for key in keys {
            var writer = ByteWriter()
            key.encode(into: &writer)
            var reader = ByteReader(writer.bytes)
            #expect(try TradeKey.decode(from: &reader) == key)
        }
        #expect(keys.sorted().map(\.reporter.rawValue) == ["AZE", "THA", "USA"])
    }

    @Test("TradeValues: CLI fields set and clear; unknown fields are refused")
    func fields() throws {
        var values = TradeValues()
        try values.set(field: "value_usd", text: "1200.50")
        try values.set(field: "qty_unit", text: "kg")
        try values.set(field: "flags", text: "estimated")
        #expect(values.valueUSD?.description == "1200.5")
        #expect(values.flags == .estimated)
        try values.set(field: "value_usd", text: "")
        #expect(values.valueUSD == nil)
        #expect(throws: FieldError.self) { try values.set(field: "price", text: "1") }
        #expect(throws: FieldError.self) { try values.set(field: "qty", text: "1.2.3") }
    }
}

@Suite struct ByteCodingTests {
    @Test("ByteReader: truncation, bad and overlong varints throw with the offset")
    func errors() throws {
        var short = ByteReader([0x01, 0x02])
        #expect(throws: DecodeError.truncated(offset: 0, needed: 2)) { try short.readU32() }
        var varint = ByteReader([UInt8](repeating: 0xFF, count: 11))
        #expect(throws: DecodeError.badVarint(offset: 0)) { try varint.readVarint() }
        // Longer than the shortest form (found by the fuzzer, docs/FUZZING.md): 0 as 80 00, 127 as ff 00.
        var zeroLong = ByteReader([0x80, 0x00])
        #expect(throws: DecodeError.badVarint(offset: 0)) { try zeroLong.readVarint() }
        var maxLong = ByteReader([0xFF, 0x80, 0x00])
        #expect(throws: DecodeError.badVarint(offset: 0)) { try maxLong.readVarint() }
        var shortest = ByteReader([0x80, 0x01, 0x00])
        #expect(try shortest.readVarint() == 128)
        #expect(try shortest.readVarint() == 0)
        var long = ByteReader([0x05, 0x41])
        #expect(throws: DecodeError.lengthTooLarge(offset: 0, length: 5, lengthMax: 4)) { try long.readString(lengthMax: 4) }
    }

    @Test("ByteWriter: varints and zig-zag round-trip at the edges")
    func varints() throws {
        var writer = ByteWriter()
        let values: [UInt64] = [0, 127, 128, 300, UInt64.max]
        values.forEach { writer.writeVarint($0) }
        [Int64.min, -1, 0, 1, Int64.max].forEach { writer.writeZigZag($0) }
        var reader = ByteReader(writer.bytes)
        #expect(try values.map { _ in try reader.readVarint() } == values)
        #expect(try (0..<5).map { _ in try reader.readZigZag() } == [Int64.min, -1, 0, 1, Int64.max])
        #expect(reader.isAtEnd)
    }

    @Test("ByteWriter: the exact bytes of varints (LEB128) and big-endian integers")
    func exactBytes() {
        var writer = ByteWriter()
        writer.writeVarint(0)
        writer.writeVarint(127)
        writer.writeVarint(300)
        writer.writeVarint(1 << 35)
        writer.writeVarint(UInt64.max)
        #expect(writer.bytes == [0x00, 0x7F, 0xAC, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        var fixed = ByteWriter()
        fixed.writeU16(0x0102)
        fixed.writeU32(0x0304_0506)
        fixed.writeU64(0x0708_090A_0B0C_0D0E)
        fixed.writeZigZag(-2)
        #expect(fixed.bytes == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x03])
        // Strings: varint UTF-8 length, then the bytes; small (inline) and heap strings alike.
        let long = String(repeating: "Number of items ", count: 10)  // 160 bytes: a two-byte length
        var strings = ByteWriter()
        strings.writeString("DEU")
        strings.writeString("")
        strings.writeString("Zürich")
        strings.writeString(long)
        #expect(strings.bytes == [3] + Array("DEU".utf8) + [0] + [7] + Array("Zürich".utf8) + [0xA0, 0x01] + Array(long.utf8))
    }
}

@Suite struct TradeValuesInputTests {
    @Test("TradeValues: negative amounts from the CLI are refused", arguments: ["value_usd", "net_weight_kg", "qty"])
    func negative(field: String) {
        var values = TradeValues()
        #expect(throws: FieldError(field: field, reason: "'-5' is negative")) { try values.set(field: field, text: "-5") }
        #expect(values == TradeValues())
    }
}
