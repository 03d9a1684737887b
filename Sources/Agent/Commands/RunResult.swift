import EtchaInstrumentation

/// An `etcha:NAME` entry that fired during a run.
public struct FiredEvent: Sendable, Equatable {
    /// The event name (without `etcha:`).
    public var name: String
    /// The id of the command that fired it.
    public var commandID: String
    /// That command's step output, as written (a webhook answers with it unchanged).
    public var output: String

    /// The output without leading and trailing white space, as Etcha hands it on everywhere but a
    /// webhook's body (`ETCHA_EVENT_OUTPUT`, run variables, the build manifest, `stdout`).
    public var trimmedOutput: String { output.trimmingWhiteSpace() }

    /// Makes an event.
    public init(name: String, commandID: String, output: String) {
        self.name = name
        self.commandID = commandID
        self.output = output
    }
}

/// What a run of a command list did: the push answer's fields plus the events fired.
public struct RunResult: Sendable, Equatable {
    /// Ids whose `change` ran and succeeded (check mode: ids that would change), in order.
    public var changedIDs: [String] = []
    /// The outputs of those changes, index for index.
    public var changedOutputs: [String] = []
    /// Ids whose `remove` ran and succeeded, in order.
    public var removedIDs: [String] = []
    /// The outputs of those removals, index for index.
    public var removedOutputs: [String] = []
    /// One line per failure.
    public var errors: [String] = []
    /// Whether a step was killed at the run's deadline.
    public var timedOut = false
    /// Events fired, in order.
    public var events: [FiredEvent] = []

    /// An empty result.
    public init() {}

    /// Whether anything failed.
    public var failed: Bool { !errors.isEmpty }

    /// Appends another result (a later phase of the same run).
    public mutating func append(_ other: RunResult) {
        changedIDs += other.changedIDs
        changedOutputs += other.changedOutputs
        removedIDs += other.removedIDs
        removedOutputs += other.removedOutputs
        errors += other.errors
        timedOut = timedOut || other.timedOut
        events += other.events
    }
}

extension String {
    /// Without leading and trailing white space (Unicode's White_Space, like Go's
    /// `strings.TrimSpace`, which Etcha applies to command outputs).
    public func trimmingWhiteSpace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
