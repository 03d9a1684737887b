import Foundation
import Testing

/// `tools/check-repository.py`, which `make check` runs: clean on this repository, and each kind of
/// problem it exists for is reported in a small repository made to have it.
@Suite struct RepositoryCheckTests {
    static let checker = Binary.repository + "/tools/check-repository.py"

    @Test func thisRepositoryPasses() throws {
        let result = try Ecosystem.sh("python3 '\(Self.checker)'")
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func eachKindOfProblemIsReported() throws {
        let scratch = Scratch()
        scratch.write(
            "docs/behaviour.md", "# Contract\n\n## 1. Command line\n\n### Errors and exit status\n\nText.\n")
        scratch.write(
            "README.md",
            "# Demo\n\n[good](docs/behaviour.md#1-command-line) [missing](docs/nowhere.md) "
                + "[no heading](docs/behaviour.md#2-configuration) [outside](../elsewhere/SPEC.md)\n"
                + String(repeating: "line\n", count: 300))
        scratch.write(
            "Sources/Lib/Lib.swift",
            "import Logging\n\n/// See docs/behaviour.md#errors-and-exit-status and §1, not §4 or SPEC §1.\n"
                + "public let x = 1\n")
        scratch.write(
            "Package.swift",
            """
            // swift-tools-version: 6.0
            import PackageDescription
            let package = Package(
                name: "demo",
                dependencies: [.package(url: "https://github.com/apple/swift-collections", from: "1.6.0")],
                targets: [
                    .target(name: "Lib", dependencies: [.product(name: "DequeModule", package: "swift-collections")])
                ]
            )
            """)
        let initialized = try Ecosystem.sh("git init -q . && git add -A", in: scratch.path)
        try #require(initialized.status == 0, "\(initialized.output)")

        let result = try Ecosystem.sh("python3 '\(Self.checker)' --repo '\(scratch.path)'")
        #expect(result.status == 1)
        for problem in [
            "README.md: link to docs/nowhere.md: no such file",
            "README.md: link to docs/behaviour.md#2-configuration: no heading #2-configuration",
            "README.md: 303 lines, more than 300",
            "Sources/Lib/Lib.swift: §4 is not a numbered section of docs/behaviour.md",
            "README.md: link to ../elsewhere/SPEC.md: outside the repository",
            "Sources/Lib/Lib.swift: cites the contract as SPEC §N",
            "Sources/Lib/Lib.swift: imports Logging, which Package.swift target Lib does not declare",
            "Package.swift target Lib: declares DequeModule, which none of its files imports",
        ] {
            #expect(result.output.contains(problem), "missing: \(problem)\n\(result.output)")
        }
        #expect(!result.output.contains("#1-command-line"), "\(result.output)")
        #expect(!result.output.contains("#errors-and-exit-status"), "\(result.output)")
        #expect(!result.output.contains("§1 "), "\(result.output)")
    }
}
