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

    @Argument(
        help: """
            Key id (KID) to put in the key strings and JWT headers. Etcha's `sign-verify` here makes \
            an ed25519 pair with a random 10-character id, as Etcha does, unless a KID follows it.
            """)
    var names: [String] = []

    func run() throws {
        guard let algorithm = KeyAlgorithm(rawValue: type) else {
            throw CLIError("--type must be ed25519, ecp256 or rsa2048")
        }
        var kid = names.first ?? ""
        switch names.first {
        case "sign-verify":
            guard names.count <= 2 else { throw CLIError("expected at most one KID after sign-verify") }
            kid = names.count > 1 ? names[1] : NativeFunctions.randomString(length: 10)
        case "encrypt-asymmetric", "encrypt-symmetric":
            throw CLIError("\(kid) keys are not made here: the agent only signs and verifies")
        default:
            guard names.count <= 1 else { throw CLIError("expected at most one KID") }
        }
        let key = try PrivateKey.generate(algorithm, id: kid)
        let json = JSON.object(["privateKey": .string(key.keyString), "publicKey": .string(key.publicKey.description)])
        print(json.text)
    }
}

/// `etcha jwt`.
struct JWTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jwt",
        abstract: """
            Print a JWT's claims, as Etcha does, and its header and whether it verifies on standard error; \
            exit 1 unless it verifies (run.verifyCommands, else run.verifyKeys, and run.jwtRule).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A JWT, or a file holding one.")
    var token: String

    func run() async throws {
        let (loaded, logger) = try global.load()
        let text = readToken(token)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = JWT.decodeBase64URL(parts[0]), let claims = JWT.decodeBase64URL(parts[1]),
            let headerJSON = try? JSON(parsing: Data(header)), let claimsJSON = try? JSON(parsing: Data(claims)),
            claimsJSON.object != nil
        else { throw CLIError("not a JWT") }
        print(claimsJSON.text)
        FileHandle.standardError.write(Data("header: \(headerJSON.text)\n".utf8))
        do {
            let verified = try await loaded.runTrust.verifyPattern(text, source: "", logger: logger)
            let by =
                loaded.runTrust.commands.isEmpty
                ? "key \(verified.keyID.isEmpty ? "(no kid)" : verified.keyID)" : "run.verifyCommands"
            FileHandle.standardError.write(Data("verified by \(by)\n".utf8))
        } catch {
            FileHandle.standardError.write(Data("not verified: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// `etcha compare`.
struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract:
            "Exit 0 when two JWTs carry the same build manifest, version, pattern and run variables (contents only, unverified).",
        discussion: """
            NEW and OLD are JWTs, files holding one, or http(s) URLs (with #Header:value suffixes, as pullPaths). \
            When they differ, the first field that differs is printed as lines of OLD (-) and NEW (+), and the status is 1.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The new JWT, file or URL.") var new: String
    @Argument(help: "The old JWT, file or URL.") var old: String

    @Flag(name: [.customShort("i"), .long], help: "Ignore etchaVersion.") var ignoreVersion = false

    func run() async throws {
        let (loaded, _) = try global.load()
        let fetcher = PullFetcher(config: loaded.config, deadline: .seconds(30))
        func claims(_ argument: String) async throws -> [String: JSON] {
            let text: String
            if argument.hasPrefix("https://") || argument.hasPrefix("http://") {
                do {
                    text = try await fetcher.fetch(argument)
                } catch {
                    throw CLIError("\(PullFetcher.split(argument).0): \(error)")
                }
            } else {
                text = readToken(argument)
            }
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, let bytes = JWT.decodeBase64URL(parts[1]),
                let claims = try? JSON(parsing: Data(bytes)).object
            else { throw CLIError("\(argument): not a JWT") }
            return claims
        }
        let (newer, older) = (try await claims(new), try await claims(old))
        var fields = ["etchaBuildManifest", "etchaVersion", "etchaPattern", "etchaRunVars"]
        if ignoreVersion { fields.removeAll { $0 == "etchaVersion" } }
        guard let differing = fields.first(where: { newer[$0] != older[$0] }) else {
            print("same")
            return
        }
        print("different: \(differing)")
        print(LineDifference(old: Self.lines(of: older[differing]), new: Self.lines(of: newer[differing])).text)
        throw ExitCode(1)
    }

    /// A field as lines: a string as its lines; the pattern as each file's path and lines, in path
    /// order; anything else as its sorted JSON.
    static func lines(of value: JSON?) -> [String] {
        switch value {
        case .string(let text)?:
            return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        case .object(let members)? where members["files"]?.object != nil:
            var lines = ["entrypoint: \(members["entrypoint"]?.string ?? "")"]
            for (path, content) in (members["files"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
                lines.append("file \(path):")
                lines += (content.string ?? "").split(separator: "\n", omittingEmptySubsequences: false).map {
                    "  " + $0
                }
            }
            return lines
        case let other?:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let text = (try? encoder.encode(other)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return text.split(separator: "\n").map(String.init)
        case nil:
            return []
        }
    }
}

/// The lines two texts share, kept as `  line`, and the others as `- line` (old) and `+ line`
/// (new), from a longest common subsequence; texts are a pattern's size, so the quadratic table is
/// small.
struct LineDifference {
    var text: String

    init(old: [String], new: [String]) {
        var common = [[Int]](repeating: [Int](repeating: 0, count: new.count + 1), count: old.count + 1)
        for i in stride(from: old.count - 1, through: 0, by: -1) {
            for j in stride(from: new.count - 1, through: 0, by: -1) {
                common[i][j] = old[i] == new[j] ? common[i + 1][j + 1] + 1 : max(common[i + 1][j], common[i][j + 1])
            }
        }
        var lines: [String] = []
        var (i, j) = (0, 0)
        while i < old.count || j < new.count {
            if i < old.count, j < new.count, old[i] == new[j] {
                lines.append("  " + old[i])
                i += 1
                j += 1
            } else if i < old.count, j == new.count || common[i + 1][j] >= common[i][j + 1] {
                lines.append("- " + old[i])
                i += 1
            } else {
                lines.append("+ " + new[j])
                j += 1
            }
        }
        text = lines.joined(separator: "\n")
    }
}

/// Whether `text` has the shape of a compact JWT: three dot-separated base64url parts.
func isCompactJWT(_ text: String) -> Bool {
    text.split(separator: ".", omittingEmptySubsequences: false).count == 3
        && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.=".contains($0)) }
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
