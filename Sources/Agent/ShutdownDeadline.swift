import ServiceLifecycle

/// Holds a graceful shutdown to `run.shutdownTimeout`: when the agent's group starts shutting down,
/// runs still going after that long have their steps killed (``SourceSet/abortRuns()``), so the
/// pushes and webhooks waiting on them are answered before the listener closes. Place it last in
/// the group: the group tells services to stop from the last, and this one returns at once.
public struct ShutdownDeadline: Service {
    let sources: SourceSet
    let timeout: Duration

    /// A deadline of `timeout` for the runs of `sources`.
    public init(sources: SourceSet, timeout: Duration) {
        self.sources = sources
        self.timeout = timeout
    }

    public func run() async throws {
        try await gracefulShutdown()
        // Unstructured, so the group goes on telling the other services at once; the process ends
        // when they have stopped.
        Task { [sources, timeout] in
            try? await Task.sleep(for: timeout)
            sources.abortRuns()
        }
    }
}
