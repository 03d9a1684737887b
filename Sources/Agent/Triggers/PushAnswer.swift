/// The answer to a push (docs/behaviour.md#5-listen-mode-etcha-run), field names as Etcha's: what
/// the agent sends and what `etcha push` reads, so the two cannot drift apart.
public struct PushAnswer: Codable, Sendable, Equatable {
    /// Ids changed (check mode: ids that would change).
    public var changedIDs: [String]
    /// Their outputs.
    public var changedOutputs: [String]
    /// Ids removed.
    public var removedIDs: [String]
    /// Their outputs.
    public var removedOutputs: [String]
    /// Errors, joined with `; `; empty when none.
    public var err: String
    /// Whether the run fired the `exit` event.
    public var exit: Bool

    /// The answer for a run.
    public init(_ result: RunResult) {
        changedIDs = result.changedIDs
        changedOutputs = result.changedOutputs
        removedIDs = result.removedIDs
        removedOutputs = result.removedOutputs
        err = result.errors.joined(separator: "; ")
        exit = result.events.contains { $0.name == "exit" }
    }
}
