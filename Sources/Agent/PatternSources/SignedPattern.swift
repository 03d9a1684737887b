import Auth
import EtchaJSON
import Foundation

/// A verified JWT and the pattern it carries (docs/behaviour.md#3-keys-and-jwts claims): the
/// Jsonnet files under `etchaPattern`, `etchaRunVars`, `etchaBuildManifest` and `etchaVersion`.
public struct SignedPattern: Sendable {
    /// The verified token.
    public var token: VerifiedToken
    /// The entrypoint's path within `files`.
    public var entrypoint: String
    /// The pattern's Jsonnet files by absolute path.
    public var files: [String: String]
    /// Variables the build put in the token.
    public var runVars: [String: JSON]
    /// Environment variables the build put in the token (`etchaRunEnv`, from `runEnv_NAME` events).
    public var runEnv: [String: String]
    /// The build manifest.
    public var buildManifest: String
    /// The version of the etcha that built it.
    public var version: String

    /// Reads the claims of a verified token; a token without a usable `etchaPattern` is refused.
    public init(_ token: VerifiedToken) throws(JWTError) {
        self.token = token
        guard case .object(let pattern)? = token.claims["etchaPattern"],
            case .string(let entrypoint)? = pattern["entrypoint"],
            case .object(let files)? = pattern["files"]
        else { throw JWTError("the token carries no etchaPattern {entrypoint, files}") }
        var texts: [String: String] = [:]
        for (path, content) in files {
            guard case .string(let text) = content else {
                throw JWTError("etchaPattern.files[\(path)] is not a string")
            }
            texts[path] = text
        }
        guard texts[entrypoint] != nil else { throw JWTError("etchaPattern.entrypoint is not among its files") }
        self.entrypoint = entrypoint
        self.files = texts
        runVars = token.claims["etchaRunVars"]?.object ?? [:]
        runEnv = (token.claims["etchaRunEnv"]?.object ?? [:]).compactMapValues(\.string)
        buildManifest = token.claims["etchaBuildManifest"]?.string ?? ""
        version = token.claims["etchaVersion"]?.string ?? ""
    }

    /// `iat`, the order tokens of one source must keep (anti-rollback).
    public var issuedAt: Int { token.time("iat") ?? 0 }

    /// When the token expires, if it does.
    public var expiresAt: Date? { token.time("exp").map { Date(timeIntervalSince1970: TimeInterval($0)) } }

    /// Whether `other` carries the same pattern, build manifest and (unless ignored) version, so a
    /// pull that fetched it again need not apply it.
    public func sameContent(as other: SignedPattern, ignoringVersion: Bool) -> Bool {
        entrypoint == other.entrypoint && files == other.files && runVars == other.runVars && runEnv == other.runEnv
            && buildManifest == other.buildManifest && (ignoringVersion || version == other.version)
    }
}
