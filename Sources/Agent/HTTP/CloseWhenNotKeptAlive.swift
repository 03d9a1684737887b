import DequeModule
import NIOCore
import NIOHTTP1

/// Closes an HTTP/1.x connection once the answer to a request that did not ask to keep it is
/// written (HTTP/1.0 without `Connection: keep-alive`, or `Connection: close`), and says so in the
/// answer's `Connection` header. The request's version is gone once NIO's codec has turned it into
/// HTTP types, so neither Hummingbird nor ``ScrapeFastPath`` can tell an HTTP/1.0 request that
/// expects the connection to close: they kept it open, and a second request on it got 400.
final class CloseWhenNotKeptAlive: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Whether each request not yet answered asked to keep the connection, in request order.
    private var keepAlive = Deque<Bool>()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { keepAlive.append(head.isKeepAlive) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200 && keepAlive.first == false:
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            guard keepAlive.popFirst() == false else { return context.write(data, promise: promise) }
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            context.write(data, promise: written)
        default:
            context.write(data, promise: promise)
        }
    }

    /// Put among Hummingbird's `additionalChannelHandlers` (which come after the codec): when the
    /// pipeline is built, before any request is read, it places a ``CloseWhenNotKeptAlive`` right
    /// after the HTTP/1 request decoder (HTTP/1.x connections only), and leaves at the first read.
    final class Installer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        func handlerAdded(context: ChannelHandlerContext) {
            let operations = context.pipeline.syncOperations
            if let decoder = try? operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) {
                try? operations.addHandler(CloseWhenNotKeptAlive(), position: .after(decoder))
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}
