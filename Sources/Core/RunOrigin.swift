/// Who caused a run: the source, the trigger, the id of the key that verified the running pattern
/// (empty for static commands) and the client address (empty for runs that no client caused:
/// pull, init, timers).
public struct RunOrigin: Sendable, Hashable {
    /// The source's name.
    public var source: String
    /// What started the run.
    public var trigger: Trigger
    /// The id (KID) of the key that verified the running pattern, or empty.
    public var publicKey: String
    /// The client address for push and webhook runs, or empty.
    public var remoteAddr: String

    /// Makes an origin; `publicKey` and `remoteAddr` default to empty.
    public init(source: String, trigger: Trigger, publicKey: String = "", remoteAddr: String = "") {
        self.source = source
        self.trigger = trigger
        self.publicKey = publicKey
        self.remoteAddr = remoteAddr
    }
}
