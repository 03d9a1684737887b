/// A pattern or command that cannot be used or run, with a message for the operator.
public struct CommandError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem it is, for code that reacts to it.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        /// The pattern or command is malformed (bad key, bad type, bad target).
        public static let invalid = Code(name: "invalid")
        /// The command could not be started.
        public static let spawnFailed = Code(name: "spawnFailed")
        /// Jsonnet could not render the pattern.
        public static let render = Code(name: "render")
        /// The node itself cannot do it now (no descriptor or memory left, a library it cannot load):
        /// not the pattern's fault.
        public static let unavailable = Code(name: "unavailable")
        /// The code's name.
        public var description: String { name }
    }

    /// What kind of problem it is.
    public var code: Code
    /// One line for the operator.
    public var description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
