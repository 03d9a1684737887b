/// A duration written the way Go's `time.ParseDuration` reads it (`90s`, `10m`, `1h30m`, `1.5h`,
/// `250ms`), as Etcha's configuration does. The empty string is zero, which means "never" where a
/// duration schedules something (`runFrequency`).
public struct GoDuration: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The duration.
    public var duration: Duration
    /// The text it was read from (kept for messages).
    public var description: String

    /// Wraps a duration; its description is in seconds.
    public init(_ duration: Duration) {
        self.duration = duration
        self.description = GoDuration.format(duration)
    }

    /// Parses Go duration text; nil when it is not one.
    public init?(parsing text: String) {
        guard let duration = GoDuration.parse(text) else { return nil }
        self.duration = duration
        self.description = text
    }

    /// Whether the duration is zero (unset).
    public var isZero: Bool { duration == .zero }

    /// Decodes from a string; a string that is not a duration is an error naming the value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = GoDuration(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\"\(text)\" is not a duration (use Go syntax such as 90s, 10m, 1h30m)"
            )
        }
        self = parsed
    }

    /// Encodes as the text it was read from.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static let units: [(String, Double)] = [
        ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
    ]

    private static func parse(_ text: String) -> Duration? {
        if text.isEmpty || text == "0" { return .zero }
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        var seconds = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !$0.isNumber && $0 != "." }
            // The longest unit name that matches, so "ms" is not read as "m" followed by junk.
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            seconds += value * unit.1
        }
        let nanoseconds = (seconds * 1e9).rounded()
        guard nanoseconds.isFinite, nanoseconds < 9.2e18 else { return nil }
        return .nanoseconds(Int64(negative ? -nanoseconds : nanoseconds))
    }

    private static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds)s" }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}
