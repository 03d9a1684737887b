import Foundation
import Hummingbird
import NIOCore

/// `POST /etcha/v1/push/SOURCE` (docs/behaviour.md#5-listen-mode-etcha-run): the body is a JWT;
/// `?check` runs check mode, and `?filter=REGEX` runs only the commands whose parent chain matches
/// (``ParentFilter``; a bad expression answers 400). The answer is the run's result object, with status 200, or 500 when
/// the run failed (as Etcha answers). An unknown source, a source
/// without `allowPush` and any token that does not verify all answer 404, with the reason only in
/// the log; a token older than the held one answers 409; a full run queue, or a node that cannot
/// render now (``SourceError/Code/unavailable``), 503.
struct PushRoute: Sendable {
    let sources: SourceSet
    let bodyLimit: BodyLimit
    let identity: ClientIdentity
    let readiness: Readiness

    static let prefix = "/etcha/v1/push/"

    func add(to router: Router<AgentRequestContext>) {
        router.post("/etcha/v1/push/:source") { request, context in try await self.push(request, context: context) }
    }

    func push(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard readiness.isReady else { throw HTTPError(.serviceUnavailable) }
        let name = context.parameters.get("source") ?? ""
        let body = try await bodyLimit.collect(request)
        let token = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        let client = identity.client(of: request, peerAddress: context.peerAddress)
        let checkOnly = request.uri.queryParameters["check"] != nil
        let filter: ParentFilter?
        do {
            filter = try ParentFilter(GoURLEncoding.value(of: "filter", inQuery: request.uri.query ?? "") ?? "")
        } catch {
            throw HTTPError(.badRequest, message: "filter is not a regular expression: \(error)\n")
        }
        let result: RunResult
        do {
            result = try await offTheEventLoop { () throws(SourceError) in
                try await sources.push(name, token: token, checkOnly: checkOnly, remoteAddr: client, filter: filter)
            }
        } catch {
            context.logger.warning("push refused", metadata: ["source": "\(name)", "reason": "\(error)"])
            switch error.code {
            case .stale: throw HTTPError(.conflict)
            case .queueFull: throw HTTPError(.serviceUnavailable)
            case .invalidPattern: throw HTTPError(.badRequest, message: error.description)
            case .unavailable: throw HTTPError(.serviceUnavailable, message: error.description)
            default: throw HTTPError(.notFound)
            }
        }
        let answer = PushAnswer(result)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(
            status: result.failed ? .internalServerError : .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(answer))))
    }
}
