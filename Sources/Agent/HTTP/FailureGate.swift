import Hummingbird
import NIOCore

/// Who a client is, and how many failures it has left: shared by the router's failure limit and
/// ``ScrapeFastPath``.
struct FailureGate: Sendable {
    let identity: ClientIdentity
    let limiter: FailureRateLimiter

    /// How long the client behind `request` must wait, or nil when it may be served.
    func retryAfter(_ request: Request, peer: SocketAddress?) -> Duration? {
        limiter.retryAfter(for: identity.client(of: request, peerAddress: peer?.ipAddress ?? ""))
    }

    init(config: Config) {
        identity = ClientIdentity(trustedProxies: Set(config.httpServer.trustedProxies))
        // The configuration was validated at load, so the rate parses.
        let rate =
            RateLimitRate(parsing: config.httpServer.rateLimitRate) ?? RateLimitRate(count: 10, period: .seconds(60))
        limiter = FailureRateLimiter(rate: rate)
    }
}
