// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "etcha-agent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "etcha", targets: ["etcha"]),
        // For the benchmark and fuzzing packages beside this one (bench/, Fuzz/).
        .library(name: "Agent", targets: ["Agent"]),
        .library(name: "Auth", targets: ["Auth"]),
        .library(name: "EtchaCore", targets: ["EtchaCore"]),
        .library(name: "EtchaJSON", targets: ["EtchaJSON"]),
        .library(name: "EtchaInstrumentation", targets: ["EtchaInstrumentation"]),
        .library(name: "CJsonnet", targets: ["CJsonnet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        .target(
            name: "CJsonnet", path: "Sources/CJsonnet", exclude: ["jsonnet-0.18/LICENSE"],
            cxxSettings: [.headerSearchPath("jsonnet-0.18")]
        ),
        .target(name: "CSpawn", path: "Sources/CSpawn"),
        // The vocabulary that the agent, the metrics and the command line share.
        .target(name: "EtchaCore", path: "Sources/Core", swiftSettings: strict),
        .target(name: "EtchaJSON", path: "Sources/JSON", swiftSettings: strict),
        .target(
            name: "Auth",
            dependencies: [
                "EtchaJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "EtchaInstrumentation",
            dependencies: [
                "EtchaCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Sources/Instrumentation",
            swiftSettings: strict
        ),
        .target(
            name: "Agent",
            dependencies: [
                "Auth", "EtchaCore", "EtchaJSON", "EtchaInstrumentation", "CJsonnet", "CSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "etcha",
            dependencies: [
                "Agent", "Auth", "EtchaCore", "EtchaJSON", "EtchaInstrumentation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AuthTests", dependencies: ["Auth", "EtchaJSON"], exclude: ["Vectors"], swiftSettings: strict),
        .testTarget(
            name: "EtchaInstrumentationTests",
            dependencies: [
                "EtchaCore", "EtchaInstrumentation", .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "Auth", "CJsonnet", "EtchaCore", "EtchaJSON", "EtchaInstrumentation",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests", dependencies: ["etcha", "Auth"], exclude: ["Tokens"], swiftSettings: strict),
    ],
    cxxLanguageStandard: .cxx17
)
