import TOMLKit
import TradeSyncClock
import TradeSyncModel

extension NodeConfig {
    /// Parses the `[[origin]]` tables: `id` (a full node ID, or 64 hex digits) and
    /// `reporters` (reporter area codes, e.g. `["DEU", "FRA"]`), one table per origin.
    /// - Throws: ``ConfigError`` naming the file, the table (1-based) and what is wrong:
    ///   not an array of tables, a missing or mistyped `id` (the check symbol's reason), an
    ///   origin listed twice, an unknown key, a code that is no area code.
    static func originTables(_ value: any TOMLValueConvertible, _ path: String) throws(ConfigError)
        -> [NodeID: Set<AreaCode>]
    {
        guard let tables = value.array else {
            throw ConfigError(source: path, reason: "origin must be an array of tables ([[origin]] with id and reporters)")
        }
        var result: [NodeID: Set<AreaCode>] = [:]
        for (position, item) in tables.enumerated() {
            let name = "[[origin]] #\(position + 1)"
            guard let table = item.table else { throw ConfigError(source: path, reason: "\(name) is not a table") }
            var id: NodeID?
            var reporters: Set<AreaCode>?
            for (key, field) in table {
                switch key {
                case "id":
                    guard let text = field.string else { throw ConfigError(source: path, reason: "\(name): id must be a string") }
                    do { id = try NodeIDText.parse(text) } catch {
                        throw ConfigError(source: path, reason: "\(name): id '\(text)': \(error.description)")
                    }
                case "reporters":
                    guard let list = field.array else {
                        throw ConfigError(source: path, reason: "\(name): reporters must be an array of area codes")
                    }
                    var codes: Set<AreaCode> = []
                    for code in list {
                        guard let text = code.string else {
                            throw ConfigError(source: path, reason: "\(name): reporters must be strings")
                        }
                        do { codes.insert(try AreaCode(text, field: "reporter")) } catch {
                            throw ConfigError(source: path, reason: "\(name): reporter '\(text)': \(error)")
                        }
                    }
                    reporters = codes
                default:
                    throw ConfigError(source: path, reason: "\(name): unknown key '\(key)' (id, reporters)")
                }
            }
            guard let id else { throw ConfigError(source: path, reason: "\(name): id is missing") }
            guard let reporters else { throw ConfigError(source: path, reason: "\(name): reporters is missing") }
            guard result[id] == nil else {
                throw ConfigError(source: path, reason: "\(name): origin \(NodeIDText.short(id)) is listed twice")
            }
            result[id] = reporters
        }
        return result
    }

    /// The origins the peer `node` may send entries of, from its `[[peer]]` table's
    /// `origins`; nil (any) when the config says nothing about it.
    func allowedOrigins(of node: NodeID) -> Set<NodeID>? {
        pinnedPeers.first { $0.id == node }?.origins
    }
}
