/// Why a source could not run a request.
public struct SourceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of refusal it is.
    public struct Code: Hashable, Sendable {
        private let name: String
        /// No such source (or, to a client, a source it may not know about).
        public static let unknownSource = Code(name: "unknownSource")
        /// Too many runs are already waiting; try again later (HTTP 503).
        public static let queueFull = Code(name: "queueFull")
        /// The pattern cannot be rendered or its exec chain is refused.
        public static let invalidPattern = Code(name: "invalidPattern")
        /// The token does not verify (to a client: like an unknown source).
        public static let unverified = Code(name: "unverified")
        /// The token is older than the one held (anti-rollback, HTTP 409).
        public static let stale = Code(name: "stale")
        /// The node cannot render or run it now, through no fault of the token (HTTP 503).
        public static let unavailable = Code(name: "unavailable")
    }

    /// What kind of refusal it is.
    public var code: Code
    /// One line for the log.
    public var description: String

    init(_ code: Code, source: String, detail: String = "") {
        self.code = code
        switch code {
        case .queueFull: description = "source \(source): run queue is full; refusing the run"
        case .unknownSource: description = "source \(source): no such source"
        default: description = "source \(source): \(detail)"
        }
    }
}
