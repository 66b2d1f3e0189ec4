/// A plain-text table: a header row and data rows, columns padded to their widest cell.
///
/// Columns are separated by two spaces; numeric columns are right-aligned. Width is
/// counted in `Character`s, which is right for the ASCII codes and numbers shown here.
/// Complexity: O(cells).
struct TextTable {
    /// How a column aligns its cells.
    enum Alignment { case left, right }

    /// One column: its header and alignment.
    struct Column {
        let header: String
        let alignment: Alignment

        init(_ header: String, _ alignment: Alignment = .left) {
            self.header = header
            self.alignment = alignment
        }
    }

    let columns: [Column]
    private(set) var rows: [[String]] = []

    init(_ columns: [Column]) { self.columns = columns }

    /// Appends a row. Missing cells print empty; extra cells are dropped.
    mutating func append(_ cells: [String]) {
        rows.append(Array(cells.prefix(columns.count)))
    }

    /// The table as lines joined by newlines, without a trailing newline.
    var rendered: String {
        var widths = columns.map(\.header.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        let headerCells = columns.map(\.header)
        return ([headerCells] + rows).map { render($0, widths: widths) }.joined(separator: "\n")
    }

    private func render(_ cells: [String], widths: [Int]) -> String {
        var parts: [String] = []
        for (index, column) in columns.enumerated() {
            let cell = index < cells.count ? cells[index] : ""
            let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
            let isLast = index == columns.count - 1
            switch column.alignment {
            case .left: parts.append(isLast ? cell : cell + padding)
            case .right: parts.append(padding + cell)
            }
        }
        var line = parts.joined(separator: "  ")
        while line.last == " " { line.removeLast() }
        return line
    }
}

/// Two-column `label  value` lines, labels padded to the widest (used by `status`, `get`
/// and the import summary).
func labelled(_ pairs: [(String, String)], indent: String = "") -> String {
    let width = pairs.map(\.0.count).max() ?? 0
    return pairs.map { label, value in
        indent + label + String(repeating: " ", count: width - label.count) + "  " + value
    }.joined(separator: "\n")
}
