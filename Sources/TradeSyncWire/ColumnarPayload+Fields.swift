import TradeSyncLog
import TradeSyncModel

/// The key and value sections of a columnar payload (`Protocol/PROTOCOL.md`, "Columnar
/// payload (v3)"): string tables first, then one column per field.
extension ColumnReader {
    mutating func keys() throws(DecodeError) -> [TradeKey] {
        let area: (String) -> String? = { AreaCode(canonical: $0) == nil ? "not a canonical area code" : nil }
        let reporters = try table("reporter", limit: RecordLimits.areaCode, check: area)
        let partners = try table("partner", limit: RecordLimits.areaCode, check: area)
        let commodities = try table("commodity", limit: RecordLimits.commodity) {
            CommodityCode(canonical: $0) == nil ? "not a canonical commodity code" : nil
        }
        let customs = try table("customs", limit: RecordLimits.breakdownCode) { Self.breakdownProblem($0, customs: true) }
        let transports = try table("transport", limit: RecordLimits.breakdownCode) {
            Self.breakdownProblem($0, customs: false)
        }
        // Validated once per table row above, so the columns only map indices.
        let reporterColumn = try indexColumn("reporter", reporters.compactMap { AreaCode(canonical: $0) })
        let partnerColumn = try indexColumn("partner", partners.compactMap { AreaCode(canonical: $0) })
        let flows = try byteColumn("flow", count: entryCount, max: UInt8(Flow.allCases.count - 1))
        let commodityColumn = try indexColumn("commodity", commodities.compactMap { CommodityCode(canonical: $0) })
        var years: [UInt64] = []
        years.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            let at = reader.offset
            let year = try reader.readVarint()
            guard year <= 2199 - UInt64(ColumnarPayload.yearBase) else {
                throw .badValue(offset: at, field: "columnar year", reason: "\(year) + 1900 above 2199")
            }
            years.append(year)
        }
        let months = try byteColumn("month", count: entryCount, max: 12)
        let customsColumn = try indexColumn("customs", customs)
        let transportColumn = try indexColumn("transport", transports)
        var keys: [TradeKey] = []
        keys.reserveCapacity(entryCount)
        let flowCases = Flow.allCases  // built once: `allCases` makes a new array at each use
        for index in 0..<entryCount {
            guard let period = try? Period(year: Int(years[index]) + 1900, month: Int(months[index])) else {
                throw .badValue(offset: reader.offset, field: "columnar period", reason: "entry \(index + 1) out of range")
            }
            keys.append(
                TradeKey(
                    validatedReporter: reporterColumn[index], partner: partnerColumn[index],
                    flow: flowCases[Int(flows[index])], commodity: commodityColumn[index], period: period,
                    customs: customsColumn[index], transport: transportColumn[index]))
        }
        return keys
    }

    /// Nil when `text` is a breakdown code as a key stores it (`all`, or a canonical code).
    static func breakdownProblem(_ text: String, customs: Bool) -> String? {
        guard let period = try? Period(year: 2000),
            let key = try? TradeKey(
                reporter: .world, partner: .world, flow: .import, commodity: .total, period: period,
                customs: customs ? text : TradeKey.all, transport: customs ? TradeKey.all : text),
            (customs ? key.customs : key.transport) == text
        else { return "not a canonical \(customs ? "customs" : "transport") code" }
        return nil
    }

    mutating func operations(kinds: [UInt8]) throws(DecodeError) -> [Operation] {
        let putKinds = kinds.filter { $0 != ColumnarPayload.kindDelete }
        let units = try table("unit", limit: RecordLimits.quantityUnit) { _ in nil }
        let values = try decimals("valueUSD", count: putKinds.count(where: { $0 & 1 != 0 }))
        let weights = try decimals("netWeightKg", count: putKinds.count(where: { $0 & 2 != 0 }))
        let quantities = try decimals("quantity", count: putKinds.count(where: { $0 & 4 != 0 }))
        let unitColumn = try indexColumn("unit", units, count: putKinds.count)
        let flags = try byteColumn("flags", count: putKinds.count, max: RecordFlags.known.rawValue)
        var next = (put: 0, value: 0, weight: 0, quantity: 0)
        var operations: [Operation] = []
        operations.reserveCapacity(entryCount)
        for kind in kinds {
            if kind == ColumnarPayload.kindDelete {
                operations.append(.delete)
                continue
            }
            var put = TradeValues(quantityUnit: unitColumn[next.put], flags: RecordFlags(rawValue: flags[next.put]))
            next.put += 1
            if kind & 1 != 0 {
                put.valueUSD = values[next.value]
                next.value += 1
            }
            if kind & 2 != 0 {
                put.netWeightKg = weights[next.weight]
                next.weight += 1
            }
            if kind & 4 != 0 {
                put.quantity = quantities[next.quantity]
                next.quantity += 1
            } else if kind & ColumnarPayload.kindQuantityIsWeight != 0 {
                put.quantity = put.netWeightKg
            }
            operations.append(.put(put))
        }
        return operations
    }

    /// `count` zig-zag mantissas, then `count` scale bytes; each value normalised.
    mutating func decimals(_ name: String, count: Int) throws(DecodeError) -> [ExactDecimal] {
        var mantissas: [Int64] = []
        mantissas.reserveCapacity(count)
        for _ in 0..<count { mantissas.append(try reader.readZigZag()) }
        var decimals: [ExactDecimal] = []
        decimals.reserveCapacity(count)
        for mantissa in mantissas {
            let at = reader.offset
            let scale = try reader.readU8()
            guard scale <= ExactDecimal.scaleMax, scale == 0 || mantissa % 10 != 0 else {
                throw .badValue(offset: at, field: "columnar \(name) scale", reason: "\(scale) above 9 or not normalised")
            }
            decimals.append(ExactDecimal(normalizingMantissa: mantissa, scale: scale))
        }
        return decimals
    }
}
