import AsyncHTTPClient
import Auth
import EtchaJSON
import Foundation
import NIOCore
import Testing

@testable import Agent
@testable import EtchaInstrumentation

/// Shell sessions over live HTTPS (docs/behaviour.md#7-shell-sessions): a scripted session,
/// refusals, limits, endings, and what they leave behind. Serialized: the clean-up test counts
/// terminals open in this process.
@Suite(.serialized) struct ShellTests {
    static let key = try! PrivateKey.generate(.ed25519, id: "operator")
    static let otherKey = try! PrivateKey.generate(.ed25519, id: "colleague")

    /// An agent trusting both keys, with `sources` (JSON members) and `run` extras.
    static func config(_ sources: String, run: String = "") -> String {
        """
        {"run": {"verifyKeys": ["\(key.publicKey)", "\(otherKey.publicKey)"], "systemMetricsKey": "m"\(run)},
         "httpServer": {"rateLimitRate": "1000-M"}, "sources": {\(sources)}}
        """
    }

    /// A shell request token.
    static func token(
        session: String? = nil, input: String = "", columns: Int = 0, rows: Int = 0, key: PrivateKey = key,
        iat: Int = Int(Date().timeIntervalSince1970), lifetime: Int = 10, jti: String? = UUID().uuidString
    ) throws -> String {
        var claims: [String: JSON] = [
            "iat": .number(Double(iat)), "nbf": .number(Double(iat)), "exp": .number(Double(iat + lifetime)),
            "c": .number(Double(columns)), "r": .number(Double(rows)),
        ]
        if !input.isEmpty { claims["s"] = .string(Data(input.utf8).base64EncodedString()) }
        if let session { claims["i"] = .string(session) }
        if let jti { claims["jti"] = .string(jti) }
        return try JWT.sign(claims, with: key)
    }

