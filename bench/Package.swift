// swift-tools-version: 6.2
// The benchmarks' own package, beside the agent's (as Hummingbird and swift-nio keep theirs), so the
// agent's package ships no benchmark code. bench/run.sh builds and runs them.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "etcha-agent-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "etcha-agent", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "EngineOverhead",
            dependencies: [
                .product(name: "Agent", package: "etcha-agent"),
                .product(name: "EtchaCore", package: "etcha-agent"),
                .product(name: "EtchaInstrumentation", package: "etcha-agent"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "EngineOverhead",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SignedConfigBench",
            dependencies: [
                .product(name: "Agent", package: "etcha-agent"),
                .product(name: "Auth", package: "etcha-agent"),
                .product(name: "CJsonnet", package: "etcha-agent"),
                .product(name: "EtchaInstrumentation", package: "etcha-agent"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "SignedConfig",
            swiftSettings: strict
        ),
    ]
)
