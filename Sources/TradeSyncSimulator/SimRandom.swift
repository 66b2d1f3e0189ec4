/// The simulator's only source of randomness: xoshiro256** seeded through SplitMix64.
///
/// Everything a run does follows from the seed: fault rates, latencies, workload, crash
/// points. Never mix in `SystemRandomNumberGenerator`, `Hasher`, or the iteration order of
/// a `Dictionary` or `Set` (Swift seeds hashing per process).
/// Sources: Blackman and Vigna, "Scrambled Linear Pseudorandom Number Generators" (2018);
/// Steele, Lea and Flood, "Fast Splittable Pseudorandom Number Generators" (SplitMix64, 2014).
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates the generator for `seed` (any value, 0 included).
    public init(seed: UInt64) {
        var mixer = seed
        s0 = Self.splitMix(&mixer)
        s1 = Self.splitMix(&mixer)
        s2 = Self.splitMix(&mixer)
        s3 = Self.splitMix(&mixer)
        precondition(s0 | s1 | s2 | s3 != 0, "xoshiro state must not be all zero")
    }

    /// One SplitMix64 step: advances `state` and returns a well-mixed word.
    static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform integer in `range` (Lemire's method via the standard library).
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// A uniform integer in `0..<count`. - Precondition: `count > 0`.
    public mutating func index(_ count: Int) -> Int {
        precondition(count > 0, "index of an empty range")
        return Int.random(in: 0..<count, using: &self)
    }

    /// A uniform value in `range`.
    public mutating func uint64(_ range: ClosedRange<UInt64>) -> UInt64 { UInt64.random(in: range, using: &self) }

    /// A uniform double in [0, 1), from the top 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// True with probability `p` (0 never draws, so a disabled fault does not shift the stream).
    public mutating func chance(_ p: Double) -> Bool {
        guard p > 0 else { return false }
        return unit() < p
    }

    /// A child generator with its own stream, for a component that draws on its own
    /// (a node's disk); its seed comes from this stream, so it still follows from the run's seed.
    public mutating func fork() -> SimRandom { SimRandom(seed: next()) }
}

/// FNV-1a over 64 bits: a cheap, process-independent hash for traces and record checks
/// (never `Hasher`, which is seeded per process).
public struct TraceHasher: Sendable, Equatable {
    /// The hash so far.
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    /// Starts an empty hash.
    public init() {}

    /// Mixes in one byte.
    public mutating func add(byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    /// Mixes in a word, low byte first.
    public mutating func add(_ word: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { add(byte: UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
    }

    /// Mixes in bytes.
    public mutating func add(bytes: some Sequence<UInt8>) {
        for byte in bytes { add(byte: byte) }
    }

    /// The FNV-1a hash of `bytes`.
    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hasher = TraceHasher()
        hasher.add(bytes: bytes)
        return hasher.value
    }

    /// The FNV-1a hash of `bytes` (the same value, without generic iteration: fast in debug builds).
    public static func hash(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        return value
    }

    /// The FNV-1a hash of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> UInt64 { hash(bytes[...]) }
}
