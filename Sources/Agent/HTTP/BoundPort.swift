import NIOConcurrencyHelpers

/// The port the server bound, handed from the server's start-up callback to whoever asks.
final class BoundPort: Sendable {
    private let port = NIOLockedValueBox<Int?>(nil)
    private let stream = AsyncStream<Int>.makeStream(bufferingPolicy: .bufferingNewest(1))

    func set(_ value: Int) {
        port.withLockedValue { $0 = value }
        stream.continuation.yield(value)
    }

    func value() async -> Int? {
        if let known = port.withLockedValue({ $0 }) { return known }
        for await value in stream.stream { return value }
        return nil
    }
}
