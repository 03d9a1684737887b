import EtchaInstrumentation
import Foundation
import Logging
import Synchronization

/// One configured source: its settings, the pattern it runs now, and the queue its runs take
/// turns in.
public final class Source: Sendable {
    /// The source's name.
    public let name: String
    /// Its settings.
    public let settings: SourceConfig
    /// The top-level exec with the source's exec laid over it.
    let exec: ResolvedExec
    /// Which events its commands may fire.
    // A compiled Regex is immutable; it only lacks the Sendable annotation.
    private nonisolated(unsafe) let eventsSend: Regex<AnyRegexOutput>?
    let queue: RunQueue
    private let current: Mutex<Pattern>

    init(name: String, settings: SourceConfig, topExec: ResolvedExec, staticCommands: [Command], maxQueued: Int) throws
    {
        self.name = name
        self.settings = settings
        exec = try topExec.overridden(by: settings.exec, at: "sources.\(name).exec")
        eventsSend = settings.eventsSend.isEmpty ? nil : try Regex(settings.eventsSend)
        queue = RunQueue(capacity: maxQueued)
        current = Mutex(Pattern(run: staticCommands))
    }

    /// The pattern the source runs now: its static commands, or the last accepted pattern.
    public var pattern: Pattern {
        current.withLock { $0 }
    }

    /// Replaces the pattern the source runs.
    func hold(_ pattern: Pattern) {
        current.withLock { $0 = pattern }
    }

    /// Whether the source receives `event`.
    func receives(_ event: String) -> Bool {
        settings.eventsReceive.contains(event)
    }

    /// Whether the source's commands may fire `event`.
    func maySend(_ event: String) -> Bool {
        guard let eventsSend else { return false }
        return event.wholeMatch(of: eventsSend) != nil
    }

    /// Runs `commands` (the held pattern's when nil) for `request`, after the runs queued before it
    /// unless the source allows overlapping runs.
    func run(
        _ request: RunRequest, commands: [Command]? = nil, timeout: Duration, engine: CommandEngine,
        metrics: EtchaMetrics?
    ) async throws(SourceError) -> RunResult {
        if !settings.runMulti { try await queue.acquire(source: name) }
        let pattern = self.pattern
        let started = ContinuousClock.now
        var environment = request.environment
        environment["ETCHA_SOURCE_NAME"] = name
        environment["ETCHA_SOURCE_TRIGGER"] = request.trigger.rawValue
        let origin = RunOrigin(
            source: name, trigger: request.trigger, publicKey: request.publicKey,
            remoteAddr: request.remoteAddr)
        var result: RunResult
        do {
            let exec = try self.exec.overridden(by: pattern.runExec, at: "source \(name): runExec")
            let context = CommandEngine.Context(
                exec: exec, environment: environment, origin: origin,
                deadline: started + timeout)
            let mode: CommandMode = settings.checkOnly || request.checkOnly ? .check : .change
            result = await engine.run(commands ?? pattern.run, mode: mode, context: context)
        } catch {
            result = RunResult()
            result.errors.append(error.description)
        }
        if !settings.runMulti { await queue.release() }
        metrics?.sourceRan(
            origin: origin, failed: result.failed, changed: result.changedIDs.count,
            removed: result.removedIDs.count, duration: ContinuousClock.now - started)
        return result
    }
}
