import EtchaInstrumentation
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The HTTPS listener (docs/behaviour.md#5-listen-mode-etcha-run): metrics, health, webhooks, push
/// and shell sessions, behind per-client failure limits, body limits and connection timeouts, over
/// TLS 1.2+ with HTTP/2 or HTTP/1.1. A `Service` of the agent's group: graceful shutdown stops
/// accepting and lets requests in flight finish.
///
///     let listener = try Listener(config: config, sources: agent.sources, shells: shells, metrics: metrics, readiness: agent.readiness, logger: logger)
public final class Listener: Service, Sendable {
    private let server: HTTPServerBuilder
    private let responder: RouterResponder<AgentRequestContext>
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let bound = BoundPort()
    private let date = HTTPDate()
    /// Scrapes answered by ``ScrapeFastPath`` (for tests).
    let eventLoopScrapes: ScrapeFastPath.Count
    /// Open connections by client (for tests).
    let perClient: ConnectionLimits.PerClient

    /// Builds the routes and TLS configuration; bad TLS material is an error naming the key or file.
    public init(
        config: Config, sources: SourceSet, shells: ShellSessions, metrics: EtchaMetrics, readiness: Readiness,
        logger: Logger
    ) throws(ListenerError) {
        let server = config.httpServer
        let stateDir = config.run.stateDir.isEmpty ? FileManager.default.currentDirectoryPath : config.run.stateDir
        let tls = try TLSSettings.make(server, stateDir: stateDir, logger: logger)
        let (host, port) = try Self.address(server.listenAddress)
        let gate = FailureGate(config: config)
        let systemRoutes = SystemRoutes(metrics: metrics, metricsKey: config.run.systemMetricsKey, readiness: readiness)
        responder = Self.router(
            config: config, sources: sources, shells: shells, readiness: readiness, gate: gate,
            systemRoutes: systemRoutes
        ).buildResponder()

        let idle = server.idleTimeout.duration
        let scrapes = ScrapeFastPath.Answerer(routes: systemRoutes, gate: gate, date: date)
        eventLoopScrapes = scrapes.answered
        let stream = HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                CloseWhenNotKeptAlive.Installer(), ScrapeFastPath.Installer(answerer: scrapes),
            ],
            idleTimeout: .init(idle))
        let headerTimeout = TimeAmount(server.headerTimeout.duration)
        let limits = ConnectionLimits(server, trustedProxies: Set(server.trustedProxies), logger: logger)
        perClient = limits.perClient
        var tlsForHTTP2 = tls
        tlsForHTTP2.applicationProtocols = NIOHTTP2SupportedALPNProtocols
        let contexts: ServerTLSContexts
        do {
            contexts = try ServerTLSContexts(configuration: tlsForHTTP2)
        } catch {
            throw ListenerError("httpServer: cannot make the TLS context: \(error)")
        }
        // At shutdown, an HTTP/2 connection is cut this long after its GOAWAY: past the runs' own
        // deadline (run.shutdownTimeout), so the answers of the runs cut short there still go out.
        let http2 = HTTP2Channel.Configuration(
            idleTimeout: idle, gracefulCloseTimeout: config.run.shutdownTimeout.duration + .seconds(2),
            streamConfiguration: stream)
        let memoryTrim = MemoryTrim()
        self.server = HTTPServerBuilder { responder in
            AgentChannel(
                tls: contexts, http1: HTTP1Channel(responder: responder, configuration: stream),
                http2: HTTP2Channel(responder: responder, configuration: http2), headerTimeout: headerTimeout,
                perClient: limits.perClient, memoryTrim: memoryTrim)
        }
        configuration = .init(
            address: .hostname(host, port: port), serverName: nil, reuseAddress: true,
            availableConnectionsDelegate: limits.availableConnections)
        self.logger = logger
    }

    /// Every route behind its middleware, in the order requests meet them: the failure limit, then
    /// webhooks (any method on their paths), then the `/etcha/v1/` routes. The failure limit and the
    /// metrics route are shared with ``ScrapeFastPath``.
    static func router(
        config: Config, sources: SourceSet, shells: ShellSessions, readiness: Readiness, gate: FailureGate,
        systemRoutes: SystemRoutes
    ) -> Router<AgentRequestContext> {
        let identity = gate.identity
        let bodyLimit = BodyLimit(maxBytes: config.httpServer.maxBodyBytes)
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: RateLimitMiddleware(gate: gate))
        router.add(
            middleware: WebhookMiddleware(
                sources: sources, bodyLimit: bodyLimit, identity: identity, readiness: readiness))
        systemRoutes.add(to: router)
        PushRoute(sources: sources, bodyLimit: bodyLimit, identity: identity, readiness: readiness).add(to: router)
        ShellRoute(shells: shells, bodyLimit: bodyLimit, identity: identity, readiness: readiness).add(to: router)
        return router
    }

    /// Serves until graceful shutdown. Hummingbird's `Application` is not used to run the server:
    /// its `Date` header goes through Foundation's calendars and so through ICU (see `HTTPDate`),
    /// and it binds a task-local logger with a fresh request id to every request, which nothing
    /// here reads. (Nor `runService()`: the agent's group decides the order in which services stop.)
    public func run() async throws {
        let responder = self.responder
        let logger = self.logger
        let date = self.date
        let bound = self.bound
        let service = try server.buildServer(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger
        ) { request, writer, channel in
            let context = AgentRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error  // the channel answers 400 and closes
            } catch {
                logger.debug("unhandled error answering a request", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError)
            }
            response.headers[.date] = date.now
            do {
                try await writer.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // A parse error while the body was streamed: rethrowing it would make the channel
                // write a second response, so the connection is closed instead.
                throw ResponseAbandoned()
            }
        } onServerRunning: { channel in
            try? await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(AcceptPause(logger: logger), position: .first)
            }.get()
            if let port = channel.localAddress?.port { bound.set(port) }
        }
        try await service.run()
    }

    /// The port the listener bound (useful with port 0); waits until it is bound.
    public func port() async -> Int? {
        await bound.value()
    }

    /// `host:port`, `:port` (every address) or `[v6]:port`.
    static func address(_ text: String) throws(ListenerError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ListenerError("httpServer.listenAddress: \"\(text)\" is not host:port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty {
            // Every address: IPv6 and IPv4 together where the kernel has IPv6.
            host = FileManager.default.fileExists(atPath: "/proc/net/if_inet6") ? "::" : "0.0.0.0"
        }
        return (host, port)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Ends a connection whose request turned out malformed while its response was being written.
private struct ResponseAbandoned: Error {}
