import CoreMetrics
import Prometheus
import Synchronization
import TradeSyncClock

/// The node's Prometheus metrics, made through the swift-metrics API by a factory over
/// the node's own ``PrometheusCollectorRegistry`` (never the global `MetricsSystem`, so
/// several nodes, or tests, in one process keep apart).
///
/// Two kinds of values:
/// - events counted where they happen: ``recordFsync(nanoseconds:)``,
///   ``countAppended(_:source:)``, ``countImportRows(accepted:rejected:)``;
/// - state read from one ``MetricsSnapshot`` right before each scrape: ``render(_:)``
///   sets the gauges and advances the byte and frame counters to the node's totals.
///
/// Thread-safe: every method may be called from any thread.
public final class NodeMetrics: Sendable {
    /// Where entries appended to the log came from (the `source` label).
    public enum EntrySource: String, Sendable, CaseIterable {
        /// `tradesync put`, `delete` and `resolve`.
        case local
        /// `tradesync import`.
        case `import`
        /// Batches received from peers.
        case received
    }

    /// The registry every metric of this node is registered in; ``render(_:)`` emits it.
    public let registry: PrometheusCollectorRegistry
    let factory: HelpingMetricsFactory
    let fsyncDuration: CoreMetrics.Timer
    let appended: [EntrySource: CoreMetrics.Counter]
    let importRowsAccepted: CoreMetrics.Counter
    let importRowsRejected: CoreMetrics.Counter
    private let scrape = Mutex(ScrapeState())
    private let lifecycle = Mutex(NodeHealth.serving)

    /// A fresh registry with every event metric registered (at zero).
    public init() {
        let registry = PrometheusCollectorRegistry()
        let factory = HelpingMetricsFactory(registry: registry)
        self.registry = registry
        self.factory = factory
        fsyncDuration = CoreMetrics.Timer(label: MetricName.fsyncDuration, factory: factory)
        var appended: [EntrySource: CoreMetrics.Counter] = [:]
        for source in EntrySource.allCases {
            appended[source] = CoreMetrics.Counter(
                label: MetricName.entriesAppended, dimensions: [("source", source.rawValue)], factory: factory)
        }
        self.appended = appended
        importRowsAccepted = CoreMetrics.Counter(
            label: MetricName.importRows, dimensions: [("result", "accepted")], factory: factory)
        importRowsRejected = CoreMetrics.Counter(
            label: MetricName.importRows, dimensions: [("result", "rejected")], factory: factory)
    }

    // MARK: Events

    /// Records one group-commit fsync that took `nanoseconds`.
    public func recordFsync(nanoseconds: Int64) { fsyncDuration.recordNanoseconds(max(0, nanoseconds)) }

    /// Counts `count` entries appended to the log (once they are durable).
    public func countAppended(_ count: Int, source: EntrySource) {
        guard count > 0 else { return }
        appended[source]?.increment(by: Int64(count))
    }

    /// Counts the rows of one import the node took: `accepted` records it received
    /// (written or already held), `rejected` rows the CLI skipped as invalid.
    public func countImportRows(accepted: Int, rejected: Int) {
        if accepted > 0 { importRowsAccepted.increment(by: Int64(accepted)) }
        if rejected > 0 { importRowsRejected.increment(by: Int64(rejected)) }
    }

    // MARK: Health

    /// Whether the node serves, is stopping or failed; readable without the node's actor,
    /// so `/health` answers at once while the node is busy shutting down.
    public var health: NodeHealth { lifecycle.withLock { $0 } }

    /// Records that the node stops: a failure is kept (it says more than `stopping`).
    public func noteHealth(_ health: NodeHealth) {
        lifecycle.withLock { current in
            if case .failed = current { return }
            current = health
        }
    }

    // MARK: Scrapes

    /// Applies `snapshot` (unless a newer one was applied already) and returns the
    /// registry in the Prometheus text exposition format (version 0.0.4).
    public func render(_ snapshot: MetricsSnapshot) -> String {
        scrape.withLock { state in
            if state.applied.map({ snapshot.takenAt >= $0 }) ?? true {
                state.applied = snapshot.takenAt
                apply(snapshot, to: &state)
            }
            return registry.emitToString()
        }
    }

    /// Sets every state gauge and advances every total counter; gauges of series the
    /// snapshot no longer has (a peer now known by its node ID rather than its address)
    /// are removed from the registry.
    private func apply(_ snapshot: MetricsSnapshot, to state: inout ScrapeState) {
        var seen: Set<SeriesKey> = []
        func gauge(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
            let key = SeriesKey(name: name, labels: labels)
            seen.insert(key)
            let gauge = state.gauges[key] ?? CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
            state.gauges[key] = gauge
            gauge.record(value)
        }
        func total(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
            let key = SeriesKey(name: name, labels: labels)
            let counter = state.counters[key] ?? CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
            state.counters[key] = counter
            let previous = state.totals[key] ?? 0
            guard value > previous else { return }  // totals never shrink; a stale read is skipped
            counter.increment(by: Int64(clamping: value - previous))
            state.totals[key] = value
        }
        gauge(MetricName.logEntries, [], Double(snapshot.entries))
        gauge(MetricName.records, [], Double(snapshot.records))
        gauge(MetricName.keys, [], Double(snapshot.keys))
        gauge(MetricName.conflicts, [], Double(snapshot.conflicts))
        gauge(MetricName.tombstones, [], Double(snapshot.tombstones))
        if snapshot.batchPayloadBytesSent > 0 {
            gauge(
                MetricName.compressionRatio, [],
                Double(snapshot.batchUncompressedBytesSent) / Double(snapshot.batchPayloadBytesSent))
        }
        for peer in snapshot.peers {
            let label = [("peer", peer.label)]
            gauge(MetricName.peerConnected, label, peer.connected ? 1 : 0)
            for lag in peer.lag {
                gauge(MetricName.peerLag, label + [("origin", lag.origin)], Double(lag.entries))
            }
            if let age = peer.lastAckAgeSeconds { gauge(MetricName.peerLastAckAge, label, age) }
            total(MetricName.bytesSent, label, peer.bytesSent)
            total(MetricName.bytesReceived, label, peer.bytesReceived)
            total(MetricName.framesSent, label, peer.framesSent)
            total(MetricName.framesReceived, label, peer.framesReceived)
        }
        for (key, gauge) in state.gauges where !seen.contains(key) {
            gauge.destroy()
            state.gauges[key] = nil
        }
    }
}

