import Agent
import ArgumentParser
import Foundation

/// `etcha render`: print a rendered pattern as JSON.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a pattern and print it as JSON.",
        discussion: "PATTERN is a .jsonnet or .json file, or a Jsonnet snippet of commands."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Pattern file or Jsonnet snippet.")
    var pattern: String

    func run() async throws {
        let (loaded, _) = try global.load()
        let rendered = try PatternInput(pattern).render(
            config: loaded.config, exec: ResolvedExec(topLevel: loaded.config.exec))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(rendered.json), as: UTF8.self))
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
