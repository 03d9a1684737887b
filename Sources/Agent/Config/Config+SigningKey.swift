import Auth
import Foundation

extension Config {
    /// `build.signingKey`, or the key string in the file `build.signingKeyPath`.
    public func signingKey() throws(CommandError) -> PrivateKey {
        var text = build.signingKey
        var key = "build.signingKey"
        if text.isEmpty, !build.signingKeyPath.isEmpty {
            key = "build.signingKeyPath (\(build.signingKeyPath))"
            guard let content = try? String(contentsOfFile: build.signingKeyPath, encoding: .utf8) else {
                throw CommandError(.invalid, "\(key): cannot read the file")
            }
            text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !text.isEmpty else { throw CommandError(.invalid, "build.signingKey: no signing key is configured") }
        do {
            return try PrivateKey(parsing: text)
        } catch {
            throw CommandError(.invalid, "\(key): \(error)")
        }
    }
}
