import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Answers successful scrapes on the connection's event loop, in the HTTP/1.1 pipeline right after
/// Hummingbird's connection-state handler (which so still sees every request and answer for its
/// idle timeout and graceful shutdown).
///
/// A request through Hummingbird's router goes from the event loop to a Swift task and back, and
/// those two hand-offs are most of a scrape's cost (docs/decisions.md, "Successful scrapes answered
/// on the event loop"). This handler answers a `GET` of the metrics path with the right key when
/// nothing else is in flight on the connection, with the same headers and body as the route
/// (``SystemRoutes/scrapeAnswer(_:)``). Everything else goes on to the router unchanged: a wrong or
/// missing key (403, counted by the failure limit), a client over its failure limit (429), a
/// request with a body, one pipelined behind a request still being answered (so answers keep their
/// order), and HTTP/2 streams. A request that does not keep the connection is answered here too:
/// ``CloseWhenNotKeptAlive`` closes it after any answer.
final class ScrapeFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the handler needs from the listener; shared by every connection.
    struct Answerer: Sendable {
        let routes: SystemRoutes
        let gate: FailureGate
        let date: HTTPDate
        /// How many scrapes were answered on the event loop (for tests).
        let answered = Count()

        /// The answer to `head` when it is a scrape this handler may answer, else nil.
        func answer(_ head: HTTPRequest, peer: SocketAddress?) -> (HTTPResponse, ByteBuffer)? {
            guard head.method == .get, let path = head.path, path.hasPrefix(SystemRoutes.metricsPath),
                head.headerFields[.transferEncoding] == nil,
                head.headerFields[.contentLength] == nil || head.headerFields[.contentLength] == "0"
            else { return nil }
            let request = Request(head: head, body: .init(buffer: ByteBuffer()))
            guard request.uri.path == SystemRoutes.metricsPath,
                gate.retryAfter(request, peer: peer) == nil,
                let (fields, body) = try? routes.scrapeAnswer(request)
            else { return nil }
            var headers = fields
            headers[.contentLength] = String(body.readableBytes)
            headers[.date] = date.now
            return (HTTPResponse(status: .ok, headerFields: headers), body)
        }
    }

    final class Count: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .relaxed) }
        var current: Int { value.load(ordering: .relaxed) }
    }

    private let answerer: Answerer
    /// Requests handed on to the router whose answer has not ended yet.
    private var inFlight = 0
    /// This handler's answer, waiting for the end of its request.
    private var pending: (HTTPResponse, ByteBuffer)?

    init(answerer: Answerer) {
        self.answerer = answerer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if inFlight == 0, pending == nil,
                let answer = answerer.answer(head, peer: context.channel.remoteAddress)
            {
                pending = answer
                return
            }
            inFlight += 1
            context.fireChannelRead(data)
        case .body:
            // A request this handler answers has no body (checked from its head).
            if pending == nil { context.fireChannelRead(data) }
        case .end:
            guard let (head, body) = pending else {
                context.fireChannelRead(data)
                return
            }
            pending = nil
            answerer.answered.add()
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight = max(0, inFlight - 1) }
        context.write(data, promise: promise)
    }

    /// Put among Hummingbird's `additionalChannelHandlers`, which come before its connection-state
    /// handler: at the connection's first request part it places a ``ScrapeFastPath`` after that
    /// handler (HTTP/1.1 connections only) and leaves. Nothing has reached the router before then,
    /// so the new handler's count of requests in flight starts right.
    final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart

        private let answerer: Answerer
        private var done = false

        init(answerer: Answerer) {
            self.answerer = answerer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !done else { return context.fireChannelRead(data) }
            done = true
            // An HTTP/2 stream's parent is its connection, whose parent is the listening socket.
            let isHTTP1Connection = context.channel.parent?.parent == nil
            let operations = context.pipeline.syncOperations
            if isHTTP1Connection, let state = try? operations.handler(type: HTTPConnectionStateHandler.self) {
                try? operations.addHandler(ScrapeFastPath(answerer: answerer), position: .after(state))
            }
            context.fireChannelRead(data)
            operations.removeHandler(context: context, promise: nil)
        }
    }
}
