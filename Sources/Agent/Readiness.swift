import Synchronization

/// Whether the agent has loaded its sources and begun (health answers 200, triggers are served).
public final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)

    /// Not ready yet.
    public init() {}

    /// Marks the agent ready.
    public func markReady() {
        ready.store(true, ordering: .releasing)
    }

    /// Whether the agent is ready.
    public var isReady: Bool {
        ready.load(ordering: .acquiring)
    }
}
