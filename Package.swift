// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "etcha-agent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "etcha", targets: ["etcha"]),
        .executable(name: "EngineOverhead", targets: ["EngineOverhead"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CJsonnet", path: "Sources/CJsonnet"),
        .target(
            name: "Auth",
            swiftSettings: strict
        ),
        .target(
            name: "Instrumentation",
            dependencies: [.product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strict
        ),
        .target(
            name: "Agent",
            dependencies: [
                "Auth", "Instrumentation", "CJsonnet",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "etcha",
            dependencies: [
                "Agent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "EngineOverhead",
            dependencies: ["Agent", "Instrumentation", .product(name: "Logging", package: "swift-log")],
            path: "bench/EngineOverhead",
            swiftSettings: strict
        ),
        .testTarget(name: "AuthTests", dependencies: ["Auth"], swiftSettings: strict),
        .testTarget(
            name: "InstrumentationTests",
            dependencies: ["Instrumentation", .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strict),
        .testTarget(
            name: "AgentTests",
            dependencies: ["Agent", "Instrumentation", .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["etcha"], swiftSettings: strict),
    ]
)
