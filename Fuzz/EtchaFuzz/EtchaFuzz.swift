import Agent
import Auth
import EtchaJSON
import Foundation

// Two fuzz targets in one executable, chosen by ETCHA_FUZZ_TARGET (`jwt` or `config`):
//
//   jwt     the bytes as a token for JWT.verify (against an Ed25519, an ES256 and an RS256 key), as
//           JSON, as a key string, and as a jwtRule expression
//   config  the bytes as configuration JSON through the whole loader (schema, defaults, decoding,
//           validation of keys, rules, commands), and as a -x assignment
//
// It is a libFuzzer binary and builds only with -sanitize=fuzzer (`make fuzz`). Given a file instead
// of a directory, it runs that one input, which is how a saved crash-* is reproduced.

enum FuzzTarget: String {
    case jwt, config

    static let chosen = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["ETCHA_FUZZ_TARGET"] ?? "jwt") ?? .jwt

    /// Keys of each type the verifier accepts (the committed test vectors'), so fuzzed headers reach
    /// every signature check.
    static let keys: [PublicKey] = [
        "ed25519public:MCowBQYDK2VwAyEAw7eTEuEH0+TfgtX3zB+JZVnYD0eskY6qn3n7ZCA7wWM=:reqYEklgP4",
        "ecp256public:MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE474UNhq9F0f8zmuVuM7nfZ7pgspy0BxHXdHNCxusgK6WTPBGD8ty/9nPV2ealV9OLRNEP0US6MBlyEYGfCqkmQ==:p256",
        "rsa2048public:MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAm9Wrh95VZP6pIFGxvPsGK61DosFUWG8zKwtoVAKDgfF2dpmr9ZJt7XLJ42+v1v1R7tYLfPTWVcenNQFS/L6+wlfEfT2xYDshYRw+vMVqSIDIFeLGnQk5PQM3KgBJ3nupeJaJUldyS1LUM1zCCCqh/zsp7hme4HF03RdhTDy9FCloMGF0NnmDHANE5jnSoORwU7wTdMr52/r70d369BZcubiJZneqHWWzBfLNMuUi+dI5WliYYAd3EGYfiv51rZ7WqBNPh/hKhp3ZQHclLNsP1a4fYddba1t6Z7fOLOiGEQ75/58hPbSjKufb/Hk1utwMiyeeSz01X4Nt+SqmQmfAIQIDAQAB:rsa",
    ].map { try! PublicKey(parsing: $0) }

    func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch self {
        case .jwt:
            if let verified = try? JWT.verify(text, keys: Self.keys) { _ = try? SignedPattern(verified) }
            _ = try? JSON(parsing: Data(bytes))
            _ = try? PublicKey(parsing: text)
            if let rule = try? JWTRule(parsing: text) { _ = rule.allows(["aud": .string("x"), "n": .number(1)]) }
        case .config:
            _ = try? ConfigLoader(path: nil, environment: [:]).load(json: Data(bytes))
            _ = try? ConfigLoader(path: nil, overrides: [text], environment: [:]).load(json: Data("{}".utf8))
        }
    }
}

/// What libFuzzer calls for each input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.chosen.run(start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
    return 0
}

/// libFuzzer's driver, for programs with a `main` of their own (SwiftPM makes the Swift entry point
/// the executable's `main`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
enum Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })
    }
}
