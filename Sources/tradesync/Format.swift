import TradeSyncClock
import TradeSyncControl
import TradeSyncModel

/// Text forms shared by the commands: values, siblings, node IDs, byte counts, seconds.
enum Format {
    /// Shown for an absent value.
    static let absent = "-"

    /// `value_usd=… net_weight_kg=… qty=… qty_unit=… flags=…`, leaving out absent fields;
    /// `(no values)` when every field is absent.
    static func values(_ values: TradeValues) -> String {
        var parts: [String] = []
        if let value = values.valueUSD { parts.append("value_usd=\(value)") }
        if let weight = values.netWeightKg { parts.append("net_weight_kg=\(weight)") }
        if let quantity = values.quantity { parts.append("qty=\(quantity)") }
        if !values.quantityUnit.isEmpty { parts.append("qty_unit=" + quoted(values.quantityUnit)) }
        if !values.flags.isEmpty { parts.append("flags=\(values.flags.nameList.joined(separator: ","))") }
        return parts.isEmpty ? "(no values)" : parts.joined(separator: " ")
    }

    /// A unit in double quotes when it has spaces (`"Number of items"`), else as is.
    static func quoted(_ unit: String) -> String {
        unit.contains(" ") ? "\"\(unit)\"" : unit
    }

    /// The flag names joined by commas, or `-`.
    static func flags(_ flags: RecordFlags) -> String {
        flags.isEmpty ? absent : flags.nameList.joined(separator: ",")
    }

    /// A decimal's canonical text, or `-`.
    static func decimal(_ value: ExactDecimal?) -> String { value?.description ?? absent }

    /// One sibling on one line: `* DOTS  hlc H  VALUES` (`*` marks the winner).
    static func sibling(_ sibling: SiblingView) -> String {
        let marker = sibling.winner ? "*" : " "
        let body = sibling.deleted ? "deleted" : sibling.values.map(values) ?? "(no values)"
        return "\(marker) \(sibling.dots.joined(separator: ","))  hlc \(sibling.hlc)  \(body)"
    }

    /// The short form (first 12 hex digits) of a node ID given in hex.
    static func shortID(_ hex: String) -> String {
        NodeID(hex: hex)?.short ?? String(hex.prefix(12))
    }

    /// A byte count for people: `812 B`, `1.5 KiB`, `12.0 MiB`.
    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var unitIndex = 0
        var scaled = count
        var divisor: UInt64 = 1
        while scaled >= 1024 && unitIndex < units.count - 1 {
            scaled /= 1024
            divisor *= 1024
            unitIndex += 1
        }
        if unitIndex == 0 { return "\(count) B" }
        return "\(fixed(Double(count) / Double(divisor), digits: 1)) \(units[unitIndex])"
    }

    /// `value` with exactly `digits` decimals (0...6), rounded half away from zero.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        let digitCount = min(max(digits, 0), 6)
        var power = 1.0
        for _ in 0..<digitCount { power *= 10 }
        let scaled = (abs(value) * power).rounded()
        guard scaled < 9e15 else { return "\(value)" }
        let units = Int64(scaled)
        let whole = units / Int64(power)
        let sign = value < 0 && units != 0 ? "-" : ""
        guard digitCount > 0 else { return "\(sign)\(whole)" }
        let fraction = String(units % Int64(power))
        return "\(sign)\(whole)." + String(repeating: "0", count: digitCount - fraction.count) + fraction
    }

    /// Seconds as a `Double`.
    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
