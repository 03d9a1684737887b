import Crypto
import Foundation
import _CryptoExtras

/// The key algorithms Etcha's key strings name, and the JWS `alg` each one signs with.
public enum KeyAlgorithm: String, Sendable, CaseIterable {
    case ed25519
    case ecp256
    case rsa2048

    /// The JWS `alg` header value for this key type; a token whose header says otherwise is refused.
    public var jwsAlgorithm: String {
        switch self {
        case .ed25519: "EdDSA"
        case .ecp256: "ES256"
        case .rsa2048: "RS256"
        }
    }
}

/// Why a key string cannot be used.
public struct KeyError: Error, CustomStringConvertible, Sendable, Equatable {
    /// One line for the operator; it never contains key material.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A verify key: `ed25519public:…`, `ecp256public:…` or `rsa2048public:…`, standard base64 of PKIX
/// (SubjectPublicKeyInfo) DER (or, for Ed25519, of the bare 32-byte key), then an optional `:KID`.
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The key type.
    public let algorithm: KeyAlgorithm
    /// The key id (may be empty).
    public let id: String
    /// SubjectPublicKeyInfo DER.
    public let der: [UInt8]
    /// The parsed key, ready to check signatures (parsed once: verification is a hot path).
    private let check: @Sendable ([UInt8], [UInt8]) -> Bool

    /// Parses an Etcha public key string.
    public init(parsing text: String) throws(KeyError) {
        let (type, der, id) = try splitKeyString(text)
        guard type.hasSuffix("public"), let algorithm = KeyAlgorithm(rawValue: String(type.dropLast("public".count)))
        else {
            throw KeyError("\"\(type)\" is not a public key type (ed25519public, ecp256public, rsa2048public)")
        }
        // A bare 32-byte Ed25519 key (as OpenBao exports one) is taken, as Etcha takes it.
        let raw = algorithm == .ed25519 && der.count == 32
        try self.init(algorithm: algorithm, id: id, der: raw ? Self.ed25519Prefix + der : der)
    }

    init(algorithm: KeyAlgorithm, id: String, der: [UInt8]) throws(KeyError) {
        self.algorithm = algorithm
        self.id = id
        self.der = der
        check = try Self.verifier(algorithm: algorithm, der: der)
    }

    /// Keys are equal when type, id and DER are.
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        lhs.algorithm == rhs.algorithm && lhs.id == rhs.id && lhs.der == rhs.der
    }

    /// Hashes type, id and DER.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(algorithm)
        hasher.combine(id)
        hasher.combine(der)
    }

    /// The key string, as Etcha writes it.
    public var description: String {
        "\(algorithm.rawValue)public:\(Data(der).base64EncodedString())" + (id.isEmpty ? "" : ":\(id)")
    }

    /// Whether `signature` is this key's JWS signature over `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        check(signature, message)
    }

    private static func verifier(algorithm: KeyAlgorithm, der: [UInt8]) throws(KeyError)
        -> @Sendable ([UInt8], [UInt8]) -> Bool
    {
        do {
            switch algorithm {
            case .ed25519:
                guard der.count == 44, der.starts(with: ed25519Prefix) else {
                    throw KeyError("not an Ed25519 SubjectPublicKeyInfo")
                }
                let key = try Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32))
                return { signature, message in key.isValidSignature(signature, for: message) }
            case .ecp256:
                let key = try P256.Signing.PublicKey(derRepresentation: der)
                return { signature, message in
                    guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else {
                        return false
                    }
                    return key.isValidSignature(parsed, for: message)
                }
            case .rsa2048:
                let key = try _RSA.Signing.PublicKey(derRepresentation: der)
                guard key.keySizeInBits >= 2048 else { throw KeyError("RSA keys must have at least 2048 bits") }
                return { signature, message in
                    key.isValidSignature(
                        _RSA.Signing.RSASignature(rawRepresentation: signature), for: message,
                        padding: .insecurePKCS1v1_5)
                }
            }
        } catch let error as KeyError {
            throw error
        } catch {
            throw KeyError("the \(algorithm.rawValue)public key does not parse")
        }
    }

    static let ed25519Prefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
}

/// A signing key: `ed25519private:…`, `ecp256private:…` or `rsa2048private:…`, standard base64 of
/// PKCS #8 DER (or, for Ed25519, of Go's bare 64-byte seed and public key), then an optional `:KID`.
public struct PrivateKey: Sendable {
    /// The key type.
    public let algorithm: KeyAlgorithm
    /// The key id (may be empty); it goes into the JWT header as `kid`.
    public let id: String
    /// PKCS #8 DER.
    private let der: [UInt8]

