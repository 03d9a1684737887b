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

    /// Makes the directory (mode 0700) when missing and proves it takes a file, so an agent whose
    /// state could not be saved does not start; the error names `run.stateDir`.
    public func prepare() throws(ConfigError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigError("run.stateDir", "\(directory) cannot be created: \(error.localizedDescription)")
        }
        let probe = "\(directory)/.etcha-write-test-\(getpid())"
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ConfigError("run.stateDir", "\(directory) is not writable: \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        unlink(probe)
    }

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
