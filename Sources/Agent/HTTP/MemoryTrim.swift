import CJsonnet  // malloc_trim: cjsonnet.h includes <malloc.h>
import Dispatch
import NIOConcurrencyHelpers

/// Hands the memory that closed connections freed back to the system: `malloc_trim` a second
/// after a connection closes, at most once a second, off the event loops. glibc keeps freed memory
/// in its per-thread arenas, and a TLS handshake frees tens of KiB there, so a handshake flood
/// would otherwise leave the agent larger for good (docs/decisions.md).
final class MemoryTrim: Sendable {
    static let delay = DispatchTimeInterval.seconds(1)
    private let scheduled = NIOLockedValueBox(false)

    /// Schedules a trim unless one is pending.
    func connectionClosed() {
        let schedule = scheduled.withLockedValue { scheduled in
            defer { scheduled = true }
            return !scheduled
        }
        guard schedule else { return }
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + Self.delay) {
            self.scheduled.withLockedValue { $0 = false }
            malloc_trim(0)
        }
    }
}
