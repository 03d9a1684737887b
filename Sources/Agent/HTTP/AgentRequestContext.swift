import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's core storage plus the connection the request
/// came on, which names the client (for rate limits, `remote_addr` and `ETCHA_EVENT_SRC`).
public struct AgentRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address (empty when unknown), worked out once per request: the failure limit
    /// and the route both need it.
    public let peerAddress: String
    /// The channel the request came on (an HTTP/2 stream, or the HTTP/1.1 connection): a shell
    /// session ends when it closes.
    public let channel: any Channel

    /// Made by Hummingbird for each request.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress ?? ""
        channel = source.channel
    }

    /// Bodies are read explicitly with the configured limit, never through `decode`.
    public var maxUploadSize: Int { 0 }
}

/// Who a request comes from: the peer's IP address, or the last `X-Forwarded-For` entry when the peer
/// is a trusted proxy (so a client cannot pick its own identity by sending the header itself).
struct ClientIdentity: Sendable {
    /// Proxy addresses whose `X-Forwarded-For` is believed.
    let trustedProxies: Set<String>

    func client(of request: Request, peerAddress address: String) -> String {
        guard trustedProxies.contains(address), let forwarded = request.headers[.xForwardedFor] else {
            return address
        }
        let last = forwarded.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return last.isEmpty ? address : last
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xHubSignature256 = HTTPField.Name("X-Hub-Signature-256")!
    static let retryAfter = HTTPField.Name("Retry-After")!
}
