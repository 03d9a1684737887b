import EtchaCore
import EtchaInstrumentation

/// One request to run a source's pattern: what triggered it, and in what mode.
public struct RunRequest: Sendable {
    /// What triggered the run (the `trigger` label and `ETCHA_SOURCE_TRIGGER`).
    public var trigger: Trigger
    /// Check mode instead of change (push `?check`); a `checkOnly` source always checks.
    public var checkOnly = false
    /// Extra `ETCHA_*` variables for every step (event and webhook details).
    public var environment: [String: String] = [:]
    /// The verifying key's id, for metrics.
    public var publicKey = ""
    /// The client address, for metrics.
    public var remoteAddr = ""
    /// Runs only the commands under matching parents (push `?filter`).
    public var filter: ParentFilter?

    /// Makes a request.
    public init(
        trigger: Trigger, checkOnly: Bool = false, environment: [String: String] = [:],
        publicKey: String = "", remoteAddr: String = "", filter: ParentFilter? = nil
    ) {
        self.filter = filter
        self.trigger = trigger
        self.checkOnly = checkOnly
        self.environment = environment
        self.publicKey = publicKey
        self.remoteAddr = remoteAddr
    }
}
