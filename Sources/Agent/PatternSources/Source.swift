import Auth
import EtchaCore
import EtchaInstrumentation
import EtchaJSON
import Foundation
import Logging
import NIOConcurrencyHelpers

/// One configured source: its settings, what it trusts, the pattern it runs now (its static
/// commands, or the last signed pattern it accepted), and the queue its runs take turns in.
public final class Source: Sendable {
    /// The source's name.
    public let name: String
    /// Its settings.
    public let settings: SourceConfig
    /// The keys and rule its tokens must satisfy.
    public let trust: SourceTrust
    /// The top-level exec with the source's exec laid over it.
    let exec: ResolvedExec
    /// Which events its commands may fire.
    // A compiled Regex is immutable; it only lacks the Sendable annotation.
    private nonisolated(unsafe) let eventsSend: Regex<AnyRegexOutput>?
    let queue: RunQueue
    private let held: NIOLockedValueBox<Held>
    /// The source's last render, kept while rendering the same inputs would give the same pattern.
    private let lastRender = NIOLockedValueBox<Render?>(nil)

    /// What the source runs now.
    struct Held: Sendable {
        var pattern: Pattern
        var signed: SignedPattern?
    }

    /// What a signed pattern is rendered from.
    struct RenderInputs: Sendable, Equatable {
        var entrypoint: String
        var files: [String: String]
        /// What `getConfig()` answers.
        var configuration: JSON
    }

    /// A render and its inputs.
    private struct Render: Sendable {
        var inputs: RenderInputs
        var pattern: Pattern
    }

    init(
        name: String, settings: SourceConfig, trust: SourceTrust, topExec: ResolvedExec, staticCommands: [Command],
        maxQueued: Int
    ) throws {
        self.name = name
        self.settings = settings
        self.trust = trust
        exec = topExec.overridden(by: settings.exec, at: "sources.\(name).exec")
        eventsSend = settings.eventsSend.isEmpty ? nil : try Regex(settings.eventsSend)
        queue = RunQueue(capacity: maxQueued)
        held = NIOLockedValueBox(Held(pattern: Pattern(run: staticCommands)))
    }

    /// The pattern the source runs now: its static commands, or the last accepted pattern.
    public var pattern: Pattern {
        held.withLockedValue { $0.pattern }
    }

    /// The signed pattern the source holds, if it accepted one.
    public var signed: SignedPattern? {
        held.withLockedValue { $0.signed }
    }

    /// The pattern `inputs` render to. The last render is reused when its inputs were the same and
    /// it read no file and ran no command (`getFile`, `getCmd`): pushing an unchanged pattern again
    /// then skips the render, and with it the remaking of libjsonnet's shared standard library when
    /// that has been released (docs/decisions.md, "A source reuses its last render").
    func pattern(
        renderedFrom inputs: RenderInputs, render: (RenderInputs) throws(CommandError) -> RenderedPattern
    ) throws(CommandError) -> Pattern {
        if let last = lastRender.withLockedValue({ $0 }), last.inputs == inputs { return last.pattern }
        let rendered = try render(inputs)
        lastRender.withLockedValue {
            $0 = rendered.readOutside ? nil : Render(inputs: inputs, pattern: rendered.pattern)
        }
        return rendered.pattern
    }

    /// Replaces what the source runs.
    func hold(_ pattern: Pattern, signed: SignedPattern?) {
        held.withLockedValue { $0 = Held(pattern: pattern, signed: signed) }
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

    /// Runs the held pattern for `request`, after the runs queued before it unless the source allows
    /// overlapping runs.
    func run(_ request: RunRequest, timeout: Duration, engine: CommandEngine, metrics: EtchaMetrics?)
        async throws(SourceError) -> RunResult
    {
        try await perform(request, timeout: timeout, engine: engine, metrics: metrics) { held, context in
            let pattern = held.pattern
            var context = context
            context.exec = self.exec.running(pattern, at: "source \(self.name): runExec", refused: engine.warn)
            let mode: CommandMode = self.settings.checkOnly || request.checkOnly ? .check : .change
            return await engine.run(pattern.run, mode: mode, context: context)
        }
    }

    /// Applies a newly accepted signed pattern (push or pull): refuses one older than the held token
    /// (anti-rollback), runs the removals the diff asks for unless `noRemove`, runs the new pattern,
    /// and holds it. In check mode nothing is held and only checks run. A `triggerOnly` source holds
    /// the pattern without running it (it runs when an event or webhook triggers the source).
    func apply(
        _ signed: SignedPattern, pattern: Pattern, request: RunRequest, timeout: Duration, engine: CommandEngine,
        metrics: EtchaMetrics?, store: StateStore?
    ) async throws(SourceError) -> RunResult {
        try await perform(request, timeout: timeout, engine: engine, metrics: metrics) { held, context in
            if let current = held.signed, current.issuedAt > signed.issuedAt {
                throw SourceError(
                    .stale, source: self.name,
                    detail: "token issued at \(signed.issuedAt) is older than the held one (\(current.issuedAt))")
            }
            var context = context
            context.exec = self.exec.running(pattern, at: "source \(self.name): runExec", refused: engine.warn)
            if self.settings.checkOnly || request.checkOnly {
                return await engine.run(pattern.run, mode: .check, context: context)
            }
            var result = RunResult()
            if self.settings.triggerOnly {
                // held: it runs when an event or webhook triggers the source
            } else if self.settings.noRemove {
                result = await engine.run(pattern.run, mode: .change, context: context)
            } else {
                let replacement = await engine.apply(pattern.run, replacing: held.pattern.run, context: context)
                result = replacement.result
                guard replacement.removalsDone else {
                    // The old token stays held and saved, so the removals are tried again by the next
                    // push or pull of the new one, after a restart too.
                    result.errors.append(
                        "kept the previous pattern: the removals of commands it no longer has did not all succeed")
                    return result
                }
            }
            self.hold(pattern, signed: signed)
            metrics?.jwtExpiry(source: self.name, expiresAt: signed.expiresAt)
            if let store, !self.settings.noRestore {
                do {
                    try store.save(signed.token.token, for: self.name)
                } catch {
                    var failed = result
                    failed.errors.append("cannot save state: \(error)")
                    return failed
                }
            }
            return result
        }
    }

    /// The frame of every run: the queue, the trigger variables, the deadline, the metrics.
    private func perform(
        _ request: RunRequest, timeout: Duration, engine: CommandEngine, metrics: EtchaMetrics?,
        body: (Held, CommandEngine.Context) async throws -> RunResult
    ) async throws(SourceError) -> RunResult {
        if !settings.runMulti { try await queue.acquire(source: name) }
        let started = ContinuousClock.now
        var environment = request.environment
        environment["ETCHA_SOURCE_NAME"] = name
        environment["ETCHA_SOURCE_TRIGGER"] = request.trigger.rawValue
        let origin = RunOrigin(
            source: name, trigger: request.trigger, publicKey: request.publicKey, remoteAddr: request.remoteAddr)
        let context = CommandEngine.Context(
            exec: exec, environment: environment, origin: origin, deadline: started + timeout, filter: request.filter)
        var result: RunResult
        do {
            result = try await body(held.withLockedValue { $0 }, context)
        } catch let error as SourceError {
            if !settings.runMulti { await queue.release() }
            throw error
        } catch {
            result = RunResult()
            result.errors.append("\(error)")
        }
        if !settings.runMulti { await queue.release() }
        metrics?.sourceRan(
            origin: origin, failed: result.failed, changed: result.changedIDs.count, removed: result.removedIDs.count,
            duration: ContinuousClock.now - started)
        return result
    }
}
