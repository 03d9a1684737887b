import EtchaCore
import EtchaInstrumentation
import Foundation
import Logging
import ServiceLifecycle

/// Listen mode: every source and the timers that run them, as one `Service` of the agent's
/// `ServiceGroup` (``AgentServices`` builds the group). It returns when a source fires the `exit`
/// event, which (with the group's `successTerminationBehavior: .gracefullyShutdownGroup`) stops the
/// whole agent with status 0.
public final class Agent: Service, Sendable {
    /// The agent's sources.
    public let sources: SourceSet
    /// The agent's metrics.
    public let metrics: EtchaMetrics
    /// Set once the sources are loaded and started (health answers 200 from then on).
    public let readiness = Readiness()
    private let config: Config
    private let logger: Logger
    private let exitSignal: AsyncStream<Void>

    /// Builds the sources of `loaded`.
    public init(loaded: LoadedConfig, metrics: EtchaMetrics, logger: Logger) throws {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        exitSignal = stream
        config = loaded.config
        self.metrics = metrics
        self.logger = logger
        sources = try SourceSet(loaded: loaded, metrics: metrics, logger: logger) { continuation.yield() }
        try sources.store.prepare()
    }

    /// Waits the random start delay, runs the startup pass (pulls and runs, source by source), then
    /// the `runFrequency` timers until the `exit` event or a graceful shutdown.
    public func run() async throws {
        let delay = config.run.randomizedStartDelaySec
        if delay > 0 {
            let seconds = Int.random(in: 0...delay)
            logger.info("delaying start", metadata: ["seconds": "\(seconds)"])
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
        }
        await sources.restore()
        readiness.markReady()
        await sources.runAtStartup()
        await withDiscardingTaskGroup { group in
            for source in sources.all where source.settings.runFrequency.duration > .zero {
                group.addTask { await self.repeatRuns(of: source) }
            }
            for await _ in exitSignal.cancelOnGracefulShutdown() {
                logger.info("exit event: stopping")
                break
            }
            group.cancelAll()
        }
    }

    /// Runs `source` every `runFrequency` until cancelled.
    private func repeatRuns(of source: Source) async {
        let period = source.settings.runFrequency.duration
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: period)
            } catch {
                return
            }
            if !source.settings.pullPaths.isEmpty {
                await sources.pull(source.name, runHeld: true)
                continue
            }
            guard !source.settings.triggerOnly, !source.pattern.run.isEmpty else { continue }
            _ = try? await sources.trigger(source.name, RunRequest(trigger: .pull))
        }
    }
}
