import Logging
import Synchronization
import TradeSyncClock
import TradeSyncTransport

/// The dial loops of the configured peers, one task per ``DialTarget``, started and
/// stopped as config reloads add and remove peers. A target that stays configured keeps
/// its task, and so its session.
final class DialSupervisor: Sendable {
    private let network: PeerNetwork
    private let node: Node
    private let tasks = Mutex<[DialTarget: Task<Void, Never>]>([:])

    init(network: PeerNetwork, node: Node) {
        self.network = network
        self.node = node
    }

    /// Starts dialling each target not dialled yet.
    func start(_ targets: [DialTarget]) {
        let network = network
        let node = node
        tasks.withLock { tasks in
            for target in targets where tasks[target] == nil {
                let address = target.address
                let pinned = target.expected
                tasks[target] = Task {
                    await network.dial(
                        address, expected: pinned,
                        shouldDial: { await node.shouldDial(address.description, pinned: pinned) })
                }
            }
        }
    }

    /// Stops dialling these targets (their running sessions end with the task) and waits
    /// until their loops returned.
    func stop(_ targets: [DialTarget]) async {
        let stopped = tasks.withLock { tasks in targets.compactMap { tasks.removeValue(forKey: $0) } }
        for task in stopped { task.cancel() }
        for task in stopped { await task.value }
    }

    /// Stops every dial loop and waits for them (shutdown).
    func stopAll() async {
        let all = tasks.withLock { Array($0.keys) }
        await stop(all)
    }

    /// The targets being dialled.
    var targets: Set<DialTarget> { tasks.withLock { Set($0.keys) } }
}
