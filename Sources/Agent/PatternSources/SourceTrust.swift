import Auth

/// What a source believes: the keys that may sign its patterns and the rule their claims must meet.
public struct SourceTrust: Sendable {
    /// `run.verifyKeys` plus the source's own `verifyKeys`.
    public var keys: [PublicKey]
    /// The source's `jwtRule`, else `run.jwtRule`, else none.
    public var rule: JWTRule?

    /// Makes a trust.
    public init(keys: [PublicKey] = [], rule: JWTRule? = nil) {
        self.keys = keys
        self.rule = rule
    }

    /// Verifies `token` by docs/behaviour.md#3-keys-and-jwts: signature under one of the keys with
    /// `alg` pinned to its type, `exp`/`nbf` with skew, then the rule.
    public func verify(_ token: String) throws(JWTError) -> VerifiedToken {
        guard !keys.isEmpty else { throw JWTError("no verify keys are configured for this source") }
        let verified = try JWT.verify(token, keys: keys)
        if let rule, !rule.allows(verified.claims) {
            throw JWTError("the claims do not satisfy jwtRule \"\(rule.text)\"")
        }
        return verified
    }
}
