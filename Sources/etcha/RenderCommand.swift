import Agent
import ArgumentParser
import Auth
import EtchaJSON
import Foundation

/// `etcha render`, also `show-pattern` (the name Etcha 2024's CLI reference gives it): print a
/// rendered pattern as JSON.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a pattern and print it as JSON.",
        discussion: """
            PATTERN is a .jsonnet or .json file, a Jsonnet snippet of commands, or a JWT (or a file holding \
            one), which is rendered only when it verifies (run.verifyCommands, else run.verifyKeys): \
            rendering runs native functions such as getCmd.
            """,
        aliases: ["show-pattern"]
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Pattern file or Jsonnet snippet.")
    var pattern: String

    func run() async throws {
        let (loaded, logger) = try global.load()
        let exec = ResolvedExec(topLevel: loaded.config.exec)
        let text = readToken(pattern)
        let rendered: RenderedPattern
        if isCompactJWT(text) {
            do {
                let signed = try SignedPattern(await loaded.runTrust.verifyPattern(text, source: "", logger: logger))
                rendered = try PatternRenderer.render(
                    .files(entrypoint: signed.entrypoint, files: signed.files),
                    configuration: PatternRenderer.configuration(
                        config: loaded.config, source: "", exec: exec, runVars: signed.runVars))
            } catch {
                throw CLIError("\(error)")
            }
        } else {
            do {
                rendered = try PatternInput(pattern).render(config: loaded.config, exec: exec)
            } catch {
                throw CLIError(error.description)
            }
        }
        var json = rendered.json
        if case .object(var members) = json {
            for key in ["build", "run"] where members[key] != nil {
                members[key] = .array(Command.flattened(members[key]!, path: key).map(\.item))
            }
            json = .object(members)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(json), as: UTF8.self))
    }
}

/// `etcha version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the version and build date.")

    /// Accepted like every verb's, though the version reads no configuration.
    @OptionGroup var global: GlobalOptions

    func run() {
        print("etcha \(AgentVersion.current) (built \(AgentVersion.buildDate))")
    }
}
