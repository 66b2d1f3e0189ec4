/// A broken invariant found by a fuzz target: what was expected and what happened.
///
/// A trap (precondition, overflow, out-of-bounds index) ends the process instead; libFuzzer
/// records the input either way, and the mutation fuzzer prints its seed first.
public struct FuzzFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The target that found it.
    public let target: FuzzTarget
    /// One line naming the invariant and the values involved.
    public let message: String

    /// Creates a failure report.
    public init(_ target: FuzzTarget, _ message: String) {
        self.target = target
        self.message = message
    }

    /// `target: message`.
    public var description: String { "\(target): \(message)" }
}

/// The fuzz targets. One input selects its target by its first byte (modulo the number of
/// targets), so one corpus and one libFuzzer binary serve all of them.
///
/// Input layout: `selector u8 | options u8 | seed u8 | data`. The option and seed bytes
/// steer the harness (limits, chunking, reply order); `data` is the peer's byte stream.
/// Inputs shorter than 3 bytes are padded with zeros.
public enum FuzzTarget: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// ``FrameDecoder`` and ``Message`` decoding: see ``FrameTarget``.
    case frames = 0
    /// A ``SyncSession`` fed `data` as the peer's bytes from the first byte on.
    case session = 1
    /// A ``SyncSession`` fed a valid HELLO and VECTOR, then `data`.
    case sessionAfterHandshake = 2

    /// Bytes before `data`: selector, options, seed.
    public static let headerBytes = 3

    /// The target an input selects.
    public static func selected(by input: [UInt8]) -> FuzzTarget {
        let selector = input.first ?? 0
        return allCases[Int(selector) % allCases.count]
    }

    /// `frames`, `session`, `session+handshake`.
    public var description: String {
        switch self {
        case .frames: "frames"
        case .session: "session"
        case .sessionAfterHandshake: "session+handshake"
        }
    }
}

/// Runs fuzz inputs against the targets; the single entry point both engines call.
public enum FuzzTargets {
    /// Runs one input against the target its first byte selects.
    /// - Throws: ``FuzzFailure`` when an invariant does not hold.
    /// - Returns: a small number that summarises how far the input got (the target and the
    ///   outcome), which the mutation fuzzer uses as cheap feedback.
    @discardableResult
    public static func run(_ input: [UInt8]) throws(FuzzFailure) -> UInt64 {
        var padded = input
        while padded.count < FuzzTarget.headerBytes { padded.append(0) }
        let options = padded[1]
        let seed = padded[2]
        let data = Array(padded[FuzzTarget.headerBytes...])
        let target = FuzzTarget.selected(by: padded)
        let outcome: UInt64
        switch target {
        case .frames:
            outcome = try FrameTarget.run(data, options: options, seed: seed)
        case .session, .sessionAfterHandshake:
            var harness = SessionHarness(
                options: options, seed: seed, handshaken: target == .sessionAfterHandshake)
            outcome = try harness.run(data)
        }
        return outcome &* 4 &+ UInt64(target.rawValue)
    }
}
