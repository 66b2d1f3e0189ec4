import Testing
import TradeSyncClock

/// Node ID text with a check symbol (Crockford base32): round trips, and every single
/// mistyped digit and every swap of two adjacent different digits is caught.
@Suite struct NodeIDTextTests {
    func id(_ seed: UInt8) -> NodeID {
        NodeID(bytes: (0..<32).map { UInt8(truncatingIfNeeded: Int($0) * 37 + Int(seed) * 101 + 7) }) ?? .zero
    }

    @Test("Node ID text: 53 characters, round trip; hex, lower case, hyphens and O/I/L accepted")
    func roundTrip() throws {
        for seed in UInt8(0)..<20 {
            let node = id(seed)
            let text = NodeIDText.full(node)
            #expect(text.count == 53)
            #expect(try NodeIDText.parse(text) == node)
            #expect(try NodeIDText.parse(text.lowercased()) == node)
            #expect(try NodeIDText.parse(node.hex) == node)
        }
        let zero = NodeIDText.full(.zero)
        #expect(zero == String(repeating: "0", count: 53))
        #expect(try NodeIDText.parse(String(repeating: "O", count: 53)) == .zero)
        #expect(try NodeIDText.parse("0000-" + String(repeating: "0", count: 49)) == .zero)
        let max = try #require(NodeID(bytes: [UInt8](repeating: 0xFF, count: 32)))
        #expect(NodeIDText.full(max) == String(repeating: "Z", count: 51) + "G" + NodeIDText.full(max).suffix(1))
        #expect(try NodeIDText.parse(NodeIDText.full(max)) == max)
    }

    @Test("Node ID text: every single wrong digit and every adjacent swap is refused by the check symbol")
    func checkCatchesTypos() throws {
        let text = Array(NodeIDText.full(id(3)).utf8)
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
        var refused = 0
        for position in 0..<52 {
            for digit in alphabet where digit != text[position] {
                var typo = text
                typo[position] = digit
                // A last digit with padding bits set is refused too, for that reason.
                #expect(throws: NodeIDText.ParseError.self) { try NodeIDText.parse(String(decoding: typo, as: UTF8.self)) }
                refused += 1
            }
        }
        #expect(refused == 52 * 31)
        for position in 0..<51 where text[position] != text[position + 1] {
            var swapped = text
            swapped.swapAt(position, position + 1)
            #expect(throws: NodeIDText.ParseError.self) { try NodeIDText.parse(String(decoding: swapped, as: UTF8.self)) }
        }
    }

    @Test("Node ID text: errors name the position, the length, or the expected check symbol")
    func errors() throws {
        let text = NodeIDText.full(id(5))
        #expect(throws: NodeIDText.ParseError(description: "node ID: character 3 '!' is not a base32 digit")) {
            try NodeIDText.parse("00!")
        }
        #expect(throws: NodeIDText.ParseError(description: "node ID: 3 symbols, expected 52 digits and a check symbol (53)")) {
            try NodeIDText.parse("000")
        }
        var typo = Array(text.utf8)
        typo[10] = typo[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect {
            try NodeIDText.parse(String(decoding: typo, as: UTF8.self))
        } throws: { error in
            (error as? NodeIDText.ParseError)?.description.contains("does not match, expected") == true
        }
    }

    @Test("Node ID text: the short form is 16 digits of the first 10 bytes in 4 groups, then their check symbol")
    func shortForm() {
        let node = id(9)
        let short = NodeIDText.short(node)
        #expect(short.count == 21)
        #expect(short.split(separator: "-").map(\.count) == [4, 4, 4, 4, 1])
        // It begins like the full form.
        let digits = short.split(separator: "-").prefix(4).joined()
        #expect(NodeIDText.full(node).hasPrefix(digits))
        #expect(NodeIDText.short(.zero) == "0000-0000-0000-0000-0")
    }
}