    @Test func aScriptedSessionRunsCommandsAndTheGaugeFollowsIt() async throws {
        try await withAgent(Self.config(#""debug": {"shell": "/bin/sh"}"#)) { agent, client in
            let shell = try await TestShell.open(client, agent, source: "debug")
            #expect(shell.id.count == 32 && shell.id.allSatisfy(\.isHexDigit))
            #expect(
                try await metric(client, agent).contains(
                    #"etcha_sources_shells{name="debug",public_key="operator",remote_addr="127.0.0.1"} 1"#))
            try await shell.send("echo hello-$((6*7))\n")
            _ = try await shell.output(until: "hello-42")
            try await shell.send("exit\n")
            try await shell.waitForEnd()
            try await eventually { agent.shells.count == 0 }
            #expect(
                try await metric(client, agent).contains(
                    #"etcha_sources_shells{name="debug",public_key="operator",remote_addr="127.0.0.1"} 0"#))
        }
    }

    @Test func resizingReachesTheTerminal() async throws {
        try await withAgent(Self.config(#""debug": {"shell": "/bin/sh"}"#)) { agent, client in
            let shell = try await TestShell.open(client, agent, source: "debug", columns: 120, rows: 50)
            try await shell.send("stty size\n")
            _ = try await shell.output(until: "50 120")
            try await shell.send("stty size\n", columns: 100, rows: 40)
            _ = try await shell.output(until: "40 100")
            try await shell.send("exit\n")
            try await shell.waitForEnd()
        }
    }

    @Test func refusalsAnswerLikeAnUnknownSource() async throws {
        let sources = #""debug": {"shell": "/bin/sh"}, "plain": {"allowPush": true}"#
        try await withAgent(Self.config(sources, run: #", "maxShells": 2"#)) { agent, client in
            func post(_ source: String, _ token: String) async throws -> Int {
                try await send(
                    client, agent.base + "/etcha/v1/shell/\(source)", method: .POST, body: ByteBuffer(string: token)
                ).status
            }
            let old = Int(Date().timeIntervalSince1970) - 600
            let stranger = try PrivateKey.generate(.ed25519, id: "operator")
            #expect(try await post("plain", try Self.token()) == 404)
            #expect(try await post("missing", try Self.token()) == 404)
            #expect(try await post("debug", try Self.token(iat: old)) == 404)
            #expect(try await post("debug", try Self.token(lifetime: 3600)) == 404)
            #expect(try await post("debug", try Self.token(key: stranger)) == 404)
            #expect(try await post("debug", "not a token") == 404)
            let unsigned =
                JWT.base64URL(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "."
                + JWT.base64URL(Array(#"{"c":80,"r":24}"#.utf8)) + "."
            #expect(try await post("debug", unsigned) == 404)

            let first = try await TestShell.open(client, agent, source: "debug")
            // Another trusted key cannot type into this session; an unknown id is not found either.
            #expect(
                try await post("debug", try Self.token(session: first.id, input: "touch /x\n", key: Self.otherKey))
                    == 404)
            #expect(
                try await post("debug", try Self.token(session: String(repeating: "0", count: 32), input: "x")) == 404)
            // A token with a jti is accepted once.
            let once = try Self.token(session: first.id, input: ":\n", jti: "replay-me")
            #expect(try await post("debug", once) == 200)
            #expect(try await post("debug", once) == 404)
            // 64 KiB of input per request at most.
            let big = try Self.token(session: first.id, input: String(repeating: "y", count: 64 * 1024 + 1))
            #expect(try await post("debug", big) == 413)

            let second = try await TestShell.open(client, agent, source: "debug")
            #expect(try await post("debug", try Self.token()) == 503)
            for shell in [first, second] {
                try await shell.send("exit\n")
                try await shell.waitForEnd()
            }
        }
    }

    @Test func aTimedOutShellIsGoneWithItsWholeSession() async throws {
        let marker = "\(Int.random(in: 100_000...999_999))"
        let sources = #""slow": {"shell": "/bin/sh -c 'sleep \#(marker) & sleep \#(marker)'"}"#
        try await withAgent(Self.config(sources, run: #", "timeoutShell": "2s""#)) { agent, client in
            let started = ContinuousClock.now
            let shell = try await TestShell.open(client, agent, source: "slow")
            try await eventually { processes(containing: "sleep\0\(marker)").count == 2 }
            try await shell.waitForEnd(within: .seconds(5))
            try await eventually { processes(containing: "sleep\0\(marker)").isEmpty }
            #expect(ContinuousClock.now - started < .seconds(3.5))
            // The session leaves the registry just after its stream ends, not before the client sees the end.
            try await eventually(within: .seconds(1)) { agent.shells.count == 0 }
        }
    }

    @Test(arguments: [true, false]) func closingTheStreamEndsTheShell(http2: Bool) async throws {
        let marker = "\(Int.random(in: 100_000...999_999))"
        try await withAgent(Self.config(#""slow": {"shell": "/bin/sleep \#(marker)"}"#), http2: http2) {
            agent, client in
            let reading = Task {
                let shell = try await TestShell.open(client, agent, source: "slow")
                try await shell.waitForEnd(within: .seconds(60))
            }
            try await eventually { processes(containing: "sleep\0\(marker)").count == 1 }
            reading.cancel()  // the client abandons the request: its stream (or connection) is closed
            try await eventually(within: .seconds(3)) {
                processes(containing: "sleep\0\(marker)").isEmpty && agent.shells.count == 0
            }
        }
    }

    @Test func aClientThatStopsReadingIsDisconnected() async throws {
        // The suite's agents give up on a stuck write after 3 s.
        try await withAgent(Self.config(#""noisy": {"shell": "/usr/bin/yes etcha-output-that-nobody-reads"}"#)) {
            agent, client in
            let shell = try await TestShell.open(client, agent, source: "noisy")
            _ = shell  // never read again
            try await eventually(within: .seconds(20)) { agent.shells.count == 0 }
            #expect(processes(containing: "etcha-output-that-nobody-reads").isEmpty)
        }
    }

    @Test func keepAlivesArriveWhileTheShellIsQuiet() async throws {
        try await withAgent(Self.config(#""quiet": {"shell": "/bin/sleep 60"}"#)) { agent, client in
            let shell = try await TestShell.open(client, agent, source: "quiet")
            let line = try await withTimeout(.seconds(12)) { try await shell.nextLine() }
            #expect(line?.hasPrefix("k") == true)
            #expect((line?.count ?? 0) > 1)
        }
    }

    @Test func openingFiresTheShellEventWithTheKeyAndClient() async throws {
        let dir = TemporaryDirectory()
        let sources = """
            "debug": {"shell": "/bin/sh"},
            "audit": {"eventsReceive": ["shell"], "triggerOnly": true, "commands": [{"id": "note", "always": true,
              "change": "echo \\"$ETCHA_EVENT_NAME $ETCHA_EVENT_PUBLIC_KEY $ETCHA_EVENT_SRC\\" > \(dir.path)/audit"}]}
            """
        try await withAgent(Self.config(sources)) { agent, client in
            let shell = try await TestShell.open(client, agent, source: "debug")
            try await eventually { dir.read("audit")?.hasSuffix("\n") == true }
            #expect(dir.read("audit") == "shell operator 127.0.0.1\n")
            try await shell.send("exit\n")
            try await shell.waitForEnd()
            let metrics = try await metric(client, agent)
            #expect(!metrics.contains(#"trigger="shell""#))
        }
    }

    @Test func twentyConcurrentSessionsLeaveNothingBehind() async throws {
        let source = "many\(Int.random(in: 1000...9999))"
        let config = Self.config(#""\#(source)": {"shell": "/bin/sh"}"#, run: #", "maxShells": 20"#)
        try await withAgent(config) { agent, client in
            #expect(openTerminals() == 0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let shell = try await TestShell.open(client, agent, source: source)
                        try await shell.send("echo session-\(index)-$((1+1))\n")
                        _ = try await shell.output(until: "session-\(index)-2")
                        try await shell.send("exit\n")
                        try await shell.waitForEnd()
                    }
                }
                try await group.waitForAll()
            }
            try await eventually { agent.shells.count == 0 && openTerminals() == 0 }
            #expect(processes(containing: "ETCHA_SOURCE_NAME=\(source)", file: "environ").isEmpty)
            let metrics = try await metric(client, agent)
            #expect(
                !metrics.split(separator: "\n").contains { $0.hasPrefix("etcha_sources_shells{") && $0.hasSuffix(" 1") }
            )
        }
    }
}

/// A session a test opened: its id and its stream, read line by line.
final class TestShell: @unchecked Sendable {
    let id: String
    private let client: HTTPClient
    private let url: String
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var buffer: [UInt8] = []
    private var decoded = ""

    private init(id: String, client: HTTPClient, url: String, iterator: HTTPClientResponse.Body.AsyncIterator) {
        self.id = id
        self.client = client
        self.url = url
        self.iterator = iterator
    }

    static func open(_ client: HTTPClient, _ agent: LiveAgent, source: String, columns: Int = 0, rows: Int = 0)
        async throws -> TestShell
    {
        let url = agent.base + "/etcha/v1/shell/\(source)"
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: try ShellTests.token(columns: columns, rows: rows)))
        let response = try await client.execute(request, timeout: .seconds(10))
        try #require(response.status == .ok)
        #expect(response.headers["Content-Type"].first == "text/event-stream")
        let shell = TestShell(id: "", client: client, url: url, iterator: response.body.makeAsyncIterator())
        let id = try #require(try await shell.nextLine())
        return TestShell(id: id, client: client, url: url, iterator: shell.iterator)
    }

    /// Types `text` (and resizes when both sizes are given).
    func send(_ text: String, columns: Int = 0, rows: Int = 0) async throws {
        let reply = try await postToken(
            client, url, token: try ShellTests.token(session: id, input: text, columns: columns, rows: rows))
        try #require(reply == 200)
    }

    /// The next line of the stream, nil at its end.
    func nextLine() async throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return line
            }
            guard let chunk = try await iterator.next() else { return nil }
            buffer.append(contentsOf: chunk.readableBytesView)
        }
    }

    /// Reads until the terminal's output contains `text`; returns the output so far.
    func output(until text: String, within limit: Duration = .seconds(10)) async throws -> String {
        try await withTimeout(limit) {
            while !self.decoded.contains(text) {
                guard let line = try await self.nextLine() else { throw ShellTestError("stream ended before \(text)") }
                if line.hasPrefix("o"), let bytes = Data(base64Encoded: String(line.dropFirst())) {
                    self.decoded += String(decoding: bytes, as: UTF8.self)
                }
            }
            return self.decoded
        }
    }

    /// Reads until the stream ends.
    func waitForEnd(within limit: Duration = .seconds(10)) async throws {
        try await withTimeout(limit) {
            while try await self.nextLine() != nil {}
        }
    }
}

struct ShellTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Posts one shell token and returns the status.
private func postToken(_ client: HTTPClient, _ url: String, token: String) async throws -> Int {
    try await send(client, url, method: .POST, body: ByteBuffer(string: token)).status
}

/// The agent's metrics text.
private func metric(_ client: HTTPClient, _ agent: LiveAgent) async throws -> String {
    try await send(client, agent.base + "/etcha/v1/system/metrics?key=m").text
}

/// Runs `body`, failing when it takes longer than `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let result = try await group.next(), let value = result else {
            throw ShellTestError("timed out after \(limit)")
        }
        return value
    }
}

/// Waits until `condition` holds, checking every 50 ms, failing after `limit`.
func eventually(within limit: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw ShellTestError("condition not met within \(limit)")
}

/// Processes (other than zombies) whose `/proc/PID/<file>` contains `text`.
func processes(containing text: String, file: String = "cmdline") -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        // readProcFile reads to the end: an environment runs past the first page of the file.
        guard pid != getpid(), !isNotRunning(pid), let content = ProcessCollector.readProcFile("/proc/\(pid)/\(file)")
        else { return false }
        return content.contains(text)
    }
}

/// Pseudo-terminal controllers this process has open.
func openTerminals() -> Int {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == "/dev/ptmx"
    }
    .count
}
