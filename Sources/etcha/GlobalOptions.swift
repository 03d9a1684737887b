import Agent
import ArgumentParser
import Foundation
import Logging

/// Options every verb takes. Etcha's short forms (`-c`, `-x`, `-f`, `-l`, `-n`) come before the
/// verb, as in Etcha, so that verbs keep their own `-c`, `-f` and `-n`; the long forms may also
/// come after it.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "Configuration file (.json or .jsonnet); -c before the verb. Default: ETCHA_CLI_CONFIGPATH, else etcha.jsonnet in the working directory or the nearest one above it.",
            valueName: "path"))
    var config: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a configuration key, e.g. run_stateDir=/var/lib/etcha (repeatable); -x before the verb.",
            valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(
        name: .customLong("log-format"),
        help:
            "Log line format: human, kv (also logfmt), raw or json; -f before the verb. The cli.logFormat key, when set, wins."
    )
    var logFormat: String = LogFormat.logfmt.rawValue

    @Option(
        name: .customLong("log-level"),
        help:
            "Lowest level logged: none, debug, info, error (also trace, notice, warning, critical); -l before the verb. The cli.logLevel key, when set, wins."
    )
    var logLevel: String = "info"

    @Flag(name: .customLong("no-color"), help: "Accepted for Etcha's -n; log lines are never coloured.")
    var noColor = false

    /// Etcha's global flags, which stand before the verb, and the long option each becomes.
    static let beforeVerb: [String: String] = [
        "-c": "--config", "-x": "--set", "-f": "--log-format", "-l": "--log-level",
        "--config": "--config", "--set": "--set", "--log-format": "--log-format", "--log-level": "--log-level",
    ]

    /// Moves the global flags written before the verb to just after it, as long options, so
    /// ArgumentParser (which reads a subcommand's options after its name) accepts
    /// `etcha -c f.json -x run_stateDir=s run`. Like Go's flag package, which Etcha uses, a flag
    /// may be written `-c f`, `-c=f` or `--c f`; the first argument that is not a global flag is
    /// the verb.
    static func reorder(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            var flag = arguments[index]
            var value: String?
            if let equals = flag.firstIndex(of: "="), flag.hasPrefix("-") {
                value = String(flag[flag.index(after: equals)...])
                flag = String(flag[..<equals])
            }
            if flag.hasPrefix("--"), beforeVerb[flag] == nil, beforeVerb[String(flag.dropFirst())] != nil {
                flag = String(flag.dropFirst())
            }
            if flag == "-n" || flag == "--no-color" {
                globals.append("--no-color")
                index += 1
            } else if let long = beforeVerb[flag] {
                if let value {
                    globals += [long, value]
                    index += 1
                } else if index + 1 < arguments.count {
                    globals += [long, arguments[index + 1]]
                    index += 2
                } else {
                    break
                }
            } else {
                break
            }
        }
        guard !globals.isEmpty, index < arguments.count else { return arguments }
        return [arguments[index]] + globals + arguments[(index + 1)...]
    }

    /// Validates the log options.
    func validate() throws {
        guard LogFormat(named: logFormat) != nil else {
            throw ValidationError("the log format must be human, kv, raw, logfmt or json")
        }
        guard LogThreshold(named: logLevel) != nil else {
            throw ValidationError(
                "the log level must be one of none, debug, info, error, trace, notice, warning, critical")
        }
    }

    /// Loads the configuration and sets up logging, from its `cli` keys where set, else from the
    /// flags; a bad configuration ends the process with its one-line message.
    func load() throws -> (LoadedConfig, Logger) {
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader(path: config, overrides: overrides).load()
        } catch {
            throw CLIError(error.description)
        }
        let cli = loaded.config.cli
        let format = LogFormat(named: cli.logFormat.isEmpty ? logFormat : cli.logFormat) ?? .logfmt
        let threshold = LogThreshold(named: cli.logLevel.isEmpty ? logLevel : cli.logLevel) ?? .level(.info)
        LoggingSystem.bootstrap { _ in LineLogHandler(format: format, threshold: threshold) }
        let logger = Logger(label: "etcha")
        for warning in loaded.warnings { logger.warning("\(warning)") }
        return (loaded, logger)
    }
}

/// An error for the operator: printed as one line on standard error, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
