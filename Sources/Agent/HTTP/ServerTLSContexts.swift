import NIOConcurrencyHelpers
import NIOSSL

/// The TLS context each new connection gets. A context is made again from the same configuration
/// after every ``connectionsPerContext`` connections: NIOSSL leaves BoringSSL's server session
/// cache at its defaults and offers no way to bound it, so a handshake flood would otherwise grow
/// the agent for good with every handshake. An old context, and its cache, goes when its last
/// connection closes. Resumption still works within a context (docs/decisions.md, "A fresh TLS
/// context every 256 connections").
final class ServerTLSContexts: Sendable {
    /// Connections that share one context (and one session cache).
    static let connectionsPerContext = 256

    private let configuration: TLSConfiguration
    private let current: NIOLockedValueBox<(context: NIOSSLContext, handedOut: Int)>

    /// Contexts for `configuration`; throws when it cannot make one.
    init(configuration: TLSConfiguration) throws {
        self.configuration = configuration
        current = NIOLockedValueBox((try NIOSSLContext(configuration: configuration), 0))
    }

    /// The context for a new connection.
    func next() -> NIOSSLContext {
        current.withLockedValue { current in
            if current.handedOut >= Self.connectionsPerContext,
                let fresh = try? NIOSSLContext(configuration: configuration)
            {
                current = (fresh, 0)
            }
            current.handedOut += 1
            return current.context
        }
    }
}
