import Auth
import Foundation
import Logging
import NIOSSL

/// The listener's TLS configuration from `httpServer`: a certificate and key from files or base64
/// PEM, or the self-signed certificate kept in the state directory; TLS 1.2 at least; with a
/// client CA, every client must present a certificate it signed (mTLS).
enum TLSSettings {
    static func make(_ server: HTTPServerConfig, stateDir: String, logger: Logger) throws(ListenerError)
        -> TLSConfiguration
    {
        let material = try loadMaterial(server, stateDir: stateDir)
        logger.info("TLS certificate", metadata: ["sha256": "\(material.fingerprint)"])
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let certificateKey =
            server.tlsCertificatePath.isEmpty
            ? "httpServer.tlsCertificateBase64" : "httpServer.tlsCertificatePath (\(server.tlsCertificatePath))"
        let keyKey =
            server.tlsKeyPath.isEmpty ? "httpServer.tlsKeyBase64" : "httpServer.tlsKeyPath (\(server.tlsKeyPath))"
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(material.certificatePEM.utf8))
        } catch {
            throw ListenerError("\(certificateKey): not a PEM certificate chain")
        }
        do {
            key = try NIOSSLPrivateKey(bytes: Array(material.privateKeyPEM.utf8), format: .pem)
        } catch {
            throw ListenerError("\(keyKey): not a PEM private key")
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if let clientCA = try clientCA(server) {
            tls.trustRoots = .certificates(clientCA)
            tls.certificateVerification = .noHostnameVerification
        }
        do {
            _ = try NIOSSLContext(configuration: tls)
        } catch {
            throw ListenerError("\(keyKey): the private key does not match the certificate of \(certificateKey)")
        }
        return tls
    }

    private static func loadMaterial(_ server: HTTPServerConfig, stateDir: String) throws(ListenerError) -> TLSMaterial
    {
        let certificate = try pem(
            path: server.tlsCertificatePath, base64: server.tlsCertificateBase64, key: "httpServer.tlsCertificate")
        let key = try pem(path: server.tlsKeyPath, base64: server.tlsKeyBase64, key: "httpServer.tlsKey")
        switch (certificate, key) {
        case (nil, nil):
            do {
                return try TLSMaterial.selfSigned(in: stateDir, hostname: ProcessInfo.processInfo.hostName)
            } catch {
                throw ListenerError("run.stateDir (\(stateDir)): \(error)")
            }
        case (let certificate?, let key?):
            do {
                return try TLSMaterial(certificatePEM: certificate, privateKeyPEM: key)
            } catch {
                let name =
                    server.tlsCertificatePath.isEmpty
                    ? "httpServer.tlsCertificateBase64" : "httpServer.tlsCertificatePath (\(server.tlsCertificatePath))"
                throw ListenerError("\(name): \(error)")
            }
        case (nil, _):
            throw ListenerError("httpServer.tlsCertificatePath: a TLS key is set but no certificate")
        case (_, nil):
            throw ListenerError("httpServer.tlsKeyPath: a TLS certificate is set but no key")
        }
    }

    private static func clientCA(_ server: HTTPServerConfig) throws(ListenerError) -> [NIOSSLCertificate]? {
        guard
            let text = try pem(
                path: server.tlsClientCAPath, base64: server.tlsClientCABase64, key: "httpServer.tlsClientCA")
        else {
            return nil
        }
        let name =
            server.tlsClientCAPath.isEmpty
            ? "httpServer.tlsClientCABase64" : "httpServer.tlsClientCAPath (\(server.tlsClientCAPath))"
        do {
            let certificates = try NIOSSLCertificate.fromPEMBytes(Array(text.utf8))
            guard !certificates.isEmpty else { throw ListenerError("\(name): no certificate in the file") }
            return certificates
        } catch let error as ListenerError {
            throw error
        } catch {
            throw ListenerError("\(name): not a PEM certificate")
        }
    }

    /// PEM text from a file or base64, or nil when neither is set.
    private static func pem(path: String, base64: String, key: String) throws(ListenerError) -> String? {
        if !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ListenerError("\(key)Path (\(path)): cannot read the file")
            }
            return text
        }
        if !base64.isEmpty {
            guard let data = Data(base64Encoded: base64, options: .ignoreUnknownCharacters) else {
                throw ListenerError("\(key)Base64: not valid base64")
            }
            return String(decoding: data, as: UTF8.self)
        }
        return nil
    }
}
