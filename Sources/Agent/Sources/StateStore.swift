import Auth
import Foundation

/// The held JWT of each source, one file per source (`<stateDir>/<source>.jwt`), written atomically
/// (temporary file, fsync, rename, directory fsync): a crash leaves the previous token or the new one.
public struct StateStore: Sendable {
    /// The state directory.
    public let directory: String

    /// A store in `directory` (created when first written).
    public init(directory: String) {
        self.directory = directory
    }

    func path(of source: String) -> String { "\(directory)/\(source).jwt" }

    /// Saves `token` as `source`'s state.
    public func save(_ token: String, for source: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeAtomically(token, to: path(of: source), mode: 0o600)
    }

    /// Deletes temporary files a killed agent left half-written (`<source>.jwt.tmp-…`); the real
    /// state files are untouched, which is the point of writing them by rename.
    public func removeLeftovers() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.contains(".jwt.tmp-") {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name)")
        }
    }

    /// The saved token of `source`, if there is a readable one.
    public func load(_ source: String) -> String? {
        (try? String(contentsOfFile: path(of: source), encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
}
