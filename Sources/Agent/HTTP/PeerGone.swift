import NIOCore

/// Closes a connection whose client closed its side. The server allows half-closure (Hummingbird
/// sets it), so otherwise a client that went away while a response streams — a shell session's —
/// would only be noticed at the next write that fails. Like Go's server (and so Etcha), a client
/// that stops sending is taken as gone.
final class PeerGone: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
