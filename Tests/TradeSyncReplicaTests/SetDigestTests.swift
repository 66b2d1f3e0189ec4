import Crypto
import Testing
import TradeSyncModel
@testable import TradeSyncReplica

/// SHA-256 of `bytes` as a little-endian 256-bit number, plus `addend` (mod 2^256), as bytes.
private func hashPlus(_ bytes: [UInt8], _ addend: Int) -> [UInt8] {
    var out = Array(SHA256.hash(data: bytes))
    var carry = addend
    for index in out.indices {  // little-endian: index 0 is least significant
        let sum = Int(out[index]) + carry
        out[index] = UInt8(truncatingIfNeeded: sum)
        carry = sum >> 8  // arithmetic shift: −1 borrows
    }
    return out
}

@Suite("SetDigest")
struct SetDigestTests {
    @Test("SetDigest: the empty set finalises to SHA-256(domain ‖ 32 zero bytes ‖ count u64 BE)")
    func emptyKnownAnswer() {
        let expected = Array(SHA256.hash(data: Array("TSSTATE1".utf8) + [UInt8](repeating: 0, count: 40)))
        #expect(SetDigest().finalize(domain: "TSSTATE1", count: 0) == expected)
        #expect(SetDigest().finalize(domain: "TSCONTENT1", count: 0) != expected)
        #expect(SetDigest().finalize(domain: "TSSTATE1", count: 1) != expected)
    }

    @Test("SetDigest: one element's sum is its SHA-256 little-endian; removal restores the empty sum")
    func oneElement() {
        var set = SetDigest()
        set.insert([1, 2, 3])
        #expect(set.sumBytes == Array(SHA256.hash(data: [1, 2, 3] as [UInt8])))
        set.remove([1, 2, 3])
        #expect(set.sumBytes == [UInt8](repeating: 0, count: 32))
        #expect(set == SetDigest())
    }

    @Test("SetDigest: an element given in two or four parts adds what the joined bytes add")
    func partsEqualJoined() {
        let bytes = (0..<150).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var joined = SetDigest()
        var inTwo = SetDigest()
        var inFour = SetDigest()
        for cut in [0, 1, 40, 149, 150] {
            joined.insert(bytes)
            bytes.withUnsafeBytes { raw in
                inTwo.insert(UnsafeRawBufferPointer(rebasing: raw[..<cut]), UnsafeRawBufferPointer(rebasing: raw[cut...]))
                let quarter = cut / 4
                inFour.insert(
                    UnsafeRawBufferPointer(rebasing: raw[..<quarter]), UnsafeRawBufferPointer(rebasing: raw[quarter..<(2 * quarter)]),
                    UnsafeRawBufferPointer(rebasing: raw[(2 * quarter)..<cut]), UnsafeRawBufferPointer(rebasing: raw[cut...]))
            }
            #expect(inTwo == joined, "cut \(cut)")
            #expect(inFour == joined, "cut \(cut)")
        }
    }

    @Test("SetDigest: carries wrap modulo 2^256 in both directions")
    func wrapAround() {
        var full = SetDigest(sumBytes: [UInt8](repeating: 0xFF, count: 32))  // 2^256 − 1
        full.insert([7])
        #expect(full.sumBytes == hashPlus([7], -1))
        var zero = SetDigest()
        zero.remove([7])  // 0 − h: the two's complement of h
        var negated = Array(SHA256.hash(data: [7] as [UInt8])).map { ~$0 }
        var carry = 1
        for index in negated.indices {
            let sum = Int(negated[index]) + carry
            negated[index] = UInt8(truncatingIfNeeded: sum)
            carry = sum >> 8
        }
        #expect(zero.sumBytes == negated)
        zero.insert([7])
        #expect(zero == SetDigest())
    }

    @Test("SetDigest: order does not matter; a different multiset differs", arguments: [1, 2, 3])
    func orderIndependence(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let elements = (0..<200).map { _ in (0..<Int(rng.next() % 40 + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        var forward = SetDigest()
        for element in elements { forward.insert(element) }
        var shuffled = SetDigest()
        for element in elements.reversed() { shuffled.insert(element) }
        #expect(forward == shuffled, "seed \(seed)")
        #expect(SetDigest(sumBytes: forward.sumBytes) == forward)
        shuffled.remove(elements[17])
        #expect(forward != shuffled, "seed \(seed)")
        shuffled.insert(elements[17])
        #expect(forward == shuffled, "seed \(seed)")
    }
}
