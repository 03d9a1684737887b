import Agent
import ArgumentParser
import Foundation
import Logging

/// Options every verb takes, before or after the verb.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customShort("c"),
        help: ArgumentHelp(
            "Configuration file (.json or .jsonnet). Default: etcha.jsonnet, then etcha.json, in the working directory.",
            valueName: "path"))
    var config: String?

    @Option(
        name: .customShort("x"),
        help: ArgumentHelp(
            "Override a configuration key, e.g. -x run_stateDir=/var/lib/etcha (repeatable).", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(
        name: .customLong("log-format"),
        help: "Log line format: logfmt (also kv), json, human or raw. The cli.logFormat key, when set, wins.")
    var logFormat: String = LogFormat.logfmt.rawValue

    @Option(
        name: .customLong("log-level"),
        help:
            "Lowest level logged: none, trace, debug, info, notice, warning, error, critical. The cli.logLevel key, when set, wins."
    )
    var logLevel: String = "info"

    /// Names of options that take a value, as they may stand before the verb.
    static let valued: Set<String> = ["-c", "-x", "--log-format", "--log-level"]

    /// Moves global options written before the verb to just after it, so ArgumentParser (which reads
    /// a subcommand's options after its name) accepts `etcha -c f.json run` and `etcha run -c f.json` alike.
    static func reorder(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if valued.contains(argument), index + 1 < arguments.count {
                globals += [argument, arguments[index + 1]]
                index += 2
            } else if let equals = argument.firstIndex(of: "="), valued.contains(String(argument[..<equals])),
                argument.hasPrefix("--")
            {
                globals.append(argument)
                index += 1
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
            throw ValidationError("--log-format must be logfmt, kv, json, human or raw")
        }
        guard LogThreshold(named: logLevel) != nil else {
            throw ValidationError(
                "--log-level must be one of none, trace, debug, info, notice, warning, error, critical")
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
