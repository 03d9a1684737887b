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
    @Argument(help: "A source whose exec the build commands run under, as in Etcha's current docs.") var source: String?

    func run() async throws {
        let (loaded, logger) = try global.load()
        let built: PatternBuilder.Output
        do {
            built = try await PatternBuilder(config: loaded.config, logger: logger).build(
                .file(pattern), destination: output, source: source)
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
        abstract: "Push a pattern or an ad-hoc command to hosts; print what changed on each.",
        discussion: """
            Hosts come from -h (repeatable), else from every targets entry whose sourcePatterns has SOURCE \
            (filtered by -n). A target's sourcePatterns value, when not empty, is what it is pushed; otherwise \
            PATTERN: a pattern file (.jsonnet), a JWT or a file holding one, or else a command, run on the host \
            as the pattern {run: [{id: 'etcha push', always: true, change: COMMAND}]}, whose output is printed. \
            Exits non-zero when any host failed.
            """,
        helpNames: [.long])

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customShort("h"), help: ArgumentHelp("Host to push to, HOST[:PORT] (repeatable).", valueName: "host"))
    var hosts: [String] = []
    @Option(name: .customShort("p"), help: ArgumentHelp("Port for -h hosts given without one.", valueName: "port"))
    var port = "4000"
    @Option(name: .customShort("u"), help: ArgumentHelp("Push path for -h hosts.", valueName: "path"))
    var path = "/etcha/v1/push"
    @Option(
        name: .customShort("n"),
        help: ArgumentHelp("Push only to targets whose name matches this expression.", valueName: "regexp"))
    var targetFilter = ""
    @Option(
        name: .customShort("f"),
        help: ArgumentHelp("Run only the commands whose parent ids match this expression.", valueName: "regexp"))
    var filter = ""
    @Flag(name: [.customShort("c"), .long], help: "Run check mode on the hosts: report what would change.")
    var check = false
    @Argument(help: "Source name on the hosts.") var source: String
    @Argument(parsing: .captureForPassthrough, help: "Pattern file, JWT, or command (the words are joined).")
    var pattern: [String] = []

    func validate() throws {
        for (flag, expression) in [("-n", targetFilter), ("-f", filter)] where !expression.isEmpty {
            do { _ = try Regex(expression) } catch {
                throw ValidationError("\(flag): not a regular expression: \(error)")
            }
        }
        guard Int(port).map({ (1...65535).contains($0) }) == true else {
            throw ValidationError("-p: not a port: \(port)")
        }
    }

    /// Where one push goes, and what it pushes.
    private struct Plan {
        var label: String
        var host: String
        var insecure: Bool
        var path: String
        var input: String
        var configured: Bool
    }

    func run() async throws {
        let (loaded, logger) = try global.load()
        let config = loaded.config
        let given = pattern.joined(separator: " ")
        var plans: [Plan] = []
        if !hosts.isEmpty {
            for host in hosts {
                plans.append(
                    Plan(
                        label: host, host: PushClient.address(host, port: port), insecure: false, path: path,
                        input: given, configured: false))
            }
        } else {
            let names = try targetFilter.isEmpty ? nil : Regex(targetFilter)
            for (name, target) in config.targets.sorted(by: { $0.key < $1.key })
            where target.sourcePatterns[source] != nil && (names.map { name.firstMatch(of: $0) != nil } ?? true) {
                let hostname = (target.hostname.isEmpty ? name : target.hostname) + config.build.pushDomainSuffix
                let own = target.sourcePatterns[source] ?? ""
                plans.append(
                    Plan(
                        label: name, host: PushClient.address(hostname, port: target.port), insecure: target.insecure,
                        path: target.pathPush, input: own.isEmpty ? given : own, configured: true))
            }
        }
        guard !plans.isEmpty else {
            throw CLIError("no hosts: give -h HOST or targets with sourcePatterns.\(source)")
        }
        let builder = PatternBuilder(config: config, logger: logger)
        var destinations: [PushClient.Destination] = []
        var adHoc: [Bool] = []
        for plan in plans {
            guard !plan.input.isEmpty else { throw CLIError("\(plan.label): no pattern or command to push") }
            let input = PushInput(plan.input)
            adHoc.append(input.isCommand)
            let token: String
            switch input.kind {
            case .token(let text):
                token = text
            case .pattern(let source):
                do {
                    token = try await builder.build(
                        source, for: .init(source: self.source, target: plan.label, configured: plan.configured)
                    ).token
                } catch {
                    throw CLIError("\(plan.label): \(error.description)")
                }
            }
            destinations.append(.init(host: plan.host, token: token, insecure: plan.insecure, path: plan.path))
        }
        let results = await PushClient(config: config).push(
            source: source, to: destinations, check: check, filter: filter)
        var failed = false
        for (index, result) in results.enumerated() {
            print("\(plans[index].label):")
            switch result {
            case .success(let answer):
                if adHoc[index] {
                    for line in answer.changedOutputs.joined(separator: "\n").split(separator: "\n") {
                        print("        \(line)")
                    }
                } else {
                    let summary = ResultSummary(
                        changed: answer.changedIDs, removed: answer.removedIDs,
                        changedVerb: check ? "Would change" : "Changed")
                    for line in summary.text.split(separator: "\n") { print("        \(line)") }
                }
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

/// What `etcha push` was given to push: a pattern file, a JWT (or a file holding one), or a
/// command, which becomes Etcha's one-command pattern.
struct PushInput {
    enum Kind {
        case token(String)
        case pattern(PatternSource)
    }

    var kind: Kind
    var isCommand = false

    init(_ argument: String) {
        if argument.hasSuffix(".jsonnet") || argument.hasSuffix(".json") || argument.hasSuffix(".libsonnet") {
            kind = .pattern(.file(argument))
            return
        }
        let token = readToken(argument)
        if isCompactJWT(token) {
            kind = .token(token)
            return
        }
        isCommand = true
        let command = String(decoding: (try? JSONEncoder().encode(argument)) ?? Data("\"\"".utf8), as: UTF8.self)
        kind = .pattern(
            .files(
                entrypoint: "/main.jsonnet",
                files: ["/main.jsonnet": "{run: [{id: 'etcha push', always: true, change: \(command)}]}"]))
    }
}
