import Auth
import EtchaJSON
import Foundation

/// One request of a shell session (docs/behaviour.md#7-shell-sessions), read from a verified token:
/// `c` columns and `r` rows (0 keeps the size), `s` standard-base64 input, `i` the session id
/// (absent when opening).
struct ShellRequest: Sendable {
    /// Terminal columns, or 0.
    var columns: UInt16
    /// Terminal rows, or 0.
    var rows: UInt16
    /// Bytes for the terminal.
    var input: [UInt8]
    /// The session the request belongs to; nil opens one.
    var sessionID: String?
    /// The token's `jti`, when it has one: such a token is accepted once.
    var nonce: String?
    /// The token's `exp`.
    var expiresAt: Int

    /// How long after `iat` a shell token may expire: these tokens are for one keystroke, not a day.
    static let maximumLifetime = 30
    /// Input bytes per request.
    static let maximumInput = 64 * 1024

    init(_ token: VerifiedToken) throws(ShellRefusal) {
        guard let issuedAt = token.time("iat"), let expiresAt = token.time("exp") else {
            throw ShellRefusal(.notFound, "a shell token needs iat and exp")
        }
        guard expiresAt > issuedAt, expiresAt - issuedAt <= Self.maximumLifetime else {
            throw ShellRefusal(
                .notFound,
                "a shell token must expire within \(Self.maximumLifetime) s of iat (it has \(expiresAt - issuedAt) s)")
        }
        self.expiresAt = expiresAt
        columns = try Self.size(token.claims["c"], claim: "c")
        rows = try Self.size(token.claims["r"], claim: "r")
        switch token.claims["i"] {
        case nil, .null?: sessionID = nil
        case .string(let id)?: sessionID = id.isEmpty ? nil : id
        default: throw ShellRefusal(.badRequest, "claim i is not a string")
        }
        switch token.claims["s"] {
        case nil, .null?:
            input = []
        case .string(let text)?:
            guard let bytes = Data(base64Encoded: text) else {
                throw ShellRefusal(.badRequest, "claim s is not standard base64")
            }
            guard bytes.count <= Self.maximumInput else {
                throw ShellRefusal(.tooLarge, "more than \(Self.maximumInput) bytes of input")
            }
            input = Array(bytes)
        default:
            throw ShellRefusal(.badRequest, "claim s is not a string")
        }
        nonce = token.claims["jti"]?.string
    }

    private static func size(_ value: JSON?, claim: String) throws(ShellRefusal) -> UInt16 {
        switch value {
        case nil, .null?: return 0
        case .number(let number)? where number >= 0 && number <= 10_000 && number == number.rounded():
            return UInt16(number)
        default: throw ShellRefusal(.badRequest, "claim \(claim) is not a terminal size")
        }
    }
}
