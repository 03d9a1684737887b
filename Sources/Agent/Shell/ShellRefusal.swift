/// Why a shell request is refused, and the status it answers with. The detail goes to the log only.
public struct ShellRefusal: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as the client sees it.
    public enum Code: Sendable {
        /// 404: unknown source, a source without `shell`, a token that does not verify, an unknown
        /// session or one opened by another key — indistinguishable on purpose.
        case notFound
        /// 503: `run.maxShells` sessions are open, or the terminal's input queue is full.
        case unavailable
        /// 413: more than 64 KiB of input in one request.
        case tooLarge
        /// 400: the claims are not what docs/behaviour.md#7-shell-sessions describes.
        case badRequest
        /// 500: the shell could not be started.
        case failed
    }

    /// The kind of refusal.
    public var code: Code
    /// The reason, for the log.
    public var detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }
}
