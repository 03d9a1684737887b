// swift-tools-version: 6.2
// The fuzz target's own package, beside the agent's. `make fuzz` builds it with libFuzzer and
// AddressSanitizer and runs it on the corpus in Fuzz/corpus.
import PackageDescription

let package = Package(
    name: "etcha-agent-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "etcha-agent", path: "..")],
    targets: [
        .executableTarget(
            name: "EtchaFuzz",
            dependencies: [
                .product(name: "Agent", package: "etcha-agent"),
                .product(name: "Auth", package: "etcha-agent"),
                .product(name: "EtchaJSON", package: "etcha-agent"),
            ],
            path: "EtchaFuzz",
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
