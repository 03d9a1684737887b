import NIOCore

/// Closes a connection that has not finished its TLS handshake and its first request head
/// (`\r\n\r\n`, which HTTP/2's connection preface also holds) within `httpServer.headerTimeout`, so a
/// slow or stuck client cannot hold a connection open; once the head is in, it steps aside and the
/// idle timeout takes over. It sits right after the TLS handler and sees decrypted bytes.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// The last bytes seen, so a `\r\n\r\n` split across reads is found.
    private var tail: [UInt8] = []
    private static let end: [UInt8] = Array("\r\n\r\n".utf8)

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var window = tail
        window.append(contentsOf: buffer.readableBytesView)
        let found =
            window.count >= 4 && (0...(window.count - 4)).contains { window[$0..<($0 + 4)].elementsEqual(Self.end) }
        tail = Array(window.suffix(3))
        context.fireChannelRead(data)
        if found {
            deadline?.cancel()
            deadline = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}
