import EtchaCore
import EtchaInstrumentation
import Foundation
import Logging

/// Every source of the agent, and the rules that join them: triggering a source, then handing the
/// events its run fired to the sources that receive them.
///
///     let result = try await sources.trigger("web", RunRequest(trigger: .push, remoteAddr: client))
public final class SourceSet: Sendable {
    /// Sources in alphabetical order of name (the order events and webhooks visit them).
    public let all: [Source]
    private let byName: [String: Source]
    let engine: CommandEngine
    let metrics: EtchaMetrics?
    let config: Config
    let logger: Logger
    /// Called when a run fires the `exit` event (and its receivers have run).
    private let onExit: @Sendable () -> Void

    /// Builds every source of `loaded`.
    public init(loaded: LoadedConfig, metrics: EtchaMetrics?, logger: Logger, onExit: @escaping @Sendable () -> Void)
        throws
    {
        let topExec = ResolvedExec(topLevel: loaded.config.exec)
        var sources: [Source] = []
        for (name, settings) in loaded.config.sources.sorted(by: { $0.key < $1.key }) {
            sources.append(
                try Source(
                    name: name, settings: settings, trust: loaded.trust[name] ?? SourceTrust(), topExec: topExec,
                    staticCommands: loaded.staticCommands[name] ?? [],
                    maxQueued: loaded.config.run.maxQueuedRuns))
        }
        all = sources
        byName = Dictionary(uniqueKeysWithValues: sources.map { ($0.name, $0) })
        config = loaded.config
        self.metrics = metrics
        self.logger = logger
        self.onExit = onExit
        engine = CommandEngine(metrics: metrics, logger: logger)
        store = StateStore(
            directory: loaded.config.run.stateDir.isEmpty
                ? FileManager.default.currentDirectoryPath : loaded.config.run.stateDir)
    }

    /// Where accepted tokens are kept.
    public let store: StateStore

    /// Ends every running step and refuses new ones: shutdown's deadline (``ShutdownDeadline``).
    /// The runs they belong to end with those steps failed, and their requests get their answers.
    public func abortRuns() {
        engine.abort.abort()
    }

    /// The source called `name`, if any.
    public subscript(name: String) -> Source? { byName[name] }

    /// The bound of a run for `trigger`.
    func timeout(for trigger: Trigger) -> Duration {
        trigger == .webhook ? config.run.timeoutWebhook.duration : config.run.timeoutPush.duration
    }

    /// Runs source `name` for `request`, then dispatches the events its run fired.
    @discardableResult
    public func trigger(_ name: String, _ request: RunRequest) async throws(SourceError) -> RunResult {
        guard let source = byName[name] else { throw SourceError(.unknownSource, source: name) }
        var logger = logger
        logger[metadataKey: "source"] = "\(name)"
        logger[metadataKey: "trigger"] = "\(request.trigger.rawValue)"
        let result = try await source.run(
            request, timeout: timeout(for: request.trigger), engine: engine.logging(to: logger), metrics: metrics)
        for error in result.errors { logger.error("run failed", metadata: ["error": "\(error)"]) }
        await handle(result.events, from: source, request: request, logger: logger)
        return result
    }

    /// Acts on the events a run fired, in the order they fired: `stdout` is logged; other events go
    /// to the sources receiving them, in alphabetical order, when the sender may send them; `exit`
    /// then stops the agent. A source never triggers itself, and events fired by a run that an
    /// event or webhook started trigger nothing.
    func handle(_ events: [FiredEvent], from sender: Source, request: RunRequest, logger: Logger) async {
        var exitRequested = false
        for event in events {
            switch event.name {
            case "stdout":
                logger.info("\(event.trimmedOutput)", metadata: ["commandID": "\(event.commandID)", "event": "stdout"])
                continue
            case "webhookBody", "webhookContentType", "buildManifest":
                continue  // read by the webhook handler and by build
            case _ where event.name.hasPrefix("runVar_"):
                continue
            default:
                break
            }
            guard sender.maySend(event.name) else {
                logger.warning("event not sent: not allowed by eventsSend", metadata: ["event": "\(event.name)"])
                continue
            }
            if request.trigger != .event, request.trigger != .webhook {
                await dispatch(event, from: sender.name, publicKey: request.publicKey, remoteAddr: request.remoteAddr)
            }
            if event.name == "exit" { exitRequested = true }
        }
        if exitRequested { onExit() }
    }

