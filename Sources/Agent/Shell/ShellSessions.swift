import Auth
import EtchaInstrumentation
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The agent's shell sessions (docs/behaviour.md#7-shell-sessions): verifies each request like a
/// push, opens sessions up to `run.maxShells`, routes later requests to the session their `i` names
/// when the same key signed them, keeps `etcha_sources_shells` and fires the `shell` event. A
/// `Service` of the agent's group, placed after the listener so that on SIGTERM it ends every shell
/// before the listener waits for the requests in flight.
///
///     let shells = ShellSessions(sources: agent.sources, config: config, metrics: metrics, logger: logger)
///     let opened = try shells.handle("debug", token: body, remoteAddr: client)  // nil: input taken
public final class ShellSessions: Service, Sendable {
    private let sources: SourceSet
    private let metrics: EtchaMetrics?
    private let logger: Logger
    private let maxShells: Int
    private let timeout: Duration
    /// How long a write to a client may stay stuck before the client counts as gone.
    let stallLimit: Duration
    private let state = NIOLockedValueBox(State())

    private struct State {
        var sessions: [String: ShellSession] = [:]
        /// Slots taken by sessions being started.
        var starting = 0
        /// Open sessions per metric series, so the gauge reads 1 while any of them is open.
        var openSeries: [Series: Int] = [:]
        /// `jti`s already used, until their token expires.
        var nonces: [String: Int] = [:]
        var stopping = false
    }

    private struct Series: Hashable {
        var source: String
        var publicKey: String
        var remoteAddr: String
    }

    /// Tokens remembered for replay at once; past this, tokens with a `jti` are refused until some expire.
    static let nonceLimit = 65536

    /// Makes the registry for `config`'s `run.maxShells` and `run.timeoutShell`.
    public init(
        sources: SourceSet, config: Config, metrics: EtchaMetrics?, logger: Logger, stallLimit: Duration = .seconds(30)
    ) {
        self.sources = sources
        self.metrics = metrics
        self.logger = logger
        maxShells = config.run.maxShells
        timeout = config.run.timeoutShell.duration
        self.stallLimit = stallLimit
    }

    /// Waits for graceful shutdown, then ends every shell and waits (briefly) until each is reaped.
    public func run() async throws {
        try? await gracefulShutdown()
        let open = state.withLockedValue { state in
            state.stopping = true
            return Array(state.sessions.values)
        }
        for session in open { session.end("the agent is stopping") }
        for _ in 0..<100 where count > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sessions open now.
    public var count: Int { state.withLockedValue { $0.sessions.count } }

    /// Handles one request body for source `name`: opens a session (returned, for its stream) or
    /// hands input and size to the session `i` names (nil returned).
    func handle(_ name: String, token: String, remoteAddr: String) throws(ShellRefusal) -> ShellSession? {
        guard let source = sources[name], let exec = shellExec(of: source) else {
            throw ShellRefusal(.notFound, "source \"\(name)\" does not exist or has no shell")
        }
        let verified: VerifiedToken
        let key: PublicKey
        do {
            verified = try source.trust.verify(token)
            // Shell tokens are verified by keys only, so the session can be bound to one.
            guard let verifyingKey = verified.key else { throw JWTError("a shell token needs a verify key") }
            key = verifyingKey
        } catch {
            throw ShellRefusal(.notFound, "token refused: \(error)")
        }
        let request = try ShellRequest(verified)
        if let nonce = request.nonce { try remember(nonce, until: request.expiresAt + JWT.skew) }
        guard let id = request.sessionID else {
            return try open(source, exec: exec, request: request, key: key, remoteAddr: remoteAddr)
        }
        guard let session = state.withLockedValue({ $0.sessions[id] }), session.source == name,
            session.key == key
        else {
            throw ShellRefusal(.notFound, "no open session with that id for this source and key")
        }
        try session.send(request.input, columns: request.columns, rows: request.rows)
        return nil
    }

    /// The exec a source's shell runs under: the source's exec chain with the `shell` command, or the
    /// `shell` exec object, laid over it. Nil when the source has no shell.
    private func shellExec(of source: Source) -> ResolvedExec? {
        // Validated at load.
        guard let shell = try? ConfigValidator.shellExec(source.settings.shell, path: "") else { return nil }
        return source.exec.applying(shell, allowOverride: false)
    }

    private func open(
        _ source: Source, exec: ResolvedExec, request: ShellRequest, key: PublicKey, remoteAddr: String
    ) throws(ShellRefusal) -> ShellSession {
        let reserved = state.withLockedValue { state in
            guard !state.stopping, state.sessions.count + state.starting < maxShells else { return false }
            state.starting += 1
            return true
        }
        guard reserved else { throw ShellRefusal(.unavailable, "run.maxShells (\(maxShells)) sessions are open") }
        let process: TerminalProcess
        do {
            process = try TerminalProcess.start(
                exec: exec, environment: TerminalProcess.environment(for: exec, source: source.name),
                columns: request.columns, rows: request.rows)
        } catch {
            state.withLockedValue { $0.starting -= 1 }
            throw error
        }
        let session = ShellSession(source: source.name, key: key, remoteAddr: remoteAddr)
        let series = Series(source: source.name, publicKey: key.id, remoteAddr: remoteAddr)
        state.withLockedValue { state in
            state.starting -= 1
            state.sessions[session.id] = session
            state.openSeries[series, default: 0] += 1
        }
        metrics?.shell(source: source.name, publicKey: key.id, remoteAddr: remoteAddr, open: true)
        var sessionLogger = logger
        sessionLogger[metadataKey: "source"] = "\(source.name)"
        sessionLogger[metadataKey: "session"] = "\(session.logID)"
        let logger = sessionLogger
        logger.info("shell opened", metadata: ["publicKey": "\(key.id)", "remoteAddr": "\(remoteAddr)"])
        if !request.input.isEmpty { try? session.send(request.input, columns: 0, rows: 0) }
        session.start(process, deadline: .now + timeout) { [self] reason in
            let stillOpen = state.withLockedValue { state in
                state.sessions[session.id] = nil
                state.openSeries[series, default: 1] -= 1
                let left = state.openSeries[series] ?? 0
                if left == 0 { state.openSeries[series] = nil }
                return left > 0
            }
            if !stillOpen {
                metrics?.shell(source: series.source, publicKey: series.publicKey, remoteAddr: remoteAddr, open: false)
            }
            logger.info("shell closed", metadata: ["reason": "\(reason)"])
        }
        // The receivers run on their own: a shell does not wait for them, nor they for it.
        let sources = self.sources
        Task {
            await sources.dispatch(
                FiredEvent(name: "shell", commandID: "", output: ""), from: source.name, publicKey: key.id,
                remoteAddr: remoteAddr)
        }
        return session
    }

    /// Refuses a `jti` seen before its token expired.
    private func remember(_ nonce: String, until expiry: Int) throws(ShellRefusal) {
        let now = Int(Date().timeIntervalSince1970)
        let refusal: ShellRefusal? = state.withLockedValue { state in
            if let known = state.nonces[nonce], known >= now { return ShellRefusal(.notFound, "jti used before") }
            if state.nonces.count >= Self.nonceLimit { state.nonces = state.nonces.filter { $0.value >= now } }
            guard state.nonces.count < Self.nonceLimit else {
                return ShellRefusal(.unavailable, "too many shell tokens in flight")
            }
            state.nonces[nonce] = expiry
            return nil
        }
        if let refusal { throw refusal }
    }
}
