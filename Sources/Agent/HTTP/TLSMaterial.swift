import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate chain and its private key in PEM, with the leaf's SHA-256 fingerprint.
///
/// Comes from configured PEM (a file or base64), or is made once as an ECDSA P-256 self-signed
/// certificate for this host and kept in the state directory, so restarts present the same
/// certificate (and clients that pinned its fingerprint keep working).
///
///     let material = try TLSMaterial.selfSigned(in: stateDir, hostname: "node1")
///     logger.info("TLS certificate", metadata: ["sha256": "\(material.fingerprint)"])
public struct TLSMaterial: Sendable, Equatable {
    /// The certificate chain, leaf first, as PEM.
    public var certificatePEM: String
    /// The private key as PEM.
    public var privateKeyPEM: String

    /// Wraps PEM text; the leaf certificate must parse.
    public init(certificatePEM: String, privateKeyPEM: String) throws(TLSMaterialError) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        _ = try leafDER()
    }

    /// The leaf certificate's SHA-256 fingerprint as colon-separated upper-case hex (as `openssl x509
    /// -fingerprint -sha256` prints it).
    public var fingerprint: String {
        guard let der = try? leafDER() else { return "" }
        return SHA256.hash(data: der).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    /// The leaf certificate.
    public var leaf: Certificate {
        get throws(TLSMaterialError) {
            do {
                return try Certificate(derEncoded: leafDER())
            } catch {
                throw TLSMaterialError("the certificate does not parse: \(error)")
            }
        }
    }

    private func leafDER() throws(TLSMaterialError) -> [UInt8] {
        do {
            guard let block = try PEMDocument.parseMultiple(pemString: certificatePEM).first else {
                throw TLSMaterialError("no certificate in the PEM text")
            }
            return block.derBytes
        } catch let error as TLSMaterialError {
            throw error
        } catch {
            throw TLSMaterialError("not a PEM certificate: \(error)")
        }
    }

    /// File names used in the state directory.
    public static let certificateFile = "etcha.crt"
    /// See ``certificateFile``.
    public static let keyFile = "etcha.key"

    /// The self-signed certificate kept in `directory`, made (with SANs for `hostname`, `localhost`,
    /// `127.0.0.1` and `::1`, valid ten years) when absent, unreadable or expired. The key file is
    /// written with mode 0600, both files atomically.
    public static func selfSigned(in directory: String, hostname: String) throws(TLSMaterialError) -> TLSMaterial {
        let certificatePath = "\(directory)/\(certificateFile)"
        let keyPath = "\(directory)/\(keyFile)"
        if let certificate = try? String(contentsOfFile: certificatePath, encoding: .utf8),
            let key = try? String(contentsOfFile: keyPath, encoding: .utf8),
            let material = try? TLSMaterial(certificatePEM: certificate, privateKeyPEM: key),
            let leaf = try? material.leaf, leaf.notValidAfter > Date().addingTimeInterval(86400),
            let privateKey = try? P256.Signing.PrivateKey(pemRepresentation: key),
            leaf.publicKey == Certificate.PublicKey(privateKey.publicKey)
        {
            return material
        }
        let material = try makeSelfSigned(hostname: hostname)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try writeAtomically(material.privateKeyPEM, to: keyPath, mode: 0o600)
            try writeAtomically(material.certificatePEM, to: certificatePath, mode: 0o644)
        } catch {
            throw TLSMaterialError("cannot save the self-signed certificate in \(directory): \(error)")
        }
        return material
    }

    /// Makes a new self-signed certificate for `hostname`.
    public static func makeSelfSigned(hostname: String) throws(TLSMaterialError) -> TLSMaterial {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        do {
            let name = try DistinguishedName { CommonName(hostname.isEmpty ? "etcha" : hostname) }
            var names: [GeneralName] = [
                .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
            ]
            if !hostname.isEmpty, hostname != "localhost" { names.insert(.dnsName(hostname), at: 0) }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(names)
                },
                issuerPrivateKey: .init(key))
            return try TLSMaterial(
                certificatePEM: certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
        } catch let error as TLSMaterialError {
            throw error
        } catch {
            throw TLSMaterialError("cannot make a self-signed certificate: \(error)")
        }
    }
}

/// Why TLS material cannot be used.
public struct TLSMaterialError: Error, CustomStringConvertible, Sendable {
    /// One line for the operator.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Writes `text` to a temporary file beside `path`, syncs it, and renames it over `path`, so a crash
/// leaves either the old file or the new one, never half of one.
public func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
    let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    var failed = false
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let result = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if result < 0 {
            if errno == EINTR { continue }
            failed = true
            break
        }
        written += result
    }
    let code = errno
    if failed || fsync(descriptor) != 0 {
        close(descriptor)
        unlink(temporary)
        throw POSIXError(POSIXErrorCode(rawValue: failed ? code : errno) ?? .EIO)
    }
    close(descriptor)
    guard rename(temporary, path) == 0 else {
        let renameError = errno
        unlink(temporary)
        throw POSIXError(POSIXErrorCode(rawValue: renameError) ?? .EIO)
    }
    // Sync the directory so the rename itself survives a crash.
    let directory = open(
        (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
        O_RDONLY)
    if directory >= 0 {
        fsync(directory)
        close(directory)
    }
}
