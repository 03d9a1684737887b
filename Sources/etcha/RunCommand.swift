import Agent
import ArgumentParser
import EtchaInstrumentation
import Foundation
import Logging

/// `etcha run`: listen mode.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run sources: startup runs, runFrequency timers and events, until SIGTERM or an exit event.",
        discussion:
            "With --once, run every source once (as at startup) and exit; the status is non-zero if a run failed."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.customShort("o"), .long], help: "Run every source once and exit.")
    var once = false

    func run() async throws {
        // A full disk or a file size limit must fail a state write (which keeps the previous state),
        // not kill the agent.
        signal(SIGXFSZ, SIG_IGN)
        let (loaded, logger) = try global.load()
        if once {
            let agent: Agent
            do {
                agent = try Agent(loaded: loaded, metrics: EtchaMetrics(version: AgentVersion.current), logger: logger)
            } catch {
                throw CLIError("\(error)")
            }
            await agent.sources.restore()
            let results = await agent.sources.runAtStartup()
            if results.values.contains(where: \.failed) { throw ExitCode(1) }
            return
        }
        let services: AgentServices
        do {
            services = try AgentServices(loaded: loaded, logger: logger)
        } catch {
            throw CLIError("\(error)")
        }
        logger.info(
            "starting",
            metadata: ["version": "\(AgentVersion.current)", "sources": "\(services.agent.sources.all.count)"])
        try await services.run()
        logger.info("stopped")
    }
}
