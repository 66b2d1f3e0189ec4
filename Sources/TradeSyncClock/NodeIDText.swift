/// Node IDs as people read, type and compare them: Crockford base32 with its check symbol
/// (Douglas Crockford, "Base 32", crockford.com/base32.html).
///
/// The 32 bytes are written 5 bits at a time, first byte first, with the alphabet
/// `0123456789ABCDEFGHJKMNPQRSTVWXYZ` (no I, L, O, U): 52 digits, the last one carrying
/// the final bit and 4 zero bits. A check symbol follows: the ID read as a big-endian
/// number, modulo 37, from the alphabet plus `*~$=U`. Because 37 is a prime above 32, the
/// check catches every single wrong digit and every swap of two adjacent digits. Decoding
/// ignores `-` and case, and reads `O` as `0` and `I`, `L` as `1`, as Crockford's spec says.
///
/// The short form is the first 16 digits (the first 10 bytes) in four groups, with the
/// check symbol of those 10 bytes: `7K3M-QX9A-2B4C-D5EF-R`. It begins like the full form,
/// names a node in tables and logs, and catches typos too; pinning a peer uses the full form.
public enum NodeIDText {
    static let digits: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let checkSymbols: [UInt8] = digits + Array("*~$=U".utf8)

    /// Why a typed node ID was refused.
    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        /// One line: what is wrong, with the position or the expected check symbol.
        public let description: String

        /// Wraps a one-line reason.
        public init(description: String) { self.description = description }
    }

    /// The full form: 52 base32 digits and the check symbol (53 characters).
    public static func full(_ id: NodeID) -> String {
        let bytes = id.bytes
        return String(decoding: base32(bytes, digitCount: 52) + [check(bytes)], as: UTF8.self)
    }

    /// The short form: the first 10 bytes as 16 digits in groups of four, then the check
    /// symbol of those bytes, e.g. `7K3M-QX9A-2B4C-D5EF-R`.
    public static func short(_ id: NodeID) -> String {
        let prefix = Array(id.bytes.prefix(10))
        let text = base32(prefix, digitCount: 16)
        var groups: [String] = []
        for start in stride(from: 0, to: 16, by: 4) {
            groups.append(String(decoding: text[start..<start + 4], as: UTF8.self))
        }
        return groups.joined(separator: "-") + "-" + String(decoding: [check(prefix)], as: UTF8.self)
    }

    /// Parses the full form (hyphens, case, O/I/L as above; or 64 hex digits, unchecked).
    /// - Throws: ``ParseError`` naming a character that is no base32 digit (with its
    ///   position), a wrong length, a number above 2^256, or a check symbol that does not
    ///   match (a mistyped digit), with the symbol expected.
    public static func parse(_ text: String) throws(ParseError) -> NodeID {
        if let hex = NodeID(hex: text) { return hex }
        var symbols: [UInt8] = []
        for (position, unit) in text.utf8.enumerated() where unit != UInt8(ascii: "-") {
            guard let value = normalised(unit) else {
                throw ParseError(description: "node ID: character \(position + 1) '\(Character(Unicode.Scalar(unit)))' is not a base32 digit")
            }
            symbols.append(value)
        }
        guard symbols.count == 53 else {
            throw ParseError(description: "node ID: \(symbols.count) symbols, expected 52 digits and a check symbol (53)")
        }
        var values: [Int] = []
        for symbol in symbols.prefix(52) {
            guard let digit = digits.firstIndex(of: symbol) else {
                throw ParseError(description: "node ID: '\(Character(Unicode.Scalar(symbol)))' is a check symbol, not a digit")
            }
            values.append(digit)
        }
        guard values[51] & 0x0F == 0, let id = NodeID(bytes: bytes(fromDigits: values, count: 32)) else {
            throw ParseError(description: "node ID: the last digit carries bits beyond 256 (a mistyped last digit)")
        }
        let expected = check(id.bytes)
        guard symbols[52] == expected else {
            throw ParseError(description: "node ID: check symbol '\(Character(Unicode.Scalar(symbols[52])))' does not match, expected '\(Character(Unicode.Scalar(expected)))': a digit is mistyped")
        }
        return id
    }

    /// `count` base32 digits of `bytes` as a bit string, first bit first, zero-padded.
    static func base32(_ bytes: [UInt8], digitCount count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(digits[(buffer >> bits) & 31])
            }
        }
        if bits > 0 { out.append(digits[(buffer << (5 - bits)) & 31]) }
        return Array(out.prefix(count))
    }

    /// The first `count` bytes of the bit string the digit values (0...31) spell.
    static func bytes(fromDigits values: [Int], count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = 0
        var bits = 0
        for value in values {
            buffer = (buffer << 5 | value) & 0xFFFF
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> bits) & 0xFF))
            }
        }
        return Array(out.prefix(count))
    }

    /// The check symbol: the big-endian number `bytes` modulo 37.
    static func check(_ bytes: [UInt8]) -> UInt8 {
        checkSymbols[bytes.reduce(0) { ($0 * 256 + Int($1)) % 37 }]
    }

    /// Upper-cases and maps O→0, I/L→1; nil for anything outside the check alphabet.
    static func normalised(_ unit: UInt8) -> UInt8? {
        var upper = unit
        if unit >= UInt8(ascii: "a") && unit <= UInt8(ascii: "z") { upper = unit - 32 }
        switch upper {
        case UInt8(ascii: "O"): return UInt8(ascii: "0")
        case UInt8(ascii: "I"), UInt8(ascii: "L"): return UInt8(ascii: "1")
        default: return checkSymbols.contains(upper) ? upper : nil
        }
    }
}
