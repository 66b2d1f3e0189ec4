import Crypto
import Testing
import TradeSyncClock
@testable import TradeSyncLog

/// `Digest32` hashes with BoringSSL's one-shot SHA-256 (through `CBoringSHA256`): these
/// pin it to swift-crypto's `SHA256`, which a swift-crypto upgrade would keep right.
@Suite struct Digest32Tests {
    @Test("Digest32: holds SHA-256's 32 bytes in order; the chain step on digests equals the one on arrays")
    func digestMatchesArrays() {
        let payload = Array("TSCHAIN1 test payload".utf8)
        let digest = payload.withUnsafeBytes { Digest32.sha256($0) }
        #expect(digest.bytes == Array(SHA256.hash(data: payload)))
        #expect(Digest32(digest.bytes) == digest)
        #expect(Digest32(EntryChain.genesis) != digest)
        var arrayHead = EntryChain.genesis
        var inlineHead = Digest32(EntryChain.genesis)
        for step in 0..<5 {
            let hash = (payload + [UInt8(step)]).withUnsafeBytes { Digest32.sha256($0) }
            arrayHead = EntryChain.next(arrayHead, entryHash: hash.bytes)
            inlineHead = EntryChain.next(inlineHead, entryHash: hash)
            #expect(inlineHead.bytes == arrayHead, "step \(step)")
        }
    }

    @Test("Digest32: one-shot SHA-256 equals swift-crypto's for every length 0…300, and the joined forms the joined bytes")
    func oneShotMatchesSwiftCrypto() {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &random) }
        for length in 0...300 {
            let input = Array(bytes[0..<length])
            let expected = Array(SHA256.hash(data: input))
            #expect(input.withUnsafeBytes { Digest32.sha256($0) }.bytes == expected, "length \(length)")
            // Cut in two, three and four parts (empty parts included).
            let cuts = [length / 3, length / 2, length]
            input.withUnsafeBytes { raw in
                let a = UnsafeRawBufferPointer(rebasing: raw[0..<cuts[0]])
                let b = UnsafeRawBufferPointer(rebasing: raw[cuts[0]..<cuts[1]])
                let c = UnsafeRawBufferPointer(rebasing: raw[cuts[1]..<cuts[2]])
                let empty = UnsafeRawBufferPointer(rebasing: raw[0..<0])
                #expect(Digest32.sha256(a, UnsafeRawBufferPointer(rebasing: raw[cuts[0]...])).bytes == expected)
                #expect(Digest32.sha256(a, b, c).bytes == expected, "length \(length)")
                #expect(Digest32.sha256(empty, a, b, c).bytes == expected, "length \(length)")
            }
        }
        let known = Array("abc".utf8).withUnsafeBytes { Digest32.sha256($0) }
        // FIPS 180-4 example: SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad.
        let abc: [UInt8] = [
            0xBA, 0x78, 0x16, 0xBF, 0x8F, 0x01, 0xCF, 0xEA, 0x41, 0x41, 0x40, 0xDE, 0x5D, 0xAE, 0x22, 0x23,
            0xB0, 0x03, 0x61, 0xA3, 0x96, 0x17, 0x7A, 0x9C, 0xB4, 0x10, 0xFF, 0x61, 0xF2, 0x00, 0x15, 0xAD,
        ]
        #expect(known.bytes == abc)
    }
}
