import AsyncHTTPClient
import Auth
import EtchaJSON
import Foundation
import NIOCore

/// The client side of shell sessions (`etcha shell`): opens a session on a host, hands what the
/// caller types to it as signed requests, and gives back what the terminal writes until the
/// session ends. Every request is a JWT signed with `build.signingKey` that expires 10 s after it is
/// made and carries a random `jti`, so the agent accepts it once.
///
///     try await ShellClient(config: config).run(source: "debug", host: "web1", insecure: false, size: (80, 24), input: keys) { bytes in print(bytes) }
public struct ShellClient: Sendable {
    /// Something to send: bytes typed (possibly none) and the terminal size now (0 x 0: unknown).
    public struct Keystrokes: Sendable {
        /// Bytes for the remote terminal.
        public var bytes: [UInt8]
        /// Columns, or 0.
        public var columns: UInt16
        /// Rows, or 0.
        public var rows: UInt16

        /// Makes keystrokes.
        public init(bytes: [UInt8], columns: UInt16, rows: UInt16) {
            self.bytes = bytes
            self.columns = columns
            self.rows = rows
        }
    }

    let config: Config
    let key: PrivateKey

    /// Lifetime of a request token.
    static let tokenLifetime = 10
    /// The longest line the agent's stream may send (its output lines are about 22 KiB).
    static let lineLimit = 1 << 20

    /// Makes a client signing with `config`'s `build.signingKey` (or `signingKeyPath`).
    public init(config: Config) throws(CommandError) {
        self.config = config
        key = try config.signingKey()
    }

    /// Runs one session on `host` (`HOST[:PORT]`, port 4000 unless given) for `source`, at `path`
    /// (a target's `pathShell`), over plain HTTP when `insecure` (a target's `insecure`): sends each
    /// element of `input` as it comes, passes output to `output`, and returns when the agent ends
    /// the stream (the shell exited, timed out, or was ended).
    public func run(
        source: String, host: String, insecure: Bool, path: String = "/etcha/v1/shell",
        size: (columns: UInt16, rows: UInt16), input: AsyncStream<Keystrokes>,
        output: @escaping @Sendable ([UInt8]) -> Void
    ) async throws {
        let client = try HTTPClient.agentClient(config: config, skipVerify: config.httpClient.tlsSkipVerify)
        do {
            try await session(
                client: client, url: PushClient.endpoint(host: host, insecure: insecure, path: path, source: source),
                size: size, input: input, output: output)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func session(
        client: HTTPClient, url: String, size: (columns: UInt16, rows: UInt16), input: AsyncStream<Keystrokes>,
        output: @escaping @Sendable ([UInt8]) -> Void
    ) async throws {
        var request = try self.request(url, Keystrokes(bytes: [], columns: size.columns, rows: size.rows), session: nil)
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await client.execute(request, timeout: .seconds(30))
        guard response.status == .ok else {
            throw ShellClientError(
                "the agent refused the shell: \(response.status.code) \(response.status.reasonPhrase)"
                    + (response.status == .notFound
                        ? " (unknown source, no shell on it, or the signing key is not one it trusts)" : ""))
        }
        var lines = LineReader(response.body.makeAsyncIterator())
        guard let id = try await lines.next(), !id.isEmpty else {
            throw ShellClientError("the agent closed the stream before naming the session")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await keystrokes in input {
                    let request = try self.request(url, keystrokes, session: id)
                    let answer = try await client.execute(request, timeout: .seconds(30))
                    _ = try? await answer.body.collect(upTo: 1 << 16)
                    // The session is gone (its stream ends too) or the agent refuses input: stop typing.
                    guard answer.status == .ok else { return }
                }
            }
            while let line = try await lines.next() {
                guard line.first == "o" else { continue }  // k: keep-alive
                if let bytes = Data(base64Encoded: String(line.dropFirst())) { output(Array(bytes)) }
            }
            group.cancelAll()
        }
    }

    private func request(_ url: String, _ keystrokes: Keystrokes, session: String?) throws -> HTTPClientRequest {
        let now = Int(Date().timeIntervalSince1970)
        var nonce = SystemRandomNumberGenerator()
        var claims: [String: JSON] = [
            "iat": .number(Double(now)), "nbf": .number(Double(now)),
            "exp": .number(Double(now + Self.tokenLifetime)),
            "jti": .string(String(nonce.next() as UInt64, radix: 16) + String(nonce.next() as UInt64, radix: 16)),
            "c": .number(Double(keystrokes.columns)), "r": .number(Double(keystrokes.rows)),
        ]
        if !keystrokes.bytes.isEmpty { claims["s"] = .string(Data(keystrokes.bytes).base64EncodedString()) }
        if let session { claims["i"] = .string(session) }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/jwt")
        request.body = .bytes(ByteBuffer(string: try JWT.sign(claims, with: key)))
        return request
    }
}

/// Splits a streamed body into `\n`-terminated lines.
private struct LineReader {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var buffer: [UInt8] = []

    init(_ iterator: HTTPClientResponse.Body.AsyncIterator) {
        self.iterator = iterator
    }

    /// The next line without its newline; nil at the end of the stream.
    mutating func next() async throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return line
            }
            guard buffer.count <= ShellClient.lineLimit else {
                throw ShellClientError("the agent sent a line longer than \(ShellClient.lineLimit) bytes")
            }
            guard let chunk = try await iterator.next() else { return nil }
            buffer.append(contentsOf: chunk.readableBytesView)
        }
    }
}

/// Why `etcha shell` could not run a session.
public struct ShellClientError: Error, CustomStringConvertible {
    /// One line.
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
