import NIOConcurrencyHelpers

/// Counts failed requests per client in fixed windows (`httpServer.rateLimitRate`, e.g. 10 a
/// minute). A client that has used up its failures is refused until its window ends, so guessing
/// the metrics key or a push JWT costs time; other clients are not affected.
final class FailureRateLimiter: Sendable {
    private struct Window {
        var started: ContinuousClock.Instant
        var failures: Int
    }

    private let rate: RateLimitRate
    private let windows = NIOLockedValueBox<[String: Window]>([:])
    /// Beyond this many tracked clients, expired windows are dropped before adding one.
    private let pruneThreshold = 10_000

    init(rate: RateLimitRate) {
        self.rate = rate
    }

    /// How long `client` must wait, or nil when it may be served.
    func retryAfter(for client: String, now: ContinuousClock.Instant = .now) -> Duration? {
        windows.withLockedValue { windows in
            guard let window = windows[client] else { return nil }
            let ends = window.started + rate.period
            if now >= ends {
                windows[client] = nil
                return nil
            }
            return window.failures >= rate.count ? ends - now : nil
        }
    }

    /// Counts one failure of `client`.
    func recordFailure(of client: String, now: ContinuousClock.Instant = .now) {
        windows.withLockedValue { windows in
            if var window = windows[client], now < window.started + rate.period {
                window.failures += 1
                windows[client] = window
                return
            }
            if windows.count >= pruneThreshold {
                windows = windows.filter { now < $0.value.started + rate.period }
            }
            windows[client] = Window(started: now, failures: 1)
        }
    }
}
