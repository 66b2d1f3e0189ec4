/// An array kept as fixed-size chunks, each a copy-on-write buffer of its own: copying the
/// whole costs one small array of chunk references, and a later write to either copy then
/// duplicates only the chunk it lands in (``chunkCount`` elements), not every element.
///
/// Why: a checkpoint encodes a copy of the replica's state (and of the log index) on
/// another thread while the node goes on writing. With plain arrays the first write after
/// the copy duplicated each array it touched, all of it, on the node's actor: ~128 ms at 5M
/// keys, seen as a stalled +100 write. This is the persistent-vector idea (Bagwell, "Ideal
/// Hash Trees", 2001; Clojure's vectors) cut to one level, as the arrays only grow.
///
/// Shape: element `i` is `chunks[i >> 12][i & 4095]`; every chunk but the last is full.
/// Memory: the elements, plus at most one partly filled chunk and 8 bytes per chunk.
/// Complexity: subscript O(1) (two loads); append amortised O(1); a copy O(count / 4,096).
public struct ChunkedArray<Element>: RandomAccessCollection, MutableCollection {
    /// log2 of the elements per chunk.
    @usableFromInline static var shift: Int { 12 }
    /// Elements per chunk: 4,096 (32 KiB of 8-byte elements).
    public static var chunkCount: Int { 1 << shift }
    @usableFromInline static var mask: Int { chunkCount - 1 }

    @usableFromInline var chunks: [[Element]] = []
    /// The number of elements (stored: `chunks` gives it only through the last chunk).
    @usableFromInline var stored = 0

    /// The number of elements.
    @inlinable public var count: Int { stored }

    /// An empty array.
    @inlinable public init() {}

    /// `count` copies of `value`.
    @inlinable public init(repeating value: Element, count: Int) {
        precondition(count >= 0, "negative count")
        var left = count
        chunks.reserveCapacity((count + Self.mask) >> Self.shift)
        while left > 0 {  // bound: left shrinks by up to a chunk per pass
            let size = Swift.min(left, Self.chunkCount)
            var chunk = [Element](repeating: value, count: size)
            if size < Self.chunkCount { chunk.reserveCapacity(Self.chunkCount) }
            chunks.append(chunk)
            left -= size
        }
        stored = count
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable public subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < count, "ChunkedArray index out of range")
            return chunks[position >> Self.shift][position & Self.mask]
        }
        set {
            precondition(position >= 0 && position < count, "ChunkedArray index out of range")
            chunks[position >> Self.shift][position & Self.mask] = newValue
        }
    }

    /// The elements of `elements`, in order.
    @inlinable public init(_ elements: some Sequence<Element>) {
        append(contentsOf: elements)
    }

    /// Adds `elements` at the end, in order.
    @inlinable public mutating func append(contentsOf elements: some Sequence<Element>) {
        for element in elements { append(element) }
    }

    /// Adds `element` at the end.
    @inlinable public mutating func append(_ element: Element) {
        if count & Self.mask == 0 {
            var chunk: [Element] = []
            chunk.reserveCapacity(Self.chunkCount)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(element)
        stored += 1
    }

    /// Makes room in the chunk list for `capacity` elements (the chunks themselves are
    /// allocated as they fill).
    @inlinable public mutating func reserveCapacity(_ capacity: Int) {
        chunks.reserveCapacity((capacity + Self.mask) >> Self.shift)
    }
}

extension ChunkedArray: Sendable where Element: Sendable {}

extension ChunkedArray: Equatable where Element: Equatable {
    @inlinable public static func == (lhs: ChunkedArray, rhs: ChunkedArray) -> Bool { lhs.chunks == rhs.chunks }
}