/// Series made for scrapes, and the totals their counters were advanced to.
private struct ScrapeState {
    var applied: MonotonicInstant?
    var gauges: [SeriesKey: CoreMetrics.Gauge] = [:]
    var counters: [SeriesKey: CoreMetrics.Counter] = [:]
    var totals: [SeriesKey: UInt64] = [:]
}

/// One time series: a metric name and its label pairs, in order.
private struct SeriesKey: Hashable {
    let name: String
    let labels: [String]

    init(name: String, labels: [(String, String)]) {
        self.name = name
        self.labels = labels.map { "\($0.0)=\($0.1)" }
    }
}

/// The metric names, each with its unit per Prometheus conventions, and their HELP texts
/// (README "Metrics and health" lists them with their labels).
enum MetricName {
    static let logEntries = "tradesync_log_entries"
    static let entriesAppended = "tradesync_entries_appended_total"
    static let records = "tradesync_records"
    static let keys = "tradesync_keys"
    static let conflicts = "tradesync_conflicts"
    static let tombstones = "tradesync_tombstones"
    static let peerConnected = "tradesync_peer_connected"
    static let peerLag = "tradesync_peer_lag_entries"
    static let peerLastAckAge = "tradesync_peer_last_ack_age_seconds"
    static let bytesSent = "tradesync_bytes_sent_total"
    static let bytesReceived = "tradesync_bytes_received_total"
    static let framesSent = "tradesync_frames_sent_total"
    static let framesReceived = "tradesync_frames_received_total"
    static let compressionRatio = "tradesync_batch_compression_ratio"
    static let fsyncDuration = "tradesync_fsync_duration_seconds"
    static let importRows = "tradesync_import_rows_total"

    /// The HELP line of each metric: what it is, and its unit.
    static let help: [String: String] = [
        logEntries: "Entries in the node's log, of every origin (entries).",
        entriesAppended:
            "Entries appended to the log since start, once durable, by source: local (put, delete, resolve), import, received (from peers) (entries).",
        records: "Keys whose winning version is a put (records).",
        keys: "Keys with any surviving version, deleted ones included (keys).",
        conflicts: "Keys with more than one concurrent version, not yet resolved (keys).",
        tombstones: "Keys whose winning version is a delete (keys).",
        peerConnected:
            "1 while a session with the peer is up, else 0; every configured peer and every peer seen since start (peer: short node ID, or address while unknown).",
        peerLag:
            "Entries of the origin this node holds that the peer has not acknowledged: local vector minus the peer's last known vector (entries; origin: short node ID).",
        peerLastAckAge:
            "Time since the peer last told its vector (VECTOR at handshake, an ACK, or a BATCH it sent); absent until it has since start (seconds).",
        bytesSent: "Bytes sent to the peer since start, frame headers included (bytes).",
        bytesReceived: "Bytes received from the peer since start, frame headers included (bytes).",
        framesSent: "Frames sent to the peer since start (frames).",
        framesReceived: "Frames received from the peer since start (frames).",
        compressionRatio:
            "Uncompressed payload bytes divided by payload bytes sent, over every BATCH sent since start; absent until the first (ratio).",
        fsyncDuration: "Duration of each group-commit fsync of the log (seconds).",
        importRows:
            "Rows of import files since start, by result: accepted = records the node took in an import (written or already held), rejected = invalid rows the CLI skipped (--skip-invalid) in those imports (rows).",
    ]

    /// Histogram buckets of ``fsyncDuration``: 0.1 ms to 1 s.
    static let fsyncBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1),
    ]
}

/// A swift-metrics factory over one Prometheus registry that registers each metric with
/// its HELP text (``MetricName/help``).
///
/// `PrometheusMetricsFactory` registers every metric with an empty help text, and the
/// registry refuses (traps) a second help text for a family, so HELP lines need their
/// text at registration: this factory passes it, and hands removals to a
/// `PrometheusMetricsFactory` over the same registry.
struct HelpingMetricsFactory: MetricsFactory {
    let base: PrometheusMetricsFactory
    var registry: PrometheusCollectorRegistry { base.registry }

    init(registry: PrometheusCollectorRegistry) {
        var base = PrometheusMetricsFactory(registry: registry)
        base.durationHistogramBuckets = [MetricName.fsyncDuration: MetricName.fsyncBuckets]
        self.base = base
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: MetricName.help[label] ?? "")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        let buckets = base.valueHistogramBuckets[label] ?? base.defaultValueHistogramBuckets
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let buckets = base.durationHistogramBuckets[label] ?? base.defaultDurationHistogramBuckets
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        base.destroyFloatingPointCounter(handler)
    }
    func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
    func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
