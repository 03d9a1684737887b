import Glibc
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The listener's two connection limits (behaviour: connection limits):
/// - all clients together: `httpServer.maxConnections`, lowered to what the descriptor limit leaves
///   room for; past it the listener stops accepting and new connections wait in the kernel's backlog
///   (Hummingbird's ``MaximumAvailableConnections`` on the listening socket);
/// - one address: `httpServer.maxConnectionsPerClient`; a connection past it is closed as it
///   arrives, so one client cannot take the whole listener. Trusted proxies are exempt: their
///   connections carry many clients.
///
/// When accept(2) fails for want of descriptors all the same (commands hold them too, or the
/// limit was lowered), ``AcceptPause`` stops accepting for a second.
struct ConnectionLimits: Sendable {
    /// Descriptors kept free of connections for everything else: state files, pipes and pidfds of
    /// commands, pulls, the scrape's /proc reads.
    static let reservedDescriptors = 64

    /// The limit on all connections together.
    let total: Int
    let perClient: PerClient

    /// The limits of `server`: the total is lowered to the descriptor limit less
    /// ``reservedDescriptors`` (at least 16), and the log says so when it was.
    init(_ server: HTTPServerConfig, trustedProxies: Set<String>, logger: Logger) {
        let room = max(16, Self.descriptorLimit() - Self.reservedDescriptors)
        total = min(server.maxConnections, room)
        if total < server.maxConnections {
            logger.warning(
                "httpServer.maxConnections lowered to fit the descriptor limit",
                metadata: ["maxConnections": "\(total)", "descriptorLimit": "\(Self.descriptorLimit())"])
        }
        perClient = PerClient(limit: server.maxConnectionsPerClient, exempt: trustedProxies)
    }

    /// The soft descriptor limit now.
    static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)
    }

    /// What Hummingbird's listening socket uses to stop accepting at the total.
    var availableConnections: MaximumAvailableConnections {
        MaximumAvailableConnections(total)
    }

    /// Open connections by peer address.
    final class PerClient: Sendable {
        let limit: Int
        let exempt: Set<String>
        private let open = NIOLockedValueBox<[String: Int]>([:])

        init(limit: Int, exempt: Set<String>) {
            self.limit = limit
            self.exempt = exempt
        }

        /// Counts `channel` against its peer's limit until it closes; false (and nothing counted)
        /// when the peer has `limit` connections open already.
        func admit(_ channel: any Channel) -> Bool {
            guard let address = channel.remoteAddress?.ipAddress, !exempt.contains(address) else { return true }
            let admitted = open.withLockedValue { open in
                let count = open[address, default: 0]
                guard count < limit else { return false }
                open[address] = count + 1
                return true
            }
            guard admitted else { return false }
            channel.closeFuture.whenComplete { _ in
                self.open.withLockedValue { open in
                    let count = open[address, default: 1] - 1
                    open[address] = count > 0 ? count : nil
                }
            }
            return true
        }

        /// Connections open from `address` (for tests).
        func count(of address: String) -> Int {
            open.withLockedValue { $0[address, default: 0] }
        }
    }
}
