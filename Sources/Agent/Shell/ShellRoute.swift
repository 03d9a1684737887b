import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// `POST /etcha/v1/shell/SOURCE` (docs/behaviour.md#7-shell-sessions). The first request of a
/// session answers `text/event-stream`: the session id on the first line, then `o<base64>` output
/// lines and `k<random>` keep-alive lines every 1–10 s. Later requests answer 200 with no body once
/// their input is queued. Refusals: 404 (see ``ShellRefusal/Code/notFound``), 503, 413, 400, 500.
struct ShellRoute: Sendable {
    let shells: ShellSessions
    let identity: ClientIdentity
    let readiness: Readiness
    /// The smaller of `httpServer.maxBodyBytes` and what 64 KiB of input needs once signed.
    let bodyLimit: BodyLimit

    init(shells: ShellSessions, bodyLimit: BodyLimit, identity: ClientIdentity, readiness: Readiness) {
        self.shells = shells
        self.identity = identity
        self.readiness = readiness
        self.bodyLimit = BodyLimit(maxBytes: min(bodyLimit.maxBytes, 128 * 1024))
    }

    func add(to router: Router<AgentRequestContext>) {
        router.post("/etcha/v1/shell/:source") { request, context in try await self.shell(request, context: context) }
    }

    func shell(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard readiness.isReady else { throw HTTPError(.serviceUnavailable) }
        let name = context.parameters.get("source") ?? ""
        let body = try await bodyLimit.collect(request)
        let token = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        let session: ShellSession?
        do {
            let client = identity.client(of: request, peerAddress: context.peerAddress)
            session = try await offTheEventLoop { () throws(ShellRefusal) in
                try shells.handle(name, token: token, remoteAddr: client)
            }
        } catch {
            context.logger.warning("shell refused", metadata: ["source": "\(name)", "reason": "\(error)"])
            switch error.code {
            case .notFound: throw HTTPError(.notFound)
            case .unavailable: throw HTTPError(.serviceUnavailable)
            case .tooLarge: throw HTTPError(.contentTooLarge)
            case .badRequest: throw HTTPError(.badRequest)
            case .failed: throw HTTPError(.internalServerError)
            }
        }
        guard let session else { return Response(status: .ok) }
        let channel = context.channel
        channel.closeFuture.whenComplete { _ in session.end("the client went away") }
        let stallLimit = shells.stallLimit
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                let progress = WriteProgress()
                do {
                    try await writer.write(ByteBuffer(string: session.id + "\n"))
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            await Self.watch(session, progress: progress, stallLimit: stallLimit, channel: channel)
                        }
                        stream: for await item in session.output {
                            let line: String
                            switch item {
                            case .output(let bytes): line = "o" + Data(bytes).base64EncodedString() + "\n"
                            case .keepAlive: line = "k" + Self.randomText() + "\n"
                            case .ended: break stream
                            }
                            progress.started()
                            try await writer.write(ByteBuffer(string: line))
                            progress.finished()
                            if case .output = item { session.consumed() }
                        }
                        group.cancelAll()
                    }
                    try await writer.finish(nil)
                } catch {
                    session.end("the client went away")
                    throw error
                }
            })
    }

    /// Asks for keep-alive lines at random intervals of 1–10 s, and ends the session (closing the
    /// connection) when a write has been stuck longer than `stallLimit`: the client stopped reading.
    private static func watch(_ session: ShellSession, progress: WriteProgress, stallLimit: Duration, channel: Channel)
        async
    {
        var nextKeepAlive = ContinuousClock.now + .seconds(Int.random(in: 1...10))
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .milliseconds(250))
            } catch {
                return
            }
            if ContinuousClock.now >= nextKeepAlive {
                session.keepAlive()
                nextKeepAlive = .now + .seconds(Int.random(in: 1...10))
            }
            if let since = progress.stuckSince, ContinuousClock.now - since > stallLimit {
                session.end("the client stopped reading")
                channel.close(promise: nil)
                return
            }
        }
    }

    /// 8–24 random letters and digits: keep-alive lines vary in length like output lines do.
    private static func randomText() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<Int.random(in: 8...24)).map { _ in alphabet.randomElement()! })
    }
}

/// When the write in progress began, if one is.
private final class WriteProgress: Sendable {
    private let since = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    func started() { since.withLockedValue { $0 = .now } }
    func finished() { since.withLockedValue { $0 = nil } }
    var stuckSince: ContinuousClock.Instant? { since.withLockedValue { $0 } }
}
