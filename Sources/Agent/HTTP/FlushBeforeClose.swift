import NIOCore

/// Holds a close until the current event-loop task has ended, then flushes and closes. Hummingbird's
/// HTTP/2 connection manager closes a quiescing connection as soon as its last stream ends, and
/// NIOHTTP2 reports that end while it is still writing the stream's final frame, so a close passed
/// at once went out before the frame did: at shutdown, the last answers were lost. Placed right
/// after `NIOHTTP2Handler`.
final class FlushBeforeClose: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = Any

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.flush()
            bound.value.close(mode: mode, promise: promise)
        }
    }
}
