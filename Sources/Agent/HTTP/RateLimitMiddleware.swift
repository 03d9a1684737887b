import Hummingbird
import NIOCore

/// Refuses clients that failed too often with 429 and `Retry-After`, and counts failures: every
/// 4xx answer under `/etcha/`, and every 4xx but 404 elsewhere (a path that is not a webhook is no
/// attempt at anything). A 5xx is the node's own failure, never held against the client.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AgentRequestContext

    let gate: FailureGate

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        // The client is worked out once: for the limit, and for counting a failure.
        let client = gate.identity.client(of: request, peerAddress: context.peerAddress)
        if let wait = gate.limiter.retryAfter(for: client) {
            let seconds = max(
                1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
            return Response(
                status: .tooManyRequests, headers: [.retryAfter: "\(seconds)", .contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "too many failed requests\n")))
        }
        do {
            let response = try await next(request, context)
            count(response.status, path: request.uri.path, client: client)
            return response
        } catch let error as any HTTPResponseError {
            count(error.status, path: request.uri.path, client: client)
            throw error
        }
    }

    private func count(_ status: HTTPResponse.Status, path: String, client: String) {
        guard (400..<500).contains(status.code) else { return }
        if status == .notFound && !path.hasPrefix("/etcha/") { return }
        gate.limiter.recordFailure(of: client)
    }
}
