import Foundation

/// The agent's version, reported by `etcha version`, `etcha_build_info` and in built JWTs.
public enum AgentVersion {
    /// The release version.
    public static let current = "0.1.0"

    /// When the running executable was built (its file's modification time), as an ISO 8601 date.
    public static var buildDate: String {
        // The link's target: /proc/self/exe itself is a symlink made when it is first looked at.
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: executable),
            let date = attributes[.modificationDate] as? Date
        else { return "unknown" }
        return ISO8601DateFormatter().string(from: date)
    }
}