    /// Parses an Etcha private key string.
    public init(parsing text: String) throws(KeyError) {
        let (type, der, id) = try splitKeyString(text)
        guard type.hasSuffix("private"), let algorithm = KeyAlgorithm(rawValue: String(type.dropLast("private".count)))
        else {
            throw KeyError("\"\(type)\" is not a private key type (ed25519private, ecp256private, rsa2048private)")
        }
        self.algorithm = algorithm
        self.id = id
        guard algorithm == .ed25519, der.count == 64 else {
            self.der = der
            _ = try publicKeyDER()
            return
        }
        // Go's bare 64-byte Ed25519 form, seed then public key, as Etcha takes it; the halves must agree.
        self.der = Self.ed25519Prefix + der.prefix(32)
        guard try publicKeyDER().suffix(32).elementsEqual(der.suffix(32)) else {
            throw KeyError("the Ed25519 key's public half does not match its seed")
        }
    }

    private init(algorithm: KeyAlgorithm, id: String, der: [UInt8]) {
        self.algorithm = algorithm
        self.id = id
        self.der = der
    }

    /// Makes a new key.
    public static func generate(_ algorithm: KeyAlgorithm, id: String) throws(KeyError) -> PrivateKey {
        do {
            switch algorithm {
            case .ed25519:
                let key = Curve25519.Signing.PrivateKey()
                return PrivateKey(algorithm: algorithm, id: id, der: ed25519Prefix + Array(key.rawRepresentation))
            case .ecp256:
                return PrivateKey(algorithm: algorithm, id: id, der: Array(P256.Signing.PrivateKey().derRepresentation))
            case .rsa2048:
                let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
                return PrivateKey(algorithm: algorithm, id: id, der: Array(key.pkcs8DERRepresentation))
            }
        } catch {
            throw KeyError("cannot generate a \(algorithm.rawValue) key")
        }
    }

    /// The key string, as Etcha writes it (secret: never log it).
    public var keyString: String {
        "\(algorithm.rawValue)private:\(Data(der).base64EncodedString())" + (id.isEmpty ? "" : ":\(id)")
    }

    /// The matching public key, with the same id.
    public var publicKey: PublicKey {
        // The private key parsed when it was made, so its public half does too.
        try! PublicKey(algorithm: algorithm, id: id, der: publicKeyDER())
    }

    /// The JWS signature of `message`.
    public func sign(_ message: [UInt8]) throws(KeyError) -> [UInt8] {
        do {
            switch algorithm {
            case .ed25519: return Array(try ed25519().signature(for: message))
            case .ecp256:
                return Array(
                    try P256.Signing.PrivateKey(derRepresentation: der).signature(for: message).rawRepresentation)
            case .rsa2048:
                return Array(
                    try _RSA.Signing.PrivateKey(derRepresentation: der).signature(
                        for: message, padding: .insecurePKCS1v1_5
                    )
                    .rawRepresentation)
            }
        } catch {
            throw KeyError("cannot sign with the \(algorithm.rawValue) key")
        }
    }

    private func ed25519() throws(KeyError) -> Curve25519.Signing.PrivateKey {
        guard der.count == 48, der.starts(with: Self.ed25519Prefix) else {
            throw KeyError("not an Ed25519 PKCS #8 key")
        }
        do {
            return try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
        } catch {
            throw KeyError("not an Ed25519 PKCS #8 key")
        }
    }

    private func publicKeyDER() throws(KeyError) -> [UInt8] {
        do {
            switch algorithm {
            case .ed25519: return PublicKey.ed25519Prefix + Array(try ed25519().publicKey.rawRepresentation)
            case .ecp256: return Array(try P256.Signing.PrivateKey(derRepresentation: der).publicKey.derRepresentation)
            case .rsa2048:
                let key = try _RSA.Signing.PrivateKey(derRepresentation: der)
                guard key.keySizeInBits >= 2048 else { throw KeyError("RSA keys must have at least 2048 bits") }
                return Array(key.publicKey.derRepresentation)
            }
        } catch let error as KeyError {
            throw error
        } catch {
            throw KeyError("the \(algorithm.rawValue)private key does not parse")
        }
    }

    static let ed25519Prefix: [UInt8] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ]
}

/// `TYPE:BASE64[:KID]` split into its parts.
private func splitKeyString(_ text: String) throws(KeyError) -> (String, [UInt8], String) {
    let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
    guard parts.count >= 2 else { throw KeyError("a key is TYPE:BASE64 or TYPE:BASE64:KID") }
    guard let data = Data(base64Encoded: parts[1]), !data.isEmpty else {
        throw KeyError("the \(parts[0]) key is not valid base64")
    }
    return (parts[0], Array(data), parts.count == 3 ? parts[2] : "")
}
