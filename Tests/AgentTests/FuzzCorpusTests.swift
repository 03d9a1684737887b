import Agent
import Auth
import EtchaJSON
import Foundation
import Testing

/// The committed fuzz corpus (seeds and any input that once crashed), fed through the parsers that
/// `Fuzz/EtchaFuzz` fuzzes, in the normal debug build: a crash found by `make fuzz` stays fixed
/// in `make check`, without the fuzzer's own build.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/corpus").standardized.path

    static func inputs(_ target: String) throws -> [Data] {
        let directory = corpus + "/" + target
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted().compactMap {
            FileManager.default.contents(atPath: directory + "/" + $0)
        }
    }

    @Test func theJWTCorpusReplaysWithoutACrash() throws {
        let inputs = try Self.inputs("jwt")
        #expect(inputs.count >= 10)
        // A key of each type, so that tokens in the corpus reach every signature check.
        let keys = try [KeyAlgorithm.ed25519, .ecp256, .rsa2048].map { try PrivateKey.generate($0, id: "k").publicKey }
        for bytes in inputs {
            let text = String(decoding: bytes, as: UTF8.self)
            if let verified = try? JWT.verify(text, keys: keys) { _ = try? SignedPattern(verified) }
            _ = try? JSON(parsing: bytes)
            _ = try? PublicKey(parsing: text)
            if let rule = try? JWTRule(parsing: text) { _ = rule.allows(["aud": .string("x")]) }
        }
    }

    @Test func theConfigCorpusReplaysWithoutACrash() throws {
        let inputs = try Self.inputs("config")
        #expect(inputs.count >= 6)
        var loaded = 0
        for bytes in inputs {
            if (try? ConfigLoader(path: nil, environment: [:]).load(json: bytes)) != nil { loaded += 1 }
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? ConfigLoader(path: nil, overrides: [text], environment: [:]).load(json: Data("{}".utf8))
        }
        // The seeds include valid configurations, so the loader is reached beyond its first check.
        #expect(loaded > 0)
    }
}
