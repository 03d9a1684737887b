import Agent
import ArgumentParser
import EtchaCore
import EtchaInstrumentation
import EtchaJSON
import Foundation

/// `etcha local`: render a pattern and run its `run` commands on this machine.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Render a pattern and run its run commands here.",
        discussion: """
            PATTERN is a .jsonnet or .json file, or a Jsonnet snippet of commands run as {run: [<snippet>]}.
            Prints what changed or was removed; exits non-zero when a command failed.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Run checks only and report what would change.")
    var check = false

    @Flag(name: [.customShort("r"), .long], help: "Run in remove mode.")
    var remove = false

    @Option(
        name: [.customShort("s"), .long],
        help: ArgumentHelp(
            "Source whose vars, exec and checkOnly apply, and whose name the pattern sees.", valueName: "name"))
    var source = "local"

    @Option(
        name: [.customShort("f"), .long],
        help: ArgumentHelp("Run only the commands whose parent ids match this expression.", valueName: "regexp"))
    var filter = ""

    @Argument(help: "Pattern file or Jsonnet snippet.")
    var pattern: String

    func validate() throws {
        if check && remove { throw ValidationError("--check and --remove cannot be combined") }
    }

    func run() async throws {
        let (loaded, logger) = try global.load()
        let config = loaded.config
        func warn(_ line: String) { logger.warning("\(line)") }
        let parentFilter: ParentFilter?
        do {
            parentFilter = try ParentFilter(filter)
        } catch {
            throw CLIError("-f: not a regular expression: \(error)")
        }
        let exec: ResolvedExec
        let runExec: ResolvedExec
        let rendered: RenderedPattern
        do {
            exec = ResolvedExec(topLevel: config.exec).overridden(
                by: config.sources[source]?.exec, at: "sources.\(source).exec", refused: warn)
            // As Etcha: render, run the build commands, then render again with their run variables.
            let input = PatternInput(pattern)
            let first = try input.render(config: config, source: source, exec: exec)
            let built = try await PatternBuilder(config: config, logger: logger).runBuild(
                commandsOf: first.pattern, exec: exec)
            var second = try input.render(config: config, source: source, exec: exec, runVars: built.runVars)
            second.pattern.runEnv.merge(built.runEnv) { own, _ in own }
            rendered = second
            runExec = exec.running(rendered.pattern, at: "runExec", refused: warn)
        } catch {
            throw CLIError(error.description)
        }
        let checkOnly = check || config.sources[source]?.checkOnly == true
        let mode: CommandMode = checkOnly ? .check : remove ? .remove : .change
        let engine = CommandEngine(metrics: nil, logger: logger)
        let context = CommandEngine.Context(
            exec: runExec, environment: [:], origin: RunOrigin(source: source, trigger: .push),
            deadline: .now + config.run.timeoutPush.duration, filter: parentFilter)
        let result = await engine.run(rendered.pattern.run, mode: mode, context: context)
        for event in result.events where event.name == "stdout" {
            print(event.trimmedOutput)
        }
        print(ResultSummary(result).text)
        if result.failed {
            for error in result.errors { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}

/// The `Changed N: ids` / `Removed N: ids` / `No changes` lines Etcha prints for a run.
struct ResultSummary {
    var text: String

    init(_ result: RunResult) {
        self.init(changed: result.changedIDs, removed: result.removedIDs)
    }

    /// `changedVerb` is `Would change` for a check-mode push.
    init(changed: [String], removed: [String], changedVerb: String = "Changed") {
        var lines: [String] = []
        if !changed.isEmpty { lines.append("\(changedVerb) \(changed.count): \(changed.joined(separator: ", "))") }
        if !removed.isEmpty { lines.append("Removed \(removed.count): \(removed.joined(separator: ", "))") }
        text = lines.isEmpty ? "No changes" : lines.joined(separator: "\n")
    }
}

/// A PATTERN argument: a file when one exists at that path with a Jsonnet or JSON extension,
/// else a snippet.
struct PatternInput {
    var source: PatternSource

    init(_ argument: String) {
        let isFile =
            (argument.hasSuffix(".jsonnet") || argument.hasSuffix(".json") || argument.hasSuffix(".libsonnet"))
            && FileManager.default.fileExists(atPath: argument)
        source = isFile ? .file(argument) : .snippet(argument)
    }

    func render(config: Config, source name: String = "", exec: ResolvedExec, runVars: [String: JSON] = [:])
        throws(CommandError) -> RenderedPattern
    {
        try PatternRenderer.render(
            source,
            configuration: PatternRenderer.configuration(config: config, source: name, exec: exec, runVars: runVars))
    }
}
