import Hummingbird
import NIOCore

/// Reads request bodies up to `httpServer.maxBodyBytes`: a declared `Content-Length` above the limit
/// is refused before any of the body is read; a chunked body is read until it passes the limit.
/// Either way the answer is 413 and the connection is closed, so the rest is never read.
struct BodyLimit: Sendable {
    let maxBytes: Int

    func collect(_ request: Request) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBytes {
            throw PayloadTooLarge()
        }
        do {
            return try await request.body.collect(upTo: maxBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw PayloadTooLarge()
        }
    }
}

/// 413. Over HTTP/1.1 (no `:scheme` pseudo-header) with `Connection: close`, so the unread body is
/// not drained; HTTP/2 forbids that header and resets just the stream.
struct PayloadTooLarge: HTTPResponseError {
    var status: HTTPResponse.Status { .contentTooLarge }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "text/plain"]
        if request.head.scheme == nil { headers[.connection] = "close" }
        return Response(
            status: .contentTooLarge, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: "request body too large\n")))
    }
}
