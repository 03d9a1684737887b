import ArgumentParser
import Dispatch
import Foundation

/// `etcha`: a drop-in agent for Etcha's listen mode and its local verbs.
@main
struct Etcha: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcha",
        abstract:
            "Run commands from signed patterns: listen for pushes, pull, webhooks and events, and count every run in Prometheus metrics.",
        discussion: """
            Global flags come before the verb, as in Etcha: -c PATH, -x KEY=VALUE, -f FORMAT, -l LEVEL, -n.
            Their long forms (--config, --set, --log-format, --log-level, --no-color) may also follow it.
            Environment variables ETCHA_<PATH> (e.g. ETCHA_RUN_STATEDIR) override the file; -x overrides both.
            Shell completion: etcha --generate-completion-script bash|zsh|fish.
            """,
        subcommands: [
            RunCommand.self, LocalCommand.self, BuildCommand.self, PushCommand.self, RenderCommand.self,
            JWTCommand.self,
            ShellCommand.self, CompareCommand.self, GenerateKeysCommand.self, ShowConfigCommand.self, JQCommand.self,
            VersionCommand.self,
        ]
    )

    /// A synchronous entry point on purpose. Swift's `async` main parks the main thread with
    /// `dispatch_main()`, which ends it with `pthread_exit`; that forced unwind reads the binary's
    /// unwind tables for every frame, and they then stay resident for the agent's whole life. Here
    /// the main thread waits for the verb to finish instead (docs/decisions.md, "A synchronous
    /// entry point").
    static func main() {
        // A reader that goes away (a log collector, a client) must fail a write, not end the agent;
        // commands still start with SIGPIPE at its default (CSpawn resets every signal).
        signal(SIGPIPE, SIG_IGN)
        let arguments = GlobalOptions.reorder(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            if let asyncCommand = command as? any AsyncParsableCommand {
                try runToCompletion(asyncCommand)
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            // write(2), not FileHandle, which traps when the write fails.
            let line = Array("error: \(error.description)\n".utf8)
            _ = write(STDERR_FILENO, line, line.count)
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }

    /// Runs an async verb on the global executor while the calling thread waits for it.
    private static func runToCompletion(_ command: any AsyncParsableCommand) throws {
        let outcome = VerbOutcome(command)
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await outcome.run()
            finished.signal()
        }
        finished.wait()
        if let error = outcome.error { throw error }
    }
}

/// The verb and its error, handed from the waiting main thread to the task and back; the
/// semaphore orders the two accesses.
private final class VerbOutcome: @unchecked Sendable {
    private var command: any AsyncParsableCommand
    private(set) var error: (any Error)?

    init(_ command: any AsyncParsableCommand) { self.command = command }

    func run() async {
        do { try await command.run() } catch { self.error = error }
    }
}
