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

/// 413, with `Connection: close` so the unread body is not drained.
struct PayloadTooLarge: HTTPResponseError {
    var status: HTTPResponse.Status { .contentTooLarge }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .contentTooLarge, headers: [.connection: "close", .contentType: "text/plain"],
            body: .init(byteBuffer: ByteBuffer(string: "request body too large\n")))
    }
}
