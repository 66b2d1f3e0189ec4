import Testing
import TradeSyncLog

@Suite struct CRC32CTests {
    @Test("CRC-32C: RFC 3720 B.4 and catalogue vectors: known values")
    func knownVectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0x00, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test("CRC-32C: slice-by-8 at every length and alignment: equals the bitwise definition")
    func matchesBitwiseReference() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes: [UInt8] = (0..<300).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        for start in 0..<9 {
            for end in stride(from: start, through: bytes.count, by: 7) {
                let slice = Array(bytes[start..<end])
                let expected = bitwiseCRC32C(slice)
                #expect(CRC32C.checksum(slice) == expected, "\(start)..<\(end)")
                #expect(CRC32C.checksum(bytes, range: start..<end) == expected, "\(start)..<\(end)")
                #expect(CRC32C.checksum(bytes[start..<end]) == expected, "\(start)..<\(end)")
            }
        }
    }

    /// The definition, one bit at a time (RFC 3720 §12.1, reflected form).
    func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
