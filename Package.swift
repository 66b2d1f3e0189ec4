// swift-tools-version:6.1
//
// TradeSync: keeps trade-partner datasets in sync between regional offices.
// Module order follows the data flow (docs/ARCHITECTURE.md); a module imports only
// modules to its left:
//   Model → Clock → Log → Replica → Wire → Session → Transport → Daemon → executables
// Import (file parsing) and Control (CLI ↔ daemon messages) hang off Model/Replica.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "TradeSync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tradesyncd", targets: ["tradesyncd"]),
        .executable(name: "tradesync", targets: ["tradesync"]),
        .executable(name: "tradesync-sim", targets: ["tradesync-sim"]),
        .executable(name: "tradesync-bench", targets: ["tradesync-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // BoringSSL's one-shot SHA-256, from swift-crypto's own copy (see its header).
        .systemLibrary(name: "CBoringSHA256", path: "Sources/CBoringSHA256"),

        // Pure core: no sockets, no clock of its own.
        .target(name: "TradeSyncModel", swiftSettings: swiftSettings),
        .target(name: "TradeSyncClock", dependencies: ["TradeSyncModel"], swiftSettings: swiftSettings),
        .target(
            name: "TradeSyncLog",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "CBoringSHA256",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "TradeSyncReplica",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "TradeSyncLog",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        .target(name: "TradeSyncImport", dependencies: ["TradeSyncModel"], swiftSettings: swiftSettings),
        .target(
            name: "TradeSyncWire",
            dependencies: ["TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "CZlib"],
            swiftSettings: swiftSettings),
        .target(
            name: "TradeSyncSession",
            dependencies: ["TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncWire"],
            swiftSettings: swiftSettings),

        // Edge: NIO, processes, time.
        .target(
            name: "TradeSyncTransport",
            dependencies: [
                "TradeSyncClock", "TradeSyncWire", "TradeSyncSession",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .target(
            name: "TradeSyncControl",
            dependencies: ["TradeSyncModel"],
            swiftSettings: swiftSettings),
        .target(
            name: "TradeSyncDaemon",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncReplica", "TradeSyncImport",
                "TradeSyncWire", "TradeSyncSession", "TradeSyncTransport", "TradeSyncControl",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "tradesyncd",
            dependencies: [
                "TradeSyncDaemon", "TradeSyncClock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "tradesync",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "TradeSyncImport", "TradeSyncControl", "TradeSyncLog",
                "TradeSyncReplica",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),

        // Deterministic simulation: the pure core over a simulated network, disk and clocks.
        // Never imports Transport, Daemon or NIO; no real clock, no threads.
        .target(
            name: "TradeSyncSimulator",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncReplica", "TradeSyncWire",
                "TradeSyncSession", "TradeSyncImport",
            ],
            swiftSettings: swiftSettings),
        // The log's benchmarks (not tests): Benchmarks/log_bench.sh runs them on a release build.
        .executableTarget(
            name: "tradesync-bench",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncReplica", "TradeSyncTransport",
                "TradeSyncDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/LogBench", swiftSettings: swiftSettings),
        // Snapshot codec timings (not a test): swift build -c release --product tradesync-snapshot-bench
        .executableTarget(
            name: "tradesync-snapshot-bench",
            dependencies: ["TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncReplica"],
            path: "Benchmarks/SnapshotBench", swiftSettings: swiftSettings),
        // CPU per entry of each replication stage, in one process (not a test):
        // swift build -c release --product tradesync-pipeline-bench
        .executableTarget(
            name: "tradesync-pipeline-bench",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncReplica", "TradeSyncImport", "TradeSyncWire",
            ],
            path: "Benchmarks/PipelineBench", swiftSettings: swiftSettings),
        // BATCH bytes per entry with and without the preset dictionary (not a test):
        // swift build -c release --product tradesync-compression-bench; Benchmarks/compression_bench.sh
        .executableTarget(
            name: "tradesync-compression-bench",
            dependencies: [
                "TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncReplica", "TradeSyncImport", "TradeSyncWire",
            ],
            path: "Benchmarks/CompressionBench", swiftSettings: swiftSettings),
        // Fuzzing (issue 5 §4, docs/FUZZING.md): the targets, and the tool that runs them either
        // as a seeded mutation fuzzer (normal build) or under libFuzzer (Fuzz/run.sh builds it
        // with -DFUZZING -sanitize=fuzzer into .build-fuzz).
        .target(
            name: "TradeSyncFuzzTargets",
            dependencies: ["TradeSyncModel", "TradeSyncClock", "TradeSyncLog", "TradeSyncWire", "TradeSyncSession"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "tradesync-fuzz", dependencies: ["TradeSyncFuzzTargets"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "tradesync-sim",
            dependencies: [
                "TradeSyncSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .testTarget(name: "TradeSyncModelTests", dependencies: ["TradeSyncModel"], swiftSettings: swiftSettings),
        .testTarget(name: "TradeSyncClockTests", dependencies: ["TradeSyncClock", "TradeSyncModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncLogTests", dependencies: ["TradeSyncLog", "TradeSyncClock", "TradeSyncModel"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncReplicaTests",
            dependencies: ["TradeSyncReplica", "TradeSyncLog", "TradeSyncClock", "TradeSyncModel"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncImportTests", dependencies: ["TradeSyncImport", "TradeSyncModel"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncWireTests",
            dependencies: ["TradeSyncWire", "TradeSyncLog", "TradeSyncClock", "TradeSyncModel", "TradeSyncImport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncSessionTests",
            dependencies: ["TradeSyncSession", "TradeSyncWire", "TradeSyncLog", "TradeSyncClock", "TradeSyncModel"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncControlTests", dependencies: ["TradeSyncControl", "TradeSyncModel"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncDaemonTests",
            dependencies: [
                "TradeSyncDaemon", "TradeSyncTransport", "TradeSyncClock", "TradeSyncModel", "TradeSyncControl",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncSimulatorTests",
            dependencies: [
                "TradeSyncSimulator", "TradeSyncReplica", "TradeSyncSession", "TradeSyncWire", "TradeSyncLog",
                "TradeSyncClock", "TradeSyncModel",
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncFuzzTests",
            dependencies: ["TradeSyncFuzzTargets", "TradeSyncWire", "TradeSyncModel"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TradeSyncEndToEndTests",
            dependencies: [
                "TradeSyncModel", "TradeSyncControl", "TradeSyncClock", "TradeSyncLog", "TradeSyncWire",
                "TradeSyncTransport",
                // TLS tests: a test client, a TLS-terminating proxy, certificates of other keys.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings),
    ]
)
