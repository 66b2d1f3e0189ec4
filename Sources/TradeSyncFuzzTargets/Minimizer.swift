/// Shrinks a failing input while it keeps failing the same way (delta debugging: remove
/// whole frames, then ranges of halving length, then try simpler byte values).
public enum Minimizer {
    /// The failure kind of `input`: its target and message with numbers and hex removed,
    /// or nil when it passes. Inputs that fail with the same kind count as the same bug.
    public static func failureKind(_ input: [UInt8]) -> String? {
        do throws(FuzzFailure) {
            try FuzzTargets.run(input)
            return nil
        } catch {
            let words = error.message.split(separator: " ").filter { word in
                !word.contains { $0.isNumber } && !(word.count >= 8 && word.allSatisfy(\.isHexDigit))
            }
            return "\(error.target): " + words.joined(separator: " ")
        }
    }

    /// The smallest input found that fails with the same kind as `input` (which must fail),
    /// trying at most `attemptsMax` candidates. The 3-byte harness header is kept.
    public static func minimize(_ input: [UInt8], attemptsMax: Int = 20_000) -> [UInt8] {
        guard let kind = failureKind(input) else { return input }
        var best = input
        var attempts = 0
        // Whole frames first, last to first, so the framing of the rest stays intact.
        for span in Mutator.frameSpans(best, from: FuzzTarget.headerBytes).reversed() where attempts < attemptsMax {
            var candidate = best
            candidate.removeSubrange(span.offset..<span.end)
            attempts += 1
            if failureKind(candidate) == kind { best = candidate }
        }
        var chunk = max((best.count - FuzzTarget.headerBytes) / 2, 1)
        while chunk >= 1 && attempts < attemptsMax {
            var start = FuzzTarget.headerBytes
            var shrunk = false
            while start + chunk <= best.count && attempts < attemptsMax {
                var candidate = best
                candidate.removeSubrange(start..<start + chunk)
                attempts += 1
                if failureKind(candidate) == kind {
                    best = candidate
                    shrunk = true
                } else {
                    start += chunk
                }
            }
            if !shrunk { chunk /= 2 }
        }
        for index in FuzzTarget.headerBytes..<best.count where attempts < attemptsMax && best[index] != 0 {
            var candidate = best
            candidate[index] = 0
            attempts += 1
            if failureKind(candidate) == kind { best = candidate }
        }
        return best
    }
}