    /// Runs every source (but `sender`) that receives `event`, in alphabetical order; a failure of one
    /// does not stop the others. When one of them has `eventsReceiveExit`, the agent then stops.
    public func dispatch(_ event: FiredEvent, from sender: String, publicKey: String = "", remoteAddr: String = "")
        async
    {
        var exit = false
        defer { if exit { onExit() } }
        for receiver in all where receiver.name != sender && receiver.receives(event.name) {
            exit = exit || receiver.settings.eventsReceiveExit
            let request = RunRequest(
                trigger: .event,
                environment: [
                    "ETCHA_EVENT_NAME": event.name, "ETCHA_EVENT_ID": event.commandID,
                    "ETCHA_EVENT_OUTPUT": event.trimmedOutput,
                    "ETCHA_EVENT_PUBLIC_KEY": publicKey, "ETCHA_EVENT_SRC": remoteAddr,
                ], publicKey: publicKey, remoteAddr: remoteAddr)
            do {
                try await trigger(receiver.name, request)
            } catch {
                logger.error("event not handled", metadata: ["source": "\(receiver.name)", "error": "\(error)"])
            }
        }
    }

    /// Handles a pushed token for `name` (docs/behaviour.md#5-listen-mode-etcha-run): the source
    /// must exist and allow pushes, and the token must verify; otherwise the refusal is
    /// `.unknownSource` or `.unverified`, which a client sees alike. Fires the `push` event
    /// afterwards. A `filter` limits which commands run; the pattern is held all the same.
    public func push(
        _ name: String, token: String, checkOnly: Bool, remoteAddr: String, filter: ParentFilter? = nil
    ) async throws(SourceError) -> RunResult {
        guard let source = byName[name], source.settings.allowPush else {
            throw SourceError(.unknownSource, source: name)
        }
        return try await accept(
            token, for: source,
            request: RunRequest(trigger: .push, checkOnly: checkOnly, remoteAddr: remoteAddr, filter: filter))
    }

    /// Verifies, renders and applies `token` for `source`, then dispatches its events and the
    /// trigger's system event (`push` or `pull`).
    func accept(_ token: String, for source: Source, request: RunRequest) async throws(SourceError) -> RunResult {
        try await accept(await verify(token, for: source, logger: logger), for: source, request: request)
    }

    /// Renders and applies an already verified token (pull verifies first to compare contents).
    func accept(_ signed: SignedPattern, for source: Source, request: RunRequest) async throws(SourceError) -> RunResult
    {
        var logger = logger
        logger[metadataKey: "source"] = "\(source.name)"
        logger[metadataKey: "trigger"] = "\(request.trigger.rawValue)"
        let pattern = try render(signed, for: source, logger: logger)
        var request = request
        request.publicKey = signed.token.keyID
        let result = try await source.apply(
            signed, pattern: pattern, request: request, timeout: timeout(for: request.trigger),
            engine: engine.logging(to: logger), metrics: metrics, store: store)
        for error in result.errors { logger.error("run failed", metadata: ["error": "\(error)"]) }
        logger.info(
            "applied",
            metadata: [
                "publicKey": "\(signed.token.keyID)", "changed": "\(result.changedIDs.count)",
                "removed": "\(result.removedIDs.count)",
            ])
        await handle(result.events, from: source, request: request, logger: logger)
        // The pull event is fired by pull itself, after every pull whatever happened.
        if !request.checkOnly && request.trigger == .push {
            await dispatch(
                FiredEvent(name: "push", commandID: "", output: ""), from: source.name,
                publicKey: request.publicKey, remoteAddr: request.remoteAddr)
        }
        return result
    }

