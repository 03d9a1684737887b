import Auth
import EtchaJSON

/// The checks that need more than a type: values in range, regexes that compile, commands whose
/// targets are valid, exec overrides that are allowed. Each failure names the key path.
enum ConfigValidator {
    /// Checks `config`; returns each source's parsed static commands.
    static func validate(_ config: Config, warnings: inout [String]) throws(ConfigError) -> [String: [Command]] {
        let run = config.run
        guard run.maxQueuedRuns >= 0 else { throw ConfigError("run.maxQueuedRuns", "must be 0 or more") }
        guard run.maxShells >= 1 else { throw ConfigError("run.maxShells", "must be 1 or more") }
        guard run.randomizedStartDelaySec >= 0 else {
            throw ConfigError("run.randomizedStartDelaySec", "must be 0 or more")
        }
        for (key, timeout) in [
            ("shutdownTimeout", run.shutdownTimeout),
            ("timeoutPush", run.timeoutPush), ("timeoutShell", run.timeoutShell),
            ("timeoutWebhook", run.timeoutWebhook),
        ] where timeout.duration <= .zero {
            throw ConfigError("run.\(key)", "must be longer than zero")
        }
        guard config.httpServer.maxBodyBytes > 0 else {
            throw ConfigError("httpServer.maxBodyBytes", "must be more than 0")
        }
        guard config.httpServer.maxConnections >= 1 else {
            throw ConfigError("httpServer.maxConnections", "must be 1 or more")
        }
        guard config.httpServer.maxConnectionsPerClient >= 1 else {
            throw ConfigError("httpServer.maxConnectionsPerClient", "must be 1 or more")
        }
        guard RateLimitRate(parsing: config.httpServer.rateLimitRate) != nil else {
            throw ConfigError(
                "httpServer.rateLimitRate", "\"\(config.httpServer.rateLimitRate)\" is not N-S, N-M or N-H")
        }
        if !config.cli.logFormat.isEmpty, LogFormat(named: config.cli.logFormat) == nil {
            throw ConfigError("cli.logFormat", "\"\(config.cli.logFormat)\" is not human, kv, raw, logfmt or json")
        }
        if !config.cli.logLevel.isEmpty, LogThreshold(named: config.cli.logLevel) == nil {
            throw ConfigError(
                "cli.logLevel",
                "\"\(config.cli.logLevel)\" is not none, debug, info, error (or trace, notice, warning, critical)")
        }
        guard config.build.pushMaxWorkers >= 0 else { throw ConfigError("build.pushMaxWorkers", "must be 0 or more") }

        let topExec = ResolvedExec(topLevel: config.exec)
        var commands: [String: [Command]] = [:]
        for (name, source) in config.sources.sorted(by: { $0.key < $1.key }) {
            let path = "sources.\(name)"
            guard !name.isEmpty, !name.contains("/") else {
                throw ConfigError(path, "a source name cannot be empty or hold '/'")
            }
            _ = topExec.overridden(by: source.exec, at: "\(path).exec") { warnings.append($0) }
            do {
                let list = try Command.list(from: source.commands, path: "\(path).commands")
                try CommandTargets.validate(list, path: "\(path).commands")
                commands[name] = list
            } catch {
                throw ConfigError(error.description)
            }
            if !source.eventsSend.isEmpty, (try? Regex(source.eventsSend)) == nil {
                throw ConfigError("\(path).eventsSend", "\"\(source.eventsSend)\" is not a valid regular expression")
            }
            guard source.runFrequency.duration >= .zero else {
                throw ConfigError("\(path).runFrequency", "must not be negative")
            }
            for (index, webhook) in source.webhookPaths.enumerated() {
                guard webhook.hasPrefix("/") else {
                    throw ConfigError("\(path).webhookPaths[\(index)]", "\"\(webhook)\" must start with /")
                }
                guard webhook != "/etcha", !webhook.hasPrefix("/etcha/") else {
                    throw ConfigError(
                        "\(path).webhookPaths[\(index)]", "\"\(webhook)\" is under /etcha/, which the agent reserves")
                }
            }
            switch source.shell {
            case .string: break
            case .object:
                guard let exec = try shellExec(source.shell, path: "\(path).shell"), exec.command?.isEmpty == false
                else { throw ConfigError("\(path).shell.command", "an exec object for shell needs a command") }
            default: throw ConfigError("\(path).shell", "expected a command string or an exec object")
            }
        }
        return commands
    }

    /// Parses every verify key, JWT rule and the signing key; a bad one names its key path. Returns
    /// the trust of the top level and of each source.
    static func trust(_ config: Config) throws(ConfigError) -> (run: SourceTrust, sources: [String: SourceTrust]) {
        let global = try keys(config.run.verifyKeys, path: "run.verifyKeys")
        let globalRule = try rule(config.run.jwtRule, path: "run.jwtRule")
        if !config.build.signingKey.isEmpty {
            do {
                _ = try PrivateKey(parsing: config.build.signingKey)
            } catch {
                throw ConfigError("build.signingKey", error.description)
            }
        }
        _ = try commands(config.build.signingCommands, path: "build.signingCommands")
        let globalCommands = try commands(config.run.verifyCommands, path: "run.verifyCommands")
        let verifyExec = ResolvedExec(topLevel: config.exec).overridden(by: config.run.verifyExec, at: "run.verifyExec")
        var trust: [String: SourceTrust] = [:]
        for (name, source) in config.sources {
            let path = "sources.\(name)"
            let own = try keys(source.verifyKeys, path: "\(path).verifyKeys")
            let rule = try rule(source.jwtRule, path: "\(path).jwtRule") ?? globalRule
            let ownCommands = try commands(source.verifyCommands, path: "\(path).verifyCommands")
            trust[name] = SourceTrust(
                keys: global + own, rule: rule, commands: ownCommands.isEmpty ? globalCommands : ownCommands,
                commandExec: verifyExec.overridden(by: source.verifyExec, at: "\(path).verifyExec"),
                commandTimeout: config.run.timeoutPush.duration)
        }
        let run = SourceTrust(
            keys: global, rule: globalRule, commands: globalCommands, commandExec: verifyExec,
            commandTimeout: config.run.timeoutPush.duration)
        return (run, trust)
    }

    /// A list of commands as a source's `commands` are checked: each command's keys and `on*`
    /// targets.
    static func commands(_ json: JSON, path: String) throws(ConfigError) -> [Command] {
        do {
            let list = try Command.list(from: json, path: path)
            try CommandTargets.validate(list, path: path)
            return list
        } catch {
            throw ConfigError(error.description)
        }
    }

    private static func keys(_ texts: [String], path: String) throws(ConfigError) -> [PublicKey] {
        var keys: [PublicKey] = []
        for (index, text) in texts.enumerated() {
            do {
                keys.append(try PublicKey(parsing: text))
            } catch {
                throw ConfigError("\(path)[\(index)]", error.description)
            }
        }
        return keys
    }

    private static func rule(_ text: String, path: String) throws(ConfigError) -> JWTRule? {
        guard !text.isEmpty else { return nil }
        do {
            return try JWTRule(parsing: text)
        } catch {
            throw ConfigError(path, error.description)
        }
    }

    /// The exec a source's `shell` describes (a command string, or an exec object).
    static func shellExec(_ shell: JSON, path: String) throws(ConfigError) -> Exec? {
        switch shell {
        case .string(let command): return command.isEmpty ? nil : Exec(command: command)
        default:
            do {
                return try Exec.parse(shell, path: path)
            } catch {
                throw ConfigError(error.description)
            }
        }
    }
}
