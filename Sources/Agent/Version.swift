import Foundation

/// The agent's version, reported by `etcha version`, `etcha_build_info` and in built JWTs.
public enum AgentVersion {
    /// The release version.
    public static let current = "0.1.0"

    /// When the running executable was built (its file's modification time), as an ISO 8601 date.
    public static var buildDate: String {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: "/proc/self/exe"),
            let date = attributes[.modificationDate] as? Date
        else { return "unknown" }
        return ISO8601DateFormatter().string(from: date)
    }
}
