import EtchaJSON
import Foundation

/// A rendered pattern (docs/behaviour.md#4-patterns-and-commands): what to build, what to run, and
/// the claims a build puts in its JWT.
public struct Pattern: Sendable, Equatable {
    /// JWT `aud` values.
    public var audience: [String] = []
    /// Commands `etcha build` runs.
    public var build: [Command] = []
    /// Exec override for `build`.
    public var buildExec: Exec?
    /// Where `etcha build` writes the JWT by default.
    public var buildOutput = ""
    /// JWT lifetime; zero means no `exp`. Set by `expiresIn` (a duration) or by Etcha 2024's
    /// `expiresInSec` (whole seconds).
    public var expiresIn = GoDuration(.zero)
    /// JWT `jti`.
    public var id = ""
    /// JWT `iss`.
    public var issuer = ""
    /// Commands a source runs.
    public var run: [Command] = []
    /// Exec override for `run`.
    public var runExec: Exec?
    /// Variables carried in the JWT as `etchaRunVars`.
    public var runVars: [String: JSON] = [:]
    /// Environment variables for the `run` commands (Etcha's current `runEnv`); on a node, the
    /// token's `etchaRunEnv` fills in what the pattern does not set.
    public var runEnv: [String: String] = [:]
    /// JWT `sub`.
    public var subject = ""

    /// A pattern that runs `commands` (a source's static commands).
    public init(run commands: [Command] = []) {
        run = commands
    }

    static let keys: Set<String> = [
        "audience", "build", "buildExec", "buildOutput", "expiresIn", "expiresInSec", "id", "issuer", "run", "runExec",
        "runEnv", "runVars", "subject",
    ]

    /// Reads a pattern from rendered JSON; unknown keys, wrong types and bad `on*` targets are errors.
    init(json: JSON) throws(CommandError) {
        guard let members = json.object else {
            throw CommandError(.invalid, "a pattern must render to an object, got \(json.typeName)")
        }
        for key in members.keys.sorted() where !Pattern.keys.contains(key) {
            throw CommandError(.invalid, "\(key): unknown pattern key\(NearestKey.hint(for: key, among: Pattern.keys))")
        }
        func string(_ key: String) throws(CommandError) -> String {
            switch members[key] {
            case nil, .null?: return ""
            case .string(let value)?: return value
            case let other?: throw CommandError(.invalid, "\(key): expected a string, got \(other.typeName)")
            }
        }
        switch members["audience"] {
        case nil, .null?: break
        case .string(let value)?: audience = value.isEmpty ? [] : [value]
        case .array(let values)?: audience = values.compactMap(\.string)
        case let other?: throw CommandError(.invalid, "audience: expected a string or list, got \(other.typeName)")
        }
        build = try Command.list(from: members["build"] ?? .null, path: "build")
        run = try Command.list(from: members["run"] ?? .null, path: "run")
        try CommandTargets.validate(build, path: "build")
        try CommandTargets.validate(run, path: "run")
        buildExec = try Exec.parse(members["buildExec"], path: "buildExec")
        runExec = try Exec.parse(members["runExec"], path: "runExec")
        buildOutput = try string("buildOutput")
        let expires = try string("expiresIn")
        guard let parsed = GoDuration(parsing: expires) else {
            throw CommandError(.invalid, "expiresIn: \"\(expires)\" is not a duration")
        }
        expiresIn = parsed
        switch members["expiresInSec"] {
        case nil, .null?: break
        case .number(let seconds)? where seconds >= 0 && seconds == seconds.rounded() && seconds < 1e12:
            guard expiresIn.duration == .zero || seconds == 0 else {
                throw CommandError(.invalid, "expiresInSec: give expiresIn or expiresInSec, not both")
            }
            if seconds > 0 { expiresIn = GoDuration(.seconds(Int64(seconds))) }
        case let other?:
            throw CommandError(.invalid, "expiresInSec: expected a whole number of seconds, got \(other.typeName)")
        }
        id = try string("id")
        issuer = try string("issuer")
        subject = try string("subject")
        switch members["runEnv"] {
        case nil, .null?: break
        case .object(let variables)?:
            for (name, value) in variables {
                guard case .string(let text) = value else {
                    throw CommandError(.invalid, "runEnv.\(name): expected a string, got \(value.typeName)")
                }
                runEnv[name] = text
            }
        case let other?: throw CommandError(.invalid, "runEnv: expected an object, got \(other.typeName)")
        }
        switch members["runVars"] {
        case nil, .null?: break
        case .object(let vars)?: runVars = vars
        case let other?: throw CommandError(.invalid, "runVars: expected an object, got \(other.typeName)")
        }
    }
}
