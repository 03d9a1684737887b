import Agent
import ArgumentParser
import Auth
import EtchaJSON
import Foundation

/// `etcha generate-keys`, also `gen-keys` (Etcha 2024's name).
struct GenerateKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-keys",
        abstract: "Make a signing key and its verify key, printed as {\"privateKey\": …, \"publicKey\": …}.",
        aliases: ["gen-keys"])

    @OptionGroup var global: GlobalOptions

    @Option(help: "Key type: ed25519, ecp256 or rsa2048.")
    var type: String = "ed25519"

    @Argument(help: "Key id (KID) to put in the key strings and JWT headers.")
    var kid: String = ""

    func run() throws {
        guard let algorithm = KeyAlgorithm(rawValue: type) else {
            throw CLIError("--type must be ed25519, ecp256 or rsa2048")
        }
        let key = try PrivateKey.generate(algorithm, id: kid)
        let json = JSON.object(["privateKey": .string(key.keyString), "publicKey": .string(key.publicKey.description)])
        print(json.text)
    }
}

/// `etcha jwt`.
struct JWTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jwt",
        abstract: "Print a JWT's header and claims and say whether it verifies against run.verifyKeys.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A JWT, or a file holding one.")
    var token: String

    func run() throws {
        let (loaded, _) = try global.load()
        let text = readToken(token)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = JWT.decodeBase64URL(parts[0]), let claims = JWT.decodeBase64URL(parts[1]),
            let headerJSON = try? JSON(parsing: Data(header)), let claimsJSON = try? JSON(parsing: Data(claims))
        else { throw CLIError("not a JWT") }
        print(JSON.object(["header": headerJSON, "claims": claimsJSON]).text)
        let trust = SourceTrust(keys: try verifyKeys(loaded.config))
        do {
            let verified = try trust.verify(text)
            print("verified by key \(verified.key.id.isEmpty ? "(no kid)" : verified.key.id)")
        } catch {
            print("not verified: \(error)")
            throw ExitCode(1)
        }
    }

    private func verifyKeys(_ config: Config) throws -> [PublicKey] {
        try config.run.verifyKeys.map { try PublicKey(parsing: $0) }
    }
}

/// `etcha compare`.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Exit 0 when two JWTs carry the same pattern, build manifest and version (unverified; contents only)."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "First JWT or file.") var first: String
    @Argument(help: "Second JWT or file.") var second: String

    @Flag(help: "Ignore etchaVersion.") var ignoreVersion = false

    func run() throws {
        func claims(_ argument: String) throws -> [String: JSON] {
            let parts = readToken(argument).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, let bytes = JWT.decodeBase64URL(parts[1]),
                let claims = try? JSON(parsing: Data(bytes)).object
            else { throw CLIError("\(argument): not a JWT") }
            return claims
        }
        let (a, b) = (try claims(first), try claims(second))
        var keys = ["etchaPattern", "etchaRunVars", "etchaBuildManifest"]
        if !ignoreVersion { keys.append("etchaVersion") }
        guard keys.allSatisfy({ a[$0] == b[$0] }) else {
            print("different")
            throw ExitCode(1)
        }
        print("same")
    }
}

/// The argument itself, or the contents of the file it names.
func readToken(_ argument: String) -> String {
    if FileManager.default.fileExists(atPath: argument),
        let text = try? String(contentsOfFile: argument, encoding: .utf8)
    {
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return argument.trimmingCharacters(in: .whitespacesAndNewlines)
}
