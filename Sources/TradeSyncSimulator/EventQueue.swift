/// A priority queue of events ordered by (virtual time, insertion number): the earliest
/// first, and events due at the same instant in the order they were scheduled. That order
/// is total, so a run never depends on anything but the seed.
///
/// A binary min-heap: push and pop are O(log n). Time is in nanoseconds of virtual time
/// (``MonotonicInstant`` nanoseconds).
struct EventQueue<Payload> {
    private struct Item {
        let time: UInt64
        let order: UInt64
        let payload: Payload

        func precedes(_ other: Item) -> Bool {
            time != other.time ? time < other.time : order < other.order
        }
    }

    private var heap: [Item] = []
    private var nextOrder: UInt64 = 0

    /// Events waiting.
    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    /// The time of the earliest event, if any.
    var nextTime: UInt64? { heap.first?.time }

    /// Schedules `payload` at `time` (nanoseconds), after everything already due then.
    mutating func push(_ payload: Payload, at time: UInt64) {
        heap.append(Item(time: time, order: nextOrder, payload: payload))
        nextOrder += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest event with its time.
    mutating func pop() -> (time: UInt64, payload: Payload)? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown()
        }
        return (top.time, top.payload)
    }

    private mutating func siftDown() {
        var parent = 0
        let count = heap.count
        while true {  // bounded: the index at least doubles each turn
            let left = 2 * parent + 1
            guard left < count else { return }
            let right = left + 1
            var best = left
            if right < count && heap[right].precedes(heap[left]) { best = right }
            guard heap[best].precedes(heap[parent]) else { return }
            heap.swapAt(best, parent)
            parent = best
        }
    }
}
