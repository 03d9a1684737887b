/// What started a source run, as the `trigger` label of the source families spells it.
public enum Trigger: String, Sendable, CaseIterable {
    case event
    case pull
    case push
    case webhook
    /// A run at startup: static commands or a restored pattern.
    case `init`
}
