import EtchaJSON
import Foundation

/// Why a token is refused. Callers log it and answer as for an unknown source; the text names the
/// reason, never key material.
public struct JWTError: Error, CustomStringConvertible, Sendable, Equatable {
    /// One line for the log.
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A token whose signature, `alg`, time claims and rule were checked.
public struct VerifiedToken: Sendable {
    /// The token as received.
    public var token: String
    /// The claims object.
    public var claims: [String: JSON]
    /// The key that verified it; nil when verify commands did.
    public var key: PublicKey?

    /// The verifying key's id, or empty (no `kid`, or verified by commands).
    public var keyID: String { key?.id ?? "" }

    /// An integer claim (`iat`, `exp`, …), if present and numeric.
    public func time(_ claim: String) -> Int? {
        if case .number(let value)? = claims[claim] { return Int(value) }
        return nil
    }
}

/// Compact JWS as Etcha uses it: `{"alg", "kid", "typ": "JWT"}`, claims with integer times, and
/// EdDSA, ES256 or RS256 signatures. Written on swift-crypto rather than a JWT library so that the
/// rules that matter are the code itself: the header `alg` must be the key's (`none`, HMAC and any
/// mismatch are refused), a `kid` that names a configured key selects it, and `exp`/`nbf` are
/// checked with 30 s of skew.
///
///     let token = try JWT.sign(claims, with: key)
///     let verified = try JWT.verify(token, keys: keys)
public enum JWT {
    /// Allowed clock difference for `exp` and `nbf`.
    public static let skew = 30

    /// Signs `claims` (a JSON object) with `key`.
    public static func sign(_ claims: [String: JSON], with key: PrivateKey) throws(KeyError) -> String {
        var header: [String: JSON] = ["alg": .string(key.algorithm.jwsAlgorithm), "typ": .string("JWT")]
        if !key.id.isEmpty { header["kid"] = .string(key.id) }
        let input =
            base64URL(Array(JSON.object(header).text.utf8)) + "." + payload(claims)
        return input + "." + base64URL(try key.sign(Array(input.utf8)))
    }

    /// Verifies `token` against `keys` at `now` (seconds since 1970).
    public static func verify(_ token: String, keys: [PublicKey], now: Int = Int(Date().timeIntervalSince1970))
        throws(JWTError) -> VerifiedToken
    {
        // Split on the bytes: splitting the String would break it into grapheme clusters first.
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map(Substring.init)
        guard parts.count == 3 else { throw JWTError("not a compact JWS (three dot-separated parts)") }
        guard let headerBytes = decodeBase64URL(parts[0]), let payloadBytes = decodeBase64URL(parts[1]),
            let signature = decodeBase64URL(parts[2])
        else { throw JWTError("a part is not base64url") }
        guard case .object(let header)? = try? JSON(parsing: Data(headerBytes)), case .string(let alg)? = header["alg"]
        else { throw JWTError("the header is not a JSON object with alg") }
        guard let algorithm = KeyAlgorithm.allCases.first(where: { $0.jwsAlgorithm == alg }) else {
            throw JWTError("alg \"\(alg)\" is not accepted")
        }
        var candidates = keys
        if case .string(let kid)? = header["kid"], !kid.isEmpty, keys.contains(where: { $0.id == kid }) {
            candidates = keys.filter { $0.id == kid }
        }
        candidates = candidates.filter { $0.algorithm == algorithm }
        guard !candidates.isEmpty else { throw JWTError("no configured key of type \(algorithm.rawValue)") }
        let signed = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard let key = candidates.first(where: { $0.isValidSignature(signature, for: signed) }) else {
            throw JWTError("the signature does not verify")
        }
        return try checkClaims(token, payload: payloadBytes, key: key, now: now)
    }

    /// Accepts `token` as verified by something else (Etcha's verify commands): its signature is
    /// not checked here, but it must be a compact JWS whose claims are a JSON object and whose
    /// `exp`/`nbf` hold at `now`, as for a token verified by a key.
    public static func acceptVerifiedElsewhere(_ token: String, now: Int = Int(Date().timeIntervalSince1970))
        throws(JWTError) -> VerifiedToken
    {
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map(Substring.init)
        guard parts.count == 3, decodeBase64URL(parts[0]) != nil, let payloadBytes = decodeBase64URL(parts[1]),
            decodeBase64URL(parts[2]) != nil
        else { throw JWTError("not a compact JWS (three base64url parts)") }
        return try checkClaims(token, payload: payloadBytes, key: nil, now: now)
    }

    private static func checkClaims(_ token: String, payload: [UInt8], key: PublicKey?, now: Int) throws(JWTError)
        -> VerifiedToken
    {
        guard case .object(let claims)? = try? JSON(parsing: Data(payload)) else {
            throw JWTError("the claims are not a JSON object")
        }
        let verified = VerifiedToken(token: token, claims: claims, key: key)
        if let exp = verified.time("exp"), now > exp + skew { throw JWTError("expired") }
        if let nbf = verified.time("nbf"), now + skew < nbf { throw JWTError("not valid yet (nbf)") }
        for claim in ["exp", "nbf", "iat"] where claims[claim] != nil && verified.time(claim) == nil {
            throw JWTError("\(claim) is not a number")
        }
        return verified
    }

    /// The payload part of a token for `claims`: what signing commands are given to sign.
    public static func payload(_ claims: [String: JSON]) -> String {
        base64URL(Array(JSON.object(claims).text.utf8))
    }

    /// Base64url without padding.
    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Decodes base64url with or without padding; nil for anything else (including non-zero
    /// trailing bits, so one token has one spelling).
    public static func decodeBase64URL(_ text: Substring) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0 else { return nil }
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // A lone 6-bit group cannot be a byte; leftover bits must be zero.
        guard bits != 6, accumulator == 0, padding <= 2 else { return nil }
        return output
    }
}
