import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL

/// The listener's connection setup: TLS (a context from ``ServerTLSContexts``), then HTTP/2 or
/// HTTP/1.1 by ALPN (Hummingbird's `HTTP2Channel` and `HTTP1Channel`), plus a
/// ``FirstRequestDeadline`` right after the TLS handler, because nothing else bounds the handshake
/// and the first request head, and ``PeerGone``. Each connection's requests are handled on its
/// event loop (``EventLoopTaskExecutor``). A connection past its client's limit
/// (``ConnectionLimits/PerClient``) is closed before anything is read; each closed connection asks
/// for a ``MemoryTrim``.
struct AgentChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Channel.Value, HTTP2Channel.Value>>
        let channel: any Channel
    }

    let tls: ServerTLSContexts
    let http1: HTTP1Channel
    let http2: HTTP2Channel
    let headerTimeout: TimeAmount
    let perClient: ConnectionLimits.PerClient
    let memoryTrim: MemoryTrim

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.closeFuture.whenComplete { [memoryTrim] _ in memoryTrim.connectionClosed() }
        guard perClient.admit(channel) else {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ClientOverConnectionLimit())
        }
        do {
            let operations = channel.pipeline.syncOperations
            let tlsHandler = NIOSSLServerHandler(context: tls.next())
            try operations.addHandler(tlsHandler)
            try operations.addHandler(PeerGone(), position: .after(tlsHandler))
            try operations.addHandler(FirstRequestDeadline(timeout: headerTimeout), position: .after(tlsHandler))
        } catch {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return channel.configureHTTP2AsyncSecureUpgrade { channel in
            http1.setup(channel: channel, logger: logger)
        } http2ConnectionInitializer: { channel in
            http2.setup(channel: channel, logger: logger).flatMapThrowing { connection in
                let operations = channel.pipeline.syncOperations
                try operations.addHandler(
                    FlushBeforeClose(), position: .after(try operations.handler(type: NIOHTTP2Handler.self)))
                return connection
            }
        }.map { Value(negotiated: $0, channel: channel) }
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(loop: value.channel.eventLoop)) {
            do {
                switch try await value.negotiated.get() {
                case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
                case .http2(let connection): await http2.handle(value: connection, logger: logger)
                }
            } catch {
                logger.debug("connection ended before HTTP began", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// A connection refused because its client has as many open as it may.
struct ClientOverConnectionLimit: Error {}
