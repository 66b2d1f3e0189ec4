/// A zlib preset dictionary (RFC 1950 §2.2) that two peers agree on by ID: BATCH payloads
/// deflated with it start their LZ77 window with its bytes, so even a one-entry batch can
/// refer back to the country codes, commodity codes and key fragments it holds.
///
/// Shape: ``bytes`` is the dictionary (at most 32 KiB, the deflate window), with the most
/// useful fragments last, where deflate distances are shortest. ``id`` is the Adler-32 of
/// ``bytes`` (RFC 1950 §8.2): the DICTID a deflater writes after the zlib header when FDICT
/// is set, and by which an inflater finds the dictionary again. A node announces each
/// dictionary it can inflate with by setting ``featureBit`` in HELLO's `features`; a sender
/// deflates with a dictionary only when the peer announced it, and a receiver accepts
/// exactly the dictionaries it announced.
///
/// The bytes are fixed forever once shipped: a changed dictionary is a new one with a new
/// name, ID and feature bit. Source: `Protocol/PROTOCOL.md`, "Preset dictionary" and
/// "HELLO"; the bytes of `trade-1` are `Protocol/dictionaries/trade-1.bin`.
public struct PresetDictionary: Equatable, Sendable, CustomStringConvertible {
    /// The dictionary's name in the protocol text and in logs, e.g. `trade-1`.
    public let name: String
    /// The zlib DICTID: the Adler-32 of ``bytes``.
    public let id: UInt32
    /// The dictionary bytes, most useful last.
    public let bytes: [UInt8]
    /// The one bit of HELLO's `features` that announces this dictionary.
    public let featureBit: UInt32
    /// Smallest uncompressed batch payload, in bytes, that a sender deflates with this
    /// dictionary (it still sends the payload plain when the deflated form is not shorter).
    /// Chosen by measurement (`Benchmarks/CompressionBench`): below it the stream never
    /// came out shorter than the payload.
    public let deflateThresholdBytes: Int

    /// Creates a dictionary description.
    /// - Precondition: `id` is the Adler-32 of `bytes`; `bytes` is 1...32768 bytes long;
    ///   `featureBit` has exactly one bit set; `deflateThresholdBytes >= 0`.
    init(name: String, id: UInt32, bytes: [UInt8], featureBit: UInt32, deflateThresholdBytes: Int) {
        precondition((1...32 * 1024).contains(bytes.count), "dictionary \(name) has \(bytes.count) bytes")
        precondition(Zlib.adler32(bytes) == id, "dictionary \(name): DICTID does not match its bytes")
        precondition(featureBit.nonzeroBitCount == 1, "dictionary \(name): feature bit \(featureBit)")
        precondition(deflateThresholdBytes >= 0, "dictionary \(name): negative threshold")
        self.name = name
        self.id = id
        self.bytes = bytes
        self.featureBit = featureBit
        self.deflateThresholdBytes = deflateThresholdBytes
    }

    /// `trade-1`: 8192 bytes of fragments of canonical entry encodings (`Protocol/PROTOCOL.md`,
    /// "Entry") as imports of Comtrade and TradeSync CSV files produce them: length-prefixed
    /// reporter/partner/flow/commodity runs, period and `all`/`all` breakdown tails, put tag
    /// and presence byte, quantity units. Announced by bit 0 of HELLO's `features`.
    ///
    /// Threshold 64 bytes: in the measured files the smallest one-entry payloads (64–79
    /// bytes) already came out shorter with the dictionary in 97–100% of batches, while the
    /// smallest payload an entry can have (63 bytes: a delete with two-letter codes) never
    /// does. In practice every batch is tried; a key the dictionary does not know is caught
    /// by the "only if shorter" rule, not by size.
    public static let trade1 = PresetDictionary(
        name: "trade-1", id: trade1ID, bytes: bytes(hex: trade1Hex), featureBit: 1 << 0,
        deflateThresholdBytes: 64)

    /// Every dictionary this build can deflate and inflate with, by ascending feature bit.
    /// A node announces all of them unless configured otherwise.
    public static let known: [PresetDictionary] = [.trade1]

    /// The HELLO `features` bits that announce `dictionaries`.
    public static func features(announcing dictionaries: [PresetDictionary]) -> UInt32 {
        dictionaries.reduce(0) { $0 | $1.featureBit }
    }

    /// The known dictionaries whose bits are set in a HELLO's `features`, in ``known``
    /// order; bits this build does not know are ignored.
    public static func announced(in features: UInt32) -> [PresetDictionary] {
        known.filter { features & $0.featureBit != 0 }
    }

    /// Decodes the hex text of a generated dictionary constant; whitespace is skipped.
    /// - Precondition: only hex digits and whitespace, an even number of digits.
    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for unit in hex.utf8 where unit != 0x20 && unit != 0x0A {
            let digit: UInt8
            switch unit {
            case 0x30...0x39: digit = unit - 0x30
            case 0x61...0x66: digit = unit - 0x61 + 10
            default: preconditionFailure("dictionary hex: unexpected byte \(unit)")
            }
            if let first = high {
                bytes.append(first << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        precondition(high == nil, "dictionary hex: odd number of digits")
        return bytes
    }

    /// `trade-1 (DICTID 0x…, N bytes)`.
    public var description: String { "\(name) (DICTID 0x\(hexWord(id)), \(bytes.count) bytes)" }
}
