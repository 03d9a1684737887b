import Agent
import ArgumentParser
import Auth
import Foundation

/// `etcha build`.
struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Render a pattern, run its build commands, sign it with build.signingKey and write the JWT.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Pattern file (.jsonnet).") var pattern: String
    @Argument(help: "Where to write the JWT (default: the pattern's buildOutput, else etcha.jwt).") var output: String?

    func run() async throws {
        let (loaded, logger) = try global.load()
        let built: PatternBuilder.Output
        do {
            built = try await PatternBuilder(config: loaded.config, logger: logger).build(pattern)
        } catch {
            throw CLIError(error.description)
        }
        let destination =
            output ?? (built.rendered.pattern.buildOutput.isEmpty ? "etcha.jwt" : built.rendered.pattern.buildOutput)
        do {
            try writeAtomically(built.token + "\n", to: destination)
        } catch {
            throw CLIError("\(destination): cannot write the JWT: \(error)")
        }
        print("wrote \(destination)")
    }
}

/// `etcha push`.
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Build a pattern if needed and push it to hosts; print what changed on each.",
        discussion: """
            Hosts come from -h (repeatable, port 4000 unless given), else from every targets entry whose \
            sourcePatterns has SOURCE. Exits non-zero when any host failed.
            """,
        helpNames: [.long])

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customShort("h"), help: ArgumentHelp("Host to push to, HOST[:PORT] (repeatable).", valueName: "host"))
    var hosts: [String] = []
    @Flag(help: "Run check mode on the hosts: report what would change.") var check = false
    @Argument(help: "Source name on the hosts.") var source: String
    @Argument(help: "Pattern file, or a JWT (or a file holding one).") var pattern: String

    func run() async throws {
        let (loaded, logger) = try global.load()
        let config = loaded.config
        let isPattern = pattern.hasSuffix(".jsonnet") || pattern.hasSuffix(".json") || pattern.hasSuffix(".libsonnet")
        var destinations: [(label: String, destination: PushClient.Destination)] = []
        let builder = PatternBuilder(config: config, logger: logger)
        func token(for target: String?) async throws -> String {
            guard isPattern else { return readToken(pattern) }
            do {
                return try await builder.build(pattern, target: target).token
            } catch {
                throw CLIError(error.description)
            }
        }
        if !hosts.isEmpty {
            let shared = try await token(for: nil)
            destinations = hosts.map { ($0, PushClient.Destination(host: $0, token: shared, insecure: false)) }
        } else {
            for (name, target) in config.targets.sorted(by: { $0.key < $1.key })
            where target.sourcePatterns[source] != nil {
                let host = (target.hostname.isEmpty ? name : target.hostname) + ":" + target.port
                destinations.append(
                    (
                        name,
                        PushClient.Destination(host: host, token: try await token(for: name), insecure: target.insecure)
                    ))
            }
        }
        guard !destinations.isEmpty else {
            throw CLIError("no hosts: give -h HOST or targets with sourcePatterns.\(source)")
        }
        let results = await PushClient(config: config).push(
            source: source, to: destinations.map(\.destination), check: check)
        var failed = false
        for ((label, _), result) in zip(destinations, results) {
            print("\(label):")
            switch result {
            case .success(let answer):
                if !answer.changedIDs.isEmpty {
                    print(
                        "        \(check ? "Would change" : "Changed") \(answer.changedIDs.count): \(answer.changedIDs.joined(separator: ", "))"
                    )
                }
                if !answer.removedIDs.isEmpty {
                    print("        Removed \(answer.removedIDs.count): \(answer.removedIDs.joined(separator: ", "))")
                }
                if answer.changedIDs.isEmpty && answer.removedIDs.isEmpty { print("        No changes") }
                if !answer.err.isEmpty {
                    print("        error: \(answer.err)")
                    failed = true
                }
            case .failure(let error):
                print("        error: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
