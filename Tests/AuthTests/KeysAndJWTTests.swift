import EtchaJSON
import Foundation
import Testing

@testable import Auth

let tutorialPrivate = "ed25519private:MC4CAQAwBQYDK2VwBCIEIBq+BhDRYk8OJv1ksMwKtf0td5p3FGwypXq96gHKefGS:reqYEklgP4"
let tutorialPublic = "ed25519public:MCowBQYDK2VwAyEAw7eTEuEH0+TfgtX3zB+JZVnYD0eskY6qn3n7ZCA7wWM=:reqYEklgP4"

/// Etcha key strings, JWS signing and verification, and interop with Python's `cryptography`.
@Suite struct KeysAndJWTTests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")

    @Test func theTutorialPairParsesAndMatches() throws {
        let privateKey = try PrivateKey(parsing: tutorialPrivate)
        let publicKey = try PublicKey(parsing: tutorialPublic)
        #expect(privateKey.algorithm == .ed25519)
        #expect(privateKey.id == "reqYEklgP4")
        #expect(privateKey.publicKey.description == tutorialPublic)
        #expect(publicKey.description == tutorialPublic)
        #expect(privateKey.keyString == tutorialPrivate)
    }

    /// Bare Ed25519 keys, as Etcha's OpenBao guide adds an exported key to verifyKeys: 32 bytes
    /// public, Go's 64 bytes (seed, public) private; halves that disagree are refused.
    @Test func bareEd25519KeysAreTakenAsEtchaTakesThem() throws {
        let key = try PrivateKey(parsing: tutorialPrivate)
        let publicRaw = Array(key.publicKey.der.suffix(32))
        let seed = Array(Data(base64Encoded: tutorialPrivate.split(separator: ":")[1].description)!.suffix(32))
        let bare = try PublicKey(parsing: "ed25519public:\(Data(publicRaw).base64EncodedString()):vault")
        #expect(bare.der == key.publicKey.der && bare.id == "vault")
        let message = Array("payload".utf8)
        #expect(bare.isValidSignature(try key.sign(message), for: message))
        let goForm = try PrivateKey(parsing: "ed25519private:\(Data(seed + publicRaw).base64EncodedString()):k")
        #expect(goForm.publicKey.der == key.publicKey.der)
        #expect(key.publicKey.isValidSignature(try goForm.sign(message), for: message))
        let other = Array(try PrivateKey.generate(.ed25519, id: "").publicKey.der.suffix(32))
        #expect(throws: KeyError.self) {
            try PrivateKey(parsing: "ed25519private:\(Data(seed + other).base64EncodedString())")
        }
        #expect(throws: KeyError.self) {
            try PublicKey(parsing: "ed25519public:\(Data(publicRaw.prefix(31)).base64EncodedString())")
        }
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func generatedKeysRoundTripAndSign(algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm, id: "k1")
        let reparsed = try PrivateKey(parsing: key.keyString)
        #expect(reparsed.publicKey == key.publicKey)
        let publicKey = try PublicKey(parsing: key.publicKey.description)
        let message = Array("hello".utf8)
        #expect(publicKey.isValidSignature(try key.sign(message), for: message))
        #expect(!publicKey.isValidSignature(try key.sign(message), for: Array("hellO".utf8)))
        #expect(key.publicKey.description.hasPrefix("\(algorithm.rawValue)public:"))
        #expect(key.keyString.hasPrefix("\(algorithm.rawValue)private:"))
    }

    @Test(arguments: [
        "ed25519public", "ed25519public:!!!", "ed25519public:AAAA",
        "ed25519private:" + String(tutorialPrivate.split(separator: ":")[1]),
        "rsa4096public:AAAA", "ecp256public:MCowBQYDK2VwAyEAw7eTEuEH0+TfgtX3zB+JZVnYD0eskY6qn3n7ZCA7wWM=",
    ])
    func malformedPublicKeysAreErrors(text: String) {
        #expect(throws: KeyError.self) { try PublicKey(parsing: text) }
    }

    @Test func malformedPrivateKeysAreErrorsWithoutKeyMaterial() {
        do {
            _ = try PrivateKey(parsing: "ed25519private:MC4CAQAwBQYDK2VwBCIEIBq+:x")
            Issue.record("parsed")
        } catch {
            #expect(!error.description.contains("MC4CAQ"))
        }
        #expect(throws: KeyError.self) { try PrivateKey(parsing: tutorialPublic) }
    }

    struct Vector: Decodable {
        var alg: String
        var publicKey: String
        var token: String
    }

    @Test func tokensSignedByPythonVerify() throws {
        let data = try Data(contentsOf: Self.vectors.appendingPathComponent("vectors.json"))
        let vectors = try JSONDecoder().decode([Vector].self, from: data)
        #expect(vectors.map(\.alg) == ["EdDSA", "ES256", "RS256"])
        for vector in vectors {
            let key = try PublicKey(parsing: vector.publicKey)
            let verified = try JWT.verify(vector.token, keys: [key])
            #expect(verified.claims["iss"] == .string("python"))
            #expect(verified.key == key)
            // Any other key type refuses it (alg pinned to the key).
            let other = try PrivateKey.generate(key.algorithm == .ed25519 ? .ecp256 : .ed25519, id: "").publicKey
            #expect(throws: JWTError.self) { try JWT.verify(vector.token, keys: [other]) }
        }
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func tokensSignedHereVerifyInPython(algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm, id: "kid-\(algorithm.rawValue)")
        let token = try JWT.sign(["iat": .number(1_700_000_000), "iss": .string("agent")], with: key)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Self.vectors.appendingPathComponent("verify.py").path, key.publicKey.description, token,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains(#""iss": "agent""#))
        // The same script refuses a token changed by one byte.
        // Flip a character well inside the signature (the last one may only carry padding bits).
        var characters = Array(token)
        characters[characters.count - 10] = characters[characters.count - 10] == "A" ? "B" : "A"
        let tampered = String(characters)
        let again = Process()
        again.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        again.arguments = [
            "python3", Self.vectors.appendingPathComponent("verify.py").path, key.publicKey.description, tampered,
        ]
        again.standardOutput = FileHandle.nullDevice
        again.standardError = FileHandle.nullDevice
        try again.run()
        again.waitUntilExit()
        #expect(again.terminationStatus != 0)
    }

    @Test func headerAndTimesAreIntegersAndPinned() throws {
        let key = try PrivateKey(parsing: tutorialPrivate)
        let token = try JWT.sign(["iat": .number(100), "exp": .number(200)], with: key)
        let header = try #require(JWT.decodeBase64URL(token.split(separator: ".")[0]))
        #expect(String(decoding: header, as: UTF8.self) == #"{"alg":"EdDSA","kid":"reqYEklgP4","typ":"JWT"}"#)
        let payload = String(decoding: try #require(JWT.decodeBase64URL(token.split(separator: ".")[1])), as: UTF8.self)
        #expect(payload == #"{"exp":200,"iat":100}"#)
        #expect(throws: JWTError("expired")) { try JWT.verify(token, keys: [key.publicKey], now: 231) }
        #expect(try JWT.verify(token, keys: [key.publicKey], now: 229).key == key.publicKey)
        let future = try JWT.sign(["nbf": .number(1000)], with: key)
        #expect(throws: JWTError("not valid yet (nbf)")) { try JWT.verify(future, keys: [key.publicKey], now: 969) }
        #expect(try JWT.verify(future, keys: [key.publicKey], now: 971).key == key.publicKey)
    }

    @Test func aKidNamingAConfiguredKeySelectsItAndOthersAreTried() throws {
        let signer = try PrivateKey(parsing: tutorialPrivate)
        let stranger = try PrivateKey.generate(.ed25519, id: "reqYEklgP4")  // claims the tutorial kid
        let unnamed = try PublicKey(
            parsing: String(tutorialPublic.split(separator: ":").prefix(2).joined(separator: ":")))
        let token = try JWT.sign(["iat": .number(1)], with: signer)
        // kid names a configured key: only that key is tried.
        #expect(throws: JWTError.self) { try JWT.verify(token, keys: [stranger.publicKey, unnamed]) }
        // kid names no configured key: every key of the type is tried, as Etcha does.
        #expect(try JWT.verify(token, keys: [unnamed]).key == unnamed)
        let forged = try JWT.sign(["iat": .number(1)], with: stranger)
        #expect(throws: JWTError.self) { try JWT.verify(forged, keys: [signer.publicKey]) }
    }

    @Test func attacksAreRefused() throws {
        let key = try PrivateKey(parsing: tutorialPrivate)
        let keys = [key.publicKey]
        let valid = try JWT.sign(["iat": .number(1)], with: key)
        let parts = valid.split(separator: ".").map(String.init)
        func header(_ json: String) -> String { JWT.base64URL(Array(json.utf8)) }
        let none = header(#"{"alg":"none","typ":"JWT"}"#) + "." + parts[1] + "."
        #expect(throws: JWTError(#"alg "none" is not accepted"#)) { try JWT.verify(none, keys: keys) }
        // HS256 keyed with the public key's bytes: refused before any HMAC could be computed.
        let hs = header(#"{"alg":"HS256","kid":"reqYEklgP4"}"#) + "." + parts[1] + "." + parts[2]
        #expect(throws: JWTError(#"alg "HS256" is not accepted"#)) { try JWT.verify(hs, keys: keys) }
        let es = header(#"{"alg":"ES256","kid":"reqYEklgP4"}"#) + "." + parts[1] + "." + parts[2]
        #expect(throws: JWTError("no configured key of type ecp256")) { try JWT.verify(es, keys: keys) }
        var payload = Array(parts[1].utf8)
        payload[3] = payload[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let changedPayload = parts[0] + "." + String(decoding: payload, as: UTF8.self) + "." + parts[2]
        #expect(throws: JWTError.self) { try JWT.verify(changedPayload, keys: keys) }
        var signature = Array(parts[2])
        signature[10] = signature[10] == "A" ? "B" : "A"
        let changedSignature = parts[0] + "." + parts[1] + "." + String(signature)
        #expect(throws: JWTError.self) { try JWT.verify(changedSignature, keys: keys) }
        #expect(throws: JWTError.self) { try JWT.verify(parts[0] + "." + parts[1], keys: keys) }
        #expect(throws: JWTError.self) { try JWT.verify(valid + ".x", keys: keys) }
        #expect(throws: JWTError("a part is not base64url")) { try JWT.verify("a*b.c.d", keys: keys) }
        #expect(throws: JWTError.self) { try JWT.verify("", keys: keys) }
        #expect(throws: JWTError.self) { try JWT.verify(valid, keys: []) }
    }
}

@Suite struct JWTRuleTests {
    let claims: [String: JSON] = [
        "iss": .string("ci"), "aud": .array([.string("prod"), .string("eu")]), "sub": .string("web"),
        "etchaRunVars": .object(["env": .string("prod")]), "iat": .number(5),
    ]

    @Test(arguments: [
        ("iss == 'ci'", true), ("iss != 'ci'", false), ("'prod' in aud", true), ("\"us\" in aud", false),
        ("iss == 'ci' && 'eu' in aud", true), ("iss == 'x' || sub == 'web'", true), ("!(iss == 'ci')", false),
        ("etchaRunVars.env == 'prod'", true), ("'env' in etchaRunVars", true), ("sub in ['web', 'db']", true),
        ("iat == 5", true), ("missing == 'x'", false), ("iss", false), ("(iss == 'ci' || false) && !false", true),
    ])
    func evaluates(rule: String, expected: Bool) throws {
        #expect(try JWTRule(parsing: rule).allows(claims) == expected)
    }

    @Test(arguments: ["iss ==", "(iss == 'x'", "iss = 'x'", "'open", "in aud", "iss == 'a' &&"])
    func badRulesDoNotParse(rule: String) {
        #expect(throws: JWTError.self) { try JWTRule(parsing: rule) }
    }
}
