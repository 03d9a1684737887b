/// A configuration that cannot be used: the message names the key path and what is wrong with it,
/// e.g. `sources.web.runFrequency: "5x" is not a duration`.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    /// One line for the operator.
    public var description: String

    init(_ path: String, _ problem: String) {
        description = path.isEmpty ? problem : "\(path): \(problem)"
    }

    init(_ message: String) {
        description = message
    }
}
