import Auth
import CompressNIO
import EtchaInstrumentation
import Hummingbird
import NIOCore

/// `GET /etcha/v1/system/metrics` and `GET /etcha/v1/system/health`.
struct SystemRoutes: Sendable {
    let metrics: EtchaMetrics
    /// `run.systemMetricsKey`; empty disables the endpoint (404).
    let metricsKey: String
    let readiness: Readiness

    static let metricsPath = "/etcha/v1/system/metrics"
    static let healthPath = "/etcha/v1/system/health"

    func add(to router: Router<AgentRequestContext>) {
        router.get(RouterPath(Self.metricsPath)) { request, _ in try self.scrape(request) }
        router.get(RouterPath(Self.healthPath)) { _, _ in self.health() }
    }

    /// The exposition, for the right key only (`?key=` or `Authorization: Bearer`), compared in
    /// constant time; gzip when the client accepts it.
    func scrape(_ request: Request) throws -> Response {
        let (headers, body) = try scrapeAnswer(request)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// The headers and body of a scrape's 200 answer, or the error to answer instead (404 without a
    /// key configured, 403 for a wrong one). Also used by ``ScrapeFastPath`` on the event loop.
    func scrapeAnswer(_ request: Request) throws(HTTPError) -> (HTTPFields, ByteBuffer) {
        guard !metricsKey.isEmpty else { throw HTTPError(.notFound) }
        let given = request.uri.queryParameters["key"].map(String.init) ?? bearerToken(request) ?? ""
        guard constantTimeEquals(given, metricsKey) else { throw HTTPError(.forbidden) }
        var body = ByteBuffer(bytes: metrics.exposition())
        var headers: HTTPFields = [.contentType: "text/plain; version=0.0.4; charset=utf-8"]
        if acceptsGzip(request), let compressed = try? body.compress(with: .gzip()) {
            body = compressed
            headers[.contentEncoding] = "gzip"
        }
        headers[.vary] = "Accept-Encoding"
        return (headers, body)
    }

    func health() -> Response {
        let ready = readiness.isReady
        return Response(
            status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
            body: .init(byteBuffer: ByteBuffer(string: ready ? "ok\n" : "starting\n")))
    }

    private func bearerToken(_ request: Request) -> String? {
        guard let value = request.headers[.authorization], value.lowercased().hasPrefix("bearer ") else { return nil }
        return String(value.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
    }

    private func acceptsGzip(_ request: Request) -> Bool {
        request.headers[values: .acceptEncoding].contains { value in
            value.split(separator: ",").contains { coding in
                let parts = coding.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                return parts.first?.lowercased() == "gzip"
                    && !parts.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "") == "q=0" }
            }
        }
    }
}
