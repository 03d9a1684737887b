import Auth
import EtchaCore
import EtchaInstrumentation
import Foundation
import Hummingbird
import NIOCore

/// Webhooks (docs/behaviour.md#6-webhooks): a request of any method on a path in some source's
/// `webhookPaths` runs those sources' patterns, in alphabetical order, until one fires
/// `webhookBody`; that output is the answer (content type from `webhookContentType`, else
/// text/plain). No answer: 404, unless a run failed or was refused, which answers 5xx
/// (``failure(of:)``, 503 for a full run queue).
///
/// A source with `webhookSecret` accepts only requests signed GitHub's way (`X-Hub-Signature-256`);
/// when any source of the path has a secret the request does not satisfy, the answer is 401 and
/// nothing runs.
struct WebhookMiddleware: RouterMiddleware {
    typealias Context = AgentRequestContext

    /// The largest body a command can receive: `ETCHA_WEBHOOK_BODY` holds it in base64, and Linux
    /// refuses to start a process with an environment string over 128 KiB (MAX_ARG_STRLEN). Larger
    /// bodies get 413 instead of a run that cannot start.
    static let maximumBody = 96_000

    /// Sources by webhook path, each list in alphabetical order.
    let routes: [String: [Source]]
    let sources: SourceSet
    let bodyLimit: BodyLimit
    let identity: ClientIdentity
    let readiness: Readiness

    init(sources: SourceSet, bodyLimit: BodyLimit, identity: ClientIdentity, readiness: Readiness) {
        var routes: [String: [Source]] = [:]
        for source in sources.all {
            for path in Set(source.settings.webhookPaths) { routes[path, default: []].append(source) }
        }
        self.routes = routes
        self.sources = sources
        self.bodyLimit = BodyLimit(maxBytes: min(bodyLimit.maxBytes, Self.maximumBody))
        self.identity = identity
        self.readiness = readiness
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let targets = routes[request.uri.path] else { return try await next(request, context) }
        guard readiness.isReady else { throw HTTPError(.serviceUnavailable) }
        let body = try await bodyLimit.collect(request)
        let bytes = body.readableBytesView
        for source in targets where !source.settings.webhookSecret.isEmpty {
            let signature = request.headers[.xHubSignature256]
            guard WebhookSignature.verify(header: signature, body: bytes, secret: source.settings.webhookSecret) else {
                context.logger.warning("webhook signature refused", metadata: ["source": "\(source.name)"])
                throw HTTPError(.unauthorized)
            }
        }
        let client = identity.client(of: request, peerAddress: context.peerAddress)
        let environment = Self.environment(of: request, body: bytes)
        var failure: HTTPError?
        for source in targets {
            let result: RunResult
            switch await run(source, environment: environment, client: client) {
            case .success(let ran):
                result = ran
            case .failure(let error):
                failure = failure ?? HTTPError(.serviceUnavailable, message: "webhook not run: the run queue is full\n")
                context.logger.warning("webhook refused", metadata: ["source": "\(source.name)", "reason": "\(error)"])
                continue
            }
            if result.failed {
                failure = failure ?? Self.failure(of: result)
                continue
            }
            guard let answer = result.events.first(where: { $0.name == "webhookBody" }) else { continue }
            let type = result.events.first { $0.name == "webhookContentType" }?.trimmedOutput
            return Response(
                status: .ok, headers: [.contentType: type?.isEmpty == false ? type! : "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: answer.output)))
        }
        throw failure ?? HTTPError(.notFound)
    }

    /// The answer to a webhook whose run failed without an answer: 504 when a step ran out of time,
    /// 500 otherwise. The reason is short; the log has the command and its error.
    static func failure(of result: RunResult) -> HTTPError {
        result.timedOut
            ? HTTPError(.gatewayTimeout, message: "webhook run failed: timed out\n")
            : HTTPError(.internalServerError, message: "webhook run failed: a command failed\n")
    }

    /// Runs `source` for the request; a full run queue is the only refusal (sources are known).
    private func run(_ source: Source, environment: [String: String], client: String) async -> Result<
        RunResult, SourceError
    > {
        do {
            return .success(
                try await sources.trigger(
                    source.name, RunRequest(trigger: .webhook, environment: environment, remoteAddr: client)))
        } catch {
            return .failure(error)
        }
    }

    /// The `ETCHA_WEBHOOK_*` variables: standard base64 of the body, the headers as sorted
    /// `Name: value` lines joined by `\n` with canonical names, the method, the path and the query,
    /// both encoded as Etcha encodes them (``GoURLEncoding``).
    static func environment(of request: Request, body: some Collection<UInt8>) -> [String: String] {
        let headers = request.headers.map { "\(GoURLEncoding.headerName($0.name.rawName)): \($0.value)" }
            .sorted().joined(separator: "\n")
        return [
            "ETCHA_WEBHOOK_BODY": Data(body).base64EncodedString(),
            "ETCHA_WEBHOOK_HEADERS": headers,
            "ETCHA_WEBHOOK_METHOD": request.method.rawValue,
            "ETCHA_WEBHOOK_PATH": request.uri.path,
            "ETCHA_WEBHOOK_QUERY": GoURLEncoding.query(request.uri.query ?? ""),
        ]
    }
}
