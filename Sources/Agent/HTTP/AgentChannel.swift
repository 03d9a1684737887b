import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOSSL

/// The listener's connection setup: TLS with HTTP/2 or HTTP/1.1 by ALPN (Hummingbird's
/// `HTTP2UpgradeChannel`), plus a ``FirstRequestDeadline`` right after the TLS handler, because
/// nothing else bounds the handshake and the first request head, and ``PeerGone``. Each
/// connection's requests are handled on its event loop (``EventLoopTaskExecutor``).
struct AgentChannel: ServerChildChannel {
    typealias Value = HTTP2UpgradeChannel.Value

    let upgrade: HTTP2UpgradeChannel
    let headerTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let configured = upgrade.setup(channel: channel, logger: logger)
        do {
            let operations = channel.pipeline.syncOperations
            let tls = try operations.handler(type: NIOSSLServerHandler.self)
            try operations.addHandler(PeerGone(), position: .after(tls))
            try operations.addHandler(FirstRequestDeadline(timeout: headerTimeout), position: .after(tls))
        } catch {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
        return configured
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(loop: value.channel.eventLoop)) {
            await upgrade.handle(value: value, logger: logger)
        }
    }
}
