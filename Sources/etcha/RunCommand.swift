import Agent
import ArgumentParser
import EtchaInstrumentation
import Foundation
import Logging
import ServiceLifecycle

/// `etcha run`: listen mode.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run sources: startup runs, runFrequency timers and events, until SIGTERM or an exit event.",
        discussion:
            "With --once, run every source once (as at startup) and exit; the status is non-zero if a run failed."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Run every source once and exit.")
    var once = false

    func run() async throws {
        // A full disk or a file size limit must fail a state write (which keeps the previous state),
        // not kill the agent.
        signal(SIGXFSZ, SIG_IGN)
        let (loaded, logger) = try global.load()
        let metrics = EtchaMetrics(version: AgentVersion.current)
        let agent: Agent
        do {
            agent = try Agent(loaded: loaded, metrics: metrics, logger: logger)
        } catch {
            throw CLIError("\(error)")
        }
        if once {
            agent.sources.restore()
            let results = await agent.sources.runAtStartup()
            let pulled = await agent.sources.pullAll()
            if results.values.contains(where: \.failed) || pulled.values.contains(where: \.failed) { throw ExitCode(1) }
            return
        }
        let shutdownTimeout = loaded.config.run.shutdownTimeout.duration
        let shells = ShellSessions(sources: agent.sources, config: loaded.config, metrics: metrics, logger: logger)
        let listener: Listener
        do {
            listener = try Listener(
                config: loaded.config, sources: agent.sources, shells: shells, metrics: metrics,
                readiness: agent.readiness, logger: logger)
        } catch {
            throw CLIError(error.description)
        }
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
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Past the deadline, the runs' answers get a moment to be written before everything is cancelled.
        configuration.maximumGracefulShutdownDuration = shutdownTimeout + .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        logger.info(
            "starting", metadata: ["version": "\(AgentVersion.current)", "sources": "\(agent.sources.all.count)"])
        try await group.run()
        logger.info("stopped")
    }
}
