import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// The `Date` response header (RFC 9110 §5.6.7, IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted at most once a second. Formatted from `gmtime_r`, not Foundation: Foundation's
/// calendars look up the machine's time zone through ICU, which keeps ICU's data and code resident
/// in an agent that never shows a local time (docs/decisions.md, "The listener runs Hummingbird's
/// server itself").
final class HTTPDate: Sendable {
    private let cache = NIOLockedValueBox<(second: Int, text: String)>((-1, ""))

    /// The header value for the current second.
    var now: String {
        let second = time(nil)
        return cache.withLockedValue { cached in
            if cached.second != second { cached = (second, Self.format(secondsSinceEpoch: second)) }
            return cached.text
        }
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate of a time in seconds since the epoch, in UTC.
    static func format(secondsSinceEpoch: Int) -> String {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):"
            + "\(twoDigits(parts.tm_sec)) GMT"
    }
}
