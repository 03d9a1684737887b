/// Why the listener cannot start: one line naming the key or file at fault.
public struct ListenerError: Error, CustomStringConvertible, Sendable {
    /// One line for the operator.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
