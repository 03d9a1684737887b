import Auth
import EtchaCore
import Logging

/// What a source believes: the keys that may sign its patterns and the rule their claims must meet,
/// or Etcha's verify commands, which replace the keys for patterns.
public struct SourceTrust: Sendable {
    /// `run.verifyKeys` plus the source's own `verifyKeys`.
    public var keys: [PublicKey]
    /// The source's `jwtRule`, else `run.jwtRule`, else none.
    public var rule: JWTRule?
    /// The source's `verifyCommands`, else `run.verifyCommands`: when set, they verify patterns
    /// instead of the keys.
    public var commands: [Command]
    /// Their exec: the top level, `run.verifyExec`, then the source's `verifyExec`.
    public var commandExec: ResolvedExec
    /// How long they may take (`run.timeoutPush`).
    public var commandTimeout: Duration

    /// Makes a trust.
    public init(
        keys: [PublicKey] = [], rule: JWTRule? = nil, commands: [Command] = [],
        commandExec: ResolvedExec = .defaults, commandTimeout: Duration = .seconds(60)
    ) {
        self.keys = keys
        self.rule = rule
        self.commands = commands
        self.commandExec = commandExec
        self.commandTimeout = commandTimeout
    }

    /// Verifies `token` by docs/behaviour.md#3-keys-and-jwts: signature under one of the keys with
    /// `alg` pinned to its type, `exp`/`nbf` with skew, then the rule.
    public func verify(_ token: String) throws(JWTError) -> VerifiedToken {
        guard !keys.isEmpty else { throw JWTError("no verify keys are configured for this source") }
        return try allowed(JWT.verify(token, keys: keys))
    }

    /// Verifies a pattern's `token`: with the verify commands when there are any, else with the
    /// keys (``verify(_:)``).
    ///
    /// The commands get the token as `ETCHA_JWT` and accept it by printing it through the `jwt`
    /// event, as in Etcha. A run that fails, prints nothing, or prints any other token refuses it
    /// (**ours**: Etcha would take whatever token was printed). `exp`, `nbf` and the rule are then
    /// checked as for a key.
    public func verifyPattern(_ token: String, source: String, logger: Logger) async throws(JWTError) -> VerifiedToken {
        guard !commands.isEmpty else { return try verify(token) }
        let context = CommandEngine.Context(
            exec: commandExec, environment: ["ETCHA_JWT": token, "ETCHA_SOURCE_NAME": source],
            origin: RunOrigin(source: source, trigger: .push), deadline: .now + commandTimeout)
        let result = await CommandEngine(metrics: nil, logger: logger).run(commands, mode: .change, context: context)
        guard !result.failed else {
            throw JWTError("verifyCommands failed: \(result.errors.joined(separator: "; "))")
        }
        guard let printed = result.events.first(where: { $0.name == "jwt" })?.trimmedOutput, !printed.isEmpty else {
            throw JWTError("verifyCommands did not print the token (the jwt event)")
        }
        guard printed == token else { throw JWTError("verifyCommands printed a token other than the one given") }
        return try allowed(JWT.acceptVerifiedElsewhere(token))
    }

    private func allowed(_ verified: VerifiedToken) throws(JWTError) -> VerifiedToken {
        if let rule, !rule.allows(verified.claims) {
            throw JWTError("the claims do not satisfy jwtRule \"\(rule.text)\"")
        }
        return verified
    }
}
