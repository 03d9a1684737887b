import EtchaInstrumentation
import Logging
import ServiceLifecycle

/// Listen mode wired as one `ServiceGroup`: the ``Agent`` (sources and timers), the HTTPS
/// ``Listener``, the ``ShellSessions`` and the ``ShutdownDeadline``. `etcha run` and the tests that
/// run a whole agent in process build it here, so both run the same wiring.
///
///     let services = try AgentServices(loaded: loaded, logger: logger)
///     try await services.run()  // until SIGTERM, SIGINT or an `exit` event
public final class AgentServices: Sendable {
    public let agent: Agent
    public let listener: Listener
    public let shells: ShellSessions
    public let metrics: EtchaMetrics
    private let group: ServiceGroup

    /// Builds the services of `loaded`. With `handlesSignals`, SIGTERM and SIGINT start a graceful
    /// shutdown (tests call ``shutdown()`` instead); `shellStallLimit` is how long a shell may stall
    /// its client's reads.
    public init(
        loaded: LoadedConfig, logger: Logger, metrics: EtchaMetrics = EtchaMetrics(version: AgentVersion.current),
        handlesSignals: Bool = true, shellStallLimit: Duration = .seconds(30)
    ) throws {
        self.metrics = metrics
        agent = try Agent(loaded: loaded, metrics: metrics, logger: logger)
        shells = ShellSessions(
            sources: agent.sources, config: loaded.config, metrics: metrics, logger: logger,
            stallLimit: shellStallLimit)
        listener = try Listener(
            config: loaded.config, sources: agent.sources, shells: shells, metrics: metrics,
            readiness: agent.readiness, logger: logger)
        let shutdownTimeout = loaded.config.run.shutdownTimeout.duration
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: agent, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: listener, successTerminationBehavior: .gracefullyShutdownGroup),
                // Told to stop before the listener, so shells end before the listener drains.
                .init(service: shells, successTerminationBehavior: .gracefullyShutdownGroup),
                // Last: told first, it starts the clock on the runs still going.
                .init(
                    service: ShutdownDeadline(sources: agent.sources, timeout: shutdownTimeout),
                    successTerminationBehavior: .ignore),
            ],
            gracefulShutdownSignals: handlesSignals ? [.sigterm, .sigint] : [],
            logger: logger)
        // Past the deadline, the runs' answers get a moment to be written before everything is cancelled.
        configuration.maximumGracefulShutdownDuration = shutdownTimeout + .seconds(2)
        group = ServiceGroup(configuration: configuration)
    }

    /// Runs every service until a shutdown signal, ``shutdown()`` or an `exit` event.
    public func run() async throws {
        try await group.run()
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}
