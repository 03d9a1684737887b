import Agent
import ArgumentParser
import EtchaCore
import EtchaInstrumentation
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

    @Flag(help: "Run in remove mode.")
    var remove = false

    @Argument(help: "Pattern file or Jsonnet snippet.")
    var pattern: String

    func validate() throws {
        if check && remove { throw ValidationError("--check and --remove cannot be combined") }
    }

    func run() async throws {
        let (loaded, logger) = try global.load()
        let exec = ResolvedExec(topLevel: loaded.config.exec)
        let rendered = try PatternInput(pattern).render(config: loaded.config, exec: exec)
        let mode: CommandMode = check ? .check : remove ? .remove : .change
        let runExec: ResolvedExec
        do {
            runExec = try exec.overridden(by: rendered.pattern.runExec, at: "runExec")
        } catch {
            throw CLIError(error.description)
        }
        let engine = CommandEngine(metrics: nil, logger: logger)
        let context = CommandEngine.Context(
            exec: runExec, environment: [:], origin: RunOrigin(source: "local", trigger: .push),
            deadline: .now + loaded.config.run.timeoutPush.duration)
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
        var lines: [String] = []
        if !result.changedIDs.isEmpty {
            lines.append("Changed \(result.changedIDs.count): \(result.changedIDs.joined(separator: ", "))")
        }
        if !result.removedIDs.isEmpty {
            lines.append("Removed \(result.removedIDs.count): \(result.removedIDs.joined(separator: ", "))")
        }
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

    func render(config: Config, exec: ResolvedExec) throws -> RenderedPattern {
        do {
            return try PatternRenderer.render(
                source, configuration: PatternRenderer.configuration(config: config, source: "", exec: exec))
        } catch {
            throw CLIError(error.description)
        }
    }
}
