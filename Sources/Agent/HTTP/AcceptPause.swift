import Glibc
import Logging
import NIOCore

/// Stops accepting for a second when accept(2) fails for want of descriptors or memory, on the
/// listening socket's pipeline. NIO's own AcceptBackoffHandler only delays the next read request,
/// and a failed accept leaves the socket's read interest on, so the event loop wakes at once to
/// fail again and spins on a core. Turning auto-read off removes that interest; turning it back on
/// after the pause asks for one more accept (docs/decisions.md, "Stop accepting for a second when
/// descriptors run out").
final class AcceptPause: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    static let pause = TimeAmount.seconds(1)
    private static let resourceErrors: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]

    private let logger: Logger
    private var paused = false
    /// When the pause was last logged: once a minute at most, while it lasts.
    private var logged: NIODeadline?

    init(logger: Logger) {
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, Self.resourceErrors.contains(error.errnoCode), !paused {
            paused = true
            if logged.map({ .now() - $0 > .minutes(1) }) ?? true {
                logged = .now()
                logger.warning("cannot accept connections; pausing a second", metadata: ["error": "\(error)"])
            }
            let channel = context.channel
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in
                channel.eventLoop.scheduleTask(in: Self.pause) {
                    channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in
                        handler.value.paused = false
                    }
                }
            }
        }
        context.fireErrorCaught(error)
    }
}
