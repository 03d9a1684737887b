import Crypto

/// GitHub's webhook signature scheme: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
///
///     guard WebhookSignature.verify(header: request.headers["X-Hub-Signature-256"], body: body, secret: secret) else { 401 }
public enum WebhookSignature {
    /// Whether `header` carries the HMAC-SHA256 of `body` under `secret`; compared in constant time.
    /// A missing, malformed or wrong signature is false.
    public static func verify(header: String?, body: some Collection<UInt8>, secret: String) -> Bool {
        guard let header, header.hasPrefix("sha256="), let given = bytes(hex: header.dropFirst("sha256=".count)),
            given.count == SHA256.byteCount
        else { return false }
        let key = SymmetricKey(data: Array(secret.utf8))
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Array(body), using: key)
    }

    /// The header value that signs `body` with `secret` (what a sender computes).
    public static func sign(body: some Collection<UInt8>, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(body), using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + code.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        guard hex.count % 2 == 0 else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            result.append(byte)
            index = next
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
