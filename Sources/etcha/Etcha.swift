import ArgumentParser
import Foundation

/// `etcha`: a drop-in agent for Etcha's listen mode and its local verbs.
@main
struct Etcha: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcha",
        abstract:
            "Run commands from signed patterns: listen for pushes, pull, webhooks and events, and count every run in Prometheus metrics.",
        discussion: """
            Global options (-c, -x, --log-format, --log-level) may come before or after the verb.
            Environment variables ETCHA_<PATH> (e.g. ETCHA_RUN_STATEDIR) override the file; -x overrides both.
            Shell completion: etcha --generate-completion-script bash|zsh|fish.
            """,
        subcommands: [
            RunCommand.self, LocalCommand.self, BuildCommand.self, PushCommand.self, RenderCommand.self,
            JWTCommand.self,
            ShellCommand.self, CompareCommand.self, GenerateKeysCommand.self, VersionCommand.self,
        ]
    )

    static func main() async {
        let arguments = GlobalOptions.reorder(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}