    /// Verifies `token` against `source`'s trust and renders the pattern it carries.
    func load(_ token: String, for source: Source, logger: Logger) async throws(SourceError) -> (SignedPattern, Pattern)
    {
        let signed = try await verify(token, for: source, logger: logger)
        return (signed, try render(signed, for: source, logger: logger))
    }

    /// Verifies `token` against `source`'s trust; a refusal is logged with its reason.
    func verify(_ token: String, for source: Source, logger: Logger) async throws(SourceError) -> SignedPattern {
        do {
            return try SignedPattern(await source.trust.verifyPattern(token, source: source.name, logger: logger))
        } catch {
            logger.warning("token refused", metadata: ["source": "\(source.name)", "reason": "\(error)"])
            throw SourceError(.unverified, source: source.name, detail: error.description)
        }
    }

    /// What the pattern a verified token carries is rendered from for `source`.
    func renderInputs(_ signed: SignedPattern, for source: Source) -> Source.RenderInputs {
        Source.RenderInputs(
            entrypoint: signed.entrypoint, files: signed.files,
            configuration: PatternRenderer.configuration(
                config: config, source: source.name, exec: source.exec, runVars: signed.runVars))
    }

    /// Renders the pattern a verified token carries, with the source's variables.
    func render(_ signed: SignedPattern, for source: Source, logger: Logger) throws(SourceError) -> Pattern {
        do {
            var pattern = try source.pattern(renderedFrom: renderInputs(signed, for: source)) {
                inputs throws(CommandError) in
                try PatternRenderer.render(
                    .files(entrypoint: inputs.entrypoint, files: inputs.files), configuration: inputs.configuration)
            }
            pattern.runEnv.merge(signed.runEnv) { own, _ in own }
            return pattern
        } catch {
            logger.error("pattern refused", metadata: ["reason": "\(error)"])
            throw SourceError(
                error.code == .unavailable ? .unavailable : .invalidPattern, source: source.name,
                detail: error.description)
        }
    }

    /// Restores each source's saved token (unless `noRestore`): verified and rendered again, then
    /// held, so the startup run runs it. A missing or unreadable file is skipped; a corrupt or
    /// unverifiable token is logged and skipped. Neither is fatal.
    public func restore() async {
        store.removeLeftovers()
        for source in all where !source.settings.noRestore {
            guard let token = store.load(source.name) else { continue }
            var logger = logger
            logger[metadataKey: "source"] = "\(source.name)"
            do {
                let (signed, pattern) = try await load(token, for: source, logger: logger)
                source.hold(pattern, signed: signed)
                metrics?.jwtExpiry(source: source.name, expiresAt: signed.expiresAt)
                logger.info("restored", metadata: ["issuedAt": "\(signed.issuedAt)"])
            } catch {
                logger.error("saved state ignored", metadata: ["reason": "\(error)"])
            }
        }
    }

    /// The startup pass, in Etcha's order: source by source, alphabetically and one after another,
    /// a source with `pullPaths` pulls first (a new token is applied and runs), and a source that
    /// did not run that way runs its held pattern, unless `triggerOnly`. Returns each run's result.
    @discardableResult
    public func runAtStartup() async -> [String: RunResult] {
        var results: [String: RunResult] = [:]
        for source in all {
            if let pulled = await pull(source.name, runHeld: false) {
                results[source.name] = pulled
                continue
            }
            guard !source.settings.triggerOnly, !source.pattern.run.isEmpty else { continue }
            do {
                let request = RunRequest(trigger: .`init`, publicKey: source.signed?.token.keyID ?? "")
                results[source.name] = try await trigger(source.name, request)
            } catch {
                var result = RunResult()
                result.errors.append("\(error)")
                results[source.name] = result
            }
        }
        return results
    }
}

extension CommandEngine {
    /// The same engine logging to `logger`.
    func logging(to logger: Logger) -> CommandEngine {
        CommandEngine(metrics: metrics, logger: logger, abort: abort)
    }
}
