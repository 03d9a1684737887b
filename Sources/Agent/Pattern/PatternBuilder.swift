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
///     let token = try await PatternBuilder(config: config, logger: logger).build("patterns/web.jsonnet")
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

    /// Builds and signs the pattern at `path`, rendered for `target` when given.
    public func build(_ path: String, target: String? = nil, now: Int = Int(Date().timeIntervalSince1970))
        async throws(CommandError) -> Output
    {
        let key = try config.signingKey()
        let exec = ResolvedExec(topLevel: config.exec)
        let rendered = try PatternRenderer.render(
            .file(path),
            configuration: PatternRenderer.configuration(config: config, source: "", exec: exec, target: target))
        let pattern = rendered.pattern
        var runVars = pattern.runVars
        var manifest = ""
        if !pattern.build.isEmpty {
            let context = CommandEngine.Context(
                exec: try exec.overridden(by: pattern.buildExec, at: "buildExec"), environment: [:],
                origin: RunOrigin(source: "build", trigger: .push), deadline: .now + config.run.timeoutPush.duration)
            let result = await CommandEngine(metrics: nil, logger: logger).run(
                pattern.build, mode: .change, context: context)
            guard !result.failed else {
                throw CommandError(.invalid, "build commands failed: \(result.errors.joined(separator: "; "))")
            }
            for event in result.events {
                if event.name == "buildManifest" {
                    manifest += event.trimmedOutput + "\n"
                } else if event.name.hasPrefix("runVar_") {
                    runVars[String(event.name.dropFirst("runVar_".count))] = .string(event.trimmedOutput)
                }
            }
        }
        let (entrypoint, files) = Self.relocate(entrypoint: rendered.entrypoint, files: rendered.files)
        var claims: [String: JSON] = [
            "iat": .number(Double(now)), "nbf": .number(Double(now)),
            "etchaPattern": .object(["entrypoint": .string(entrypoint), "files": .object(files.mapValues(JSON.string))]
            ),
            "etchaRunVars": .object(runVars), "etchaBuildManifest": .string(manifest),
            "etchaVersion": .string(AgentVersion.current),
        ]
        let (expirySeconds, _) = pattern.expiresIn.duration.components
        if expirySeconds > 0 { claims["exp"] = .number(Double(now + Int(expirySeconds))) }
        if !pattern.audience.isEmpty { claims["aud"] = .array(pattern.audience.map(JSON.string)) }
        if !pattern.issuer.isEmpty { claims["iss"] = .string(pattern.issuer) }
        if !pattern.subject.isEmpty { claims["sub"] = .string(pattern.subject) }
        if !pattern.id.isEmpty { claims["jti"] = .string(pattern.id) }
        do {
            return Output(token: try JWT.sign(claims, with: key), rendered: rendered)
        } catch {
            throw CommandError(.invalid, "cannot sign: \(error)")
        }
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
