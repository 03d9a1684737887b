import Auth
import EtchaCore
import EtchaInstrumentation
import EtchaJSON
import Foundation
import Logging

/// `etcha build` (docs/behaviour.md#1-command-line and docs/behaviour.md#3-keys-and-jwts): renders
/// a pattern file, runs its `build` commands, gathers the entrypoint and every file it imports into
/// `etchaPattern` (paths made absolute within the pattern), applies the `buildManifest` and
/// `runVar_NAME` events, and signs the claims.
///
///     let token = try await PatternBuilder(config: config, logger: logger).build(.file("patterns/web.jsonnet"))
public struct PatternBuilder: Sendable {
    /// The configuration (signing key, exec, vars).
    public var config: Config
    /// Where build steps are logged.
    public var logger: Logger

    /// Makes a builder.
    public init(config: Config, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// What a build made.
    public struct Output: Sendable {
        /// The signed JWT.
        public var token: String
        /// The rendered pattern.
        public var rendered: RenderedPattern
    }

    /// Where a built token goes: `etcha push` builds one for each target, with Etcha's push
    /// variables.
    public struct PushTarget: Sendable {
        /// The source pushed to.
        public var source: String
        /// The target's name (a `-h` host's address).
        public var target: String
        /// Whether it is a `targets` entry, whose `vars` then apply.
        public var configured: Bool

        /// Makes a push target.
        public init(source: String, target: String, configured: Bool) {
            self.source = source
            self.target = target
            self.configured = configured
        }
    }

    /// Builds and signs `input`. Rendering sees `srcDir` and `srcPath` for a file, and `dstDir` and
    /// `dstPath` for the JWT's `destination`. For a push, it also sees `source`, `target` and the
    /// target's `vars`, which then go into `etchaRunVars` too, so the node renders the pattern with
    /// them (Etcha's "mono pattern"). `source` (`etcha build PATTERN OUT SOURCE`) names the source
    /// whose `exec` the build commands run under and whose name the pattern sees.
    public func build(
        _ input: PatternSource, for push: PushTarget? = nil, destination: String? = nil, source: String? = nil,
        now: Int = Int(Date().timeIntervalSince1970)
    ) async throws(CommandError) -> Output {
        let signingCommands = try Command.list(from: config.build.signingCommands, path: "build.signingCommands")
        let key = signingCommands.isEmpty ? try config.signingKey() : nil
        var exec = ResolvedExec(topLevel: config.exec)
        if let source {
            guard let settings = config.sources[source] else {
                throw CommandError(.invalid, "no source \(source) in the configuration")
            }
            exec = exec.overridden(by: settings.exec, at: "sources.\(source).exec") { logger.warning("\($0)") }
        }
        var added: [String: JSON] = [:]
        if case .file(let path) = input {
            let absolute = URL(fileURLWithPath: path).standardizedFileURL
            added["srcPath"] = .string(absolute.path)
            added["srcDir"] = .string(absolute.deletingLastPathComponent().path)
        }
        if let destination {
            let absolute = URL(fileURLWithPath: destination).standardizedFileURL
            added["dstPath"] = .string(absolute.path)
            added["dstDir"] = .string(absolute.deletingLastPathComponent().path)
        }
        if let push { added["target"] = .string(push.target) }
        let targetName = push?.configured == true ? push?.target : nil
        let rendered = try PatternRenderer.render(
            input,
            configuration: PatternRenderer.configuration(
                config: config, source: push?.source ?? source ?? "", exec: exec, target: targetName, added: added))
        let pattern = rendered.pattern
        let built = try await runBuild(commandsOf: pattern, exec: exec)
        var runVars = built.runVars
        if let push {
            runVars["source"] = .string(push.source)
            runVars["target"] = .string(push.target)
            if let targetName { runVars.merge(config.targets[targetName]?.vars ?? [:]) { _, new in new } }
        }
        let (entrypoint, files) = Self.relocate(entrypoint: rendered.entrypoint, files: rendered.files)
        var claims: [String: JSON] = [
            "iat": .number(Double(now)), "nbf": .number(Double(now)),
            "etchaPattern": .object(["entrypoint": .string(entrypoint), "files": .object(files.mapValues(JSON.string))]
            ),
            "etchaRunVars": .object(runVars), "etchaBuildManifest": .string(built.manifest),
            "etchaVersion": .string(AgentVersion.current),
        ]
        if !built.runEnv.isEmpty { claims["etchaRunEnv"] = .object(built.runEnv.mapValues(JSON.string)) }
        let (expirySeconds, _) = pattern.expiresIn.duration.components
        if expirySeconds > 0 { claims["exp"] = .number(Double(now + Int(expirySeconds))) }
        if !pattern.audience.isEmpty { claims["aud"] = .array(pattern.audience.map(JSON.string)) }
        if !pattern.issuer.isEmpty { claims["iss"] = .string(pattern.issuer) }
        if !pattern.subject.isEmpty { claims["sub"] = .string(pattern.subject) }
        if !pattern.id.isEmpty { claims["jti"] = .string(pattern.id) }
        guard let key else {
            let token = try await sign(claims, with: signingCommands, exec: exec)
            return Output(token: token, rendered: rendered)
        }
        do {
            return Output(token: try JWT.sign(claims, with: key), rendered: rendered)
        } catch {
            throw CommandError(.invalid, "cannot sign: \(error)")
        }
    }

    /// Signs `claims` with Etcha's signing commands: they get the payload part as `ETCHA_PAYLOAD`
    /// and print the whole JWT through the `jwt` event. **Ours:** the printed token must carry that
    /// same payload, so a signer cannot swap in other claims unnoticed.
    func sign(_ claims: [String: JSON], with commands: [Command], exec: ResolvedExec) async throws(CommandError)
        -> String
    {
        let payload = JWT.payload(claims)
        let context = CommandEngine.Context(
            exec: exec.overridden(by: config.build.signingExec, at: "build.signingExec") { logger.warning("\($0)") },
            environment: ["ETCHA_PAYLOAD": payload], origin: RunOrigin(source: "signingCommands", trigger: .push),
            deadline: .now + config.run.timeoutPush.duration)
        let result = await CommandEngine(metrics: nil, logger: logger).run(commands, mode: .change, context: context)
        guard !result.failed else {
            throw CommandError(.invalid, "signingCommands failed: \(result.errors.joined(separator: "; "))")
        }
        guard let token = result.events.first(where: { $0.name == "jwt" })?.trimmedOutput, !token.isEmpty else {
            throw CommandError(.invalid, "signingCommands did not print a token (the jwt event)")
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == payload else {
            throw CommandError(.invalid, "signingCommands printed a token that does not carry the payload it was given")
        }
        return token
    }

    /// What a pattern's build commands left for its token.
    public struct BuildResult: Sendable {
        /// `etchaBuildManifest`: each `buildManifest` output, trimmed, ended by a newline.
        public var manifest = ""
        /// `etchaRunVars`: the pattern's `runVars`, with each `runVar_NAME` output laid over them.
        public var runVars: [String: JSON]
        /// `etchaRunEnv`: each `runEnv_NAME` output, trimmed.
        public var runEnv: [String: String] = [:]
    }

    /// Runs `pattern`'s build commands and gathers what their events leave for the token.
    public func runBuild(commandsOf pattern: Pattern, exec: ResolvedExec) async throws(CommandError) -> BuildResult {
        var built = BuildResult(runVars: pattern.runVars)
        guard !pattern.build.isEmpty else { return built }
        let context = CommandEngine.Context(
            exec: exec.overridden(by: pattern.buildExec, at: "buildExec", refused: { logger.warning("\($0)") }),
            environment: [:],
            origin: RunOrigin(source: "build", trigger: .push), deadline: .now + config.run.timeoutPush.duration)
        let result = await CommandEngine(metrics: nil, logger: logger).run(
            pattern.build, mode: .change, context: context)
        guard !result.failed else {
            throw CommandError(.invalid, "build commands failed: \(result.errors.joined(separator: "; "))")
        }
        for event in result.events {
            if event.name == "buildManifest" {
                built.manifest += event.trimmedOutput + "\n"
            } else if event.name.hasPrefix("runVar_") {
                built.runVars[String(event.name.dropFirst("runVar_".count))] = .string(event.trimmedOutput)
            } else if event.name.hasPrefix("runEnv_") {
                built.runEnv[String(event.name.dropFirst("runEnv_".count))] = event.trimmedOutput
            }
        }
        return built
    }

    /// The files keyed by their paths below the directory they all share, so the pattern carries
    /// `/main.jsonnet` and `/lib/x.libsonnet`, not this machine's directories.
    static func relocate(entrypoint: String, files: [String: String]) -> (String, [String: String]) {
        var common = (entrypoint as NSString).deletingLastPathComponent.split(separator: "/").map(String.init)
        for path in files.keys {
            let parts = (path as NSString).deletingLastPathComponent.split(separator: "/").map(String.init)
            var shared = 0
            while shared < min(common.count, parts.count), common[shared] == parts[shared] { shared += 1 }
            common = Array(common.prefix(shared))
        }
        let root = "/" + common.joined(separator: "/")
        func strip(_ path: String) -> String {
            root == "/" ? path : String(path.dropFirst(root.count))
        }
        return (strip(entrypoint), Dictionary(uniqueKeysWithValues: files.map { (strip($0.key), $0.value) }))
    }
}
