/// Etcha's parent-id filter (`push -f`, `?filter=`, `local -f`): a regular expression searched for
/// in each command's parent chain (`SOURCE`, `SOURCE > GROUP`, …). Commands whose chain does not
/// contain a match are skipped: not run, not counted.
public struct ParentFilter: Sendable {
    /// The expression as given.
    public let pattern: String

    /// Compiles `pattern`; an empty pattern is no filter (nil), as in Etcha.
    public init?(_ pattern: String) throws {
        guard !pattern.isEmpty else { return nil }
        _ = try Regex(pattern)
        self.pattern = pattern
    }

    /// Whether `chain` contains a match.
    public func matches(_ chain: String) -> Bool {
        // Compiled again per list: a Regex is not Sendable, and lists are few.
        guard let regex = try? Regex(pattern) else { return false }
        return chain.firstMatch(of: regex) != nil
    }
}
