/// `httpServer.rateLimitRate`: failed requests allowed per client per period, written `N-S`, `N-M`
/// or `N-H` (10 a second, minute or hour), as Etcha writes it.
public struct RateLimitRate: Sendable, Hashable {
    /// Failures allowed in one period.
    public var count: Int
    /// The period.
    public var period: Duration

    /// Makes a rate.
    public init(count: Int, period: Duration) {
        self.count = count
        self.period = period
    }

    /// Parses `N-S|M|H`; nil when it is not that.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let count = Int(parts[0]), count > 0 else { return nil }
        switch parts[1].uppercased() {
        case "S": period = .seconds(1)
        case "M": period = .seconds(60)
        case "H": period = .seconds(3600)
        default: return nil
        }
        self.count = count
    }
}
