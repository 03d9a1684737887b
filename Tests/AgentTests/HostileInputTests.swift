import AsyncHTTPClient
import Auth
import Foundation
import NIOCore
import Testing

@testable import Agent

/// Hostile input against a live agent: each case checks the answer and that nothing ran (every
/// source here writes a file when it runs).
@Suite struct HostileInputTests {
    /// An agent whose every way of running something leaves a file in `dir`.
    static func config(_ dir: TemporaryDirectory, extra: String = "") -> String {
        """
        {"run": {"systemMetricsKey": "k", "verifyKeys": ["\(tutorialPublicKey)"]\(extra)},
         "sources": {
           "web": {"allowPush": true, "triggerOnly": true},
           "hook": {"triggerOnly": true, "webhookPaths": ["/hook"], "commands": [
             {"id": "h", "always": true, "change": "touch \(dir.path)/ran-hook; printf %s \\"$ETCHA_WEBHOOK_BODY\\"", "onChange": ["etcha:webhookBody"]}]}}}
        """
    }

    /// Sends `request` (Python bytes literal syntax) over TLS and returns the answer's status line, or
    /// `closed` when the agent closed the connection without one.
    static func raw(_ port: Int, _ request: String) async throws -> String {
        try await shell(
            """
            python3 -c '
            import socket, ssl
            context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
            tls = context.wrap_socket(socket.create_connection(("127.0.0.1", \(port))))
            tls.settimeout(5)
            try:
                tls.sendall(\(request))
                answer = tls.recv(4096)
            except (ConnectionError, ssl.SSLError) as error:
                answer = b""
            print(answer.split(b"\\r\\n")[0].decode() if answer else "closed")
            '
            """
        ).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func malformedRequestsAreRefusedAndRunNothing() async throws {
        let dir = TemporaryDirectory()
        let agent = try await LiveAgent.start(Self.config(dir))
        defer { Task { await agent.stop() } }
        let port = agent.port
        for request in [
            #"b"GARBAGE\r\n\r\n""#,
            #"b"POST /hook HTTP/9.9\r\nHost: x\r\n\r\n""#,
            #"b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n""#,
            #"b"POST /hook HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(5000)) + b"\r\n""#,
            #"b"POST /hook HTTP/1.1\r\nHost: x\r\nX-A: v\rETCHA_WEBHOOK_BODY: x\r\n\r\n""#,
            #"b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello""#,
            #"b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n""#,
        ] {
            let answer = try await Self.raw(port, request)
            #expect(answer == "closed" || answer.hasPrefix("HTTP/1.1 4"), "\(request): \(answer)")
        }
        #expect(!dir.exists("ran-hook"))
    }

    @Test func headersCannotInjectEnvironmentAndBodiesArriveExactly() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config(dir), http2: false) { agent, client in
            // A header whose value holds what looks like another variable stays inside HEADERS.
            let body = ByteBuffer(bytes: [0xff, 0xfe, 0x00, 0x80, 0x0a, 0xc3, 0x28])  // not UTF-8
            let reply = try await send(
                client, agent.base + "/hook", method: .POST,
                headers: [("X-Note", "ETCHA_WEBHOOK_BODY=aW5qZWN0ZWQ= ETCHA_SOURCE_NAME=evil")], body: body)
            #expect(reply.status == 200)
            #expect(Data(base64Encoded: reply.text) == Data([0xff, 0xfe, 0x00, 0x80, 0x0a, 0xc3, 0x28]))
        }
    }

    @Test func traversalInSourceNamesFindsNothing() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config(dir), http2: false) { agent, client in
            let token = try PushTests.token("[{id: 'x', always: true, change: 'touch \(dir.path)/ran-push'}]")
            for path in [
                "/etcha/v1/push/..%2f..%2fetc", "/etcha/v1/push/..%2Fweb", "/etcha/v1/push/web%2f..%2f..%2fpasswd",
                "/etcha/v1/push/%2e%2e", "/etcha/v1/push/web%00", "/etcha/v1/shell/..%2fweb",
            ] {
                let status = try await send(client, agent.base + path, method: .POST, body: ByteBuffer(string: token))
                    .status
                #expect(status == 404, "\(path)")
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            #expect(!files.contains("ran-push"))
            #expect(files.allSatisfy { !$0.hasSuffix(".jwt") }, "\(files)")
        }
    }

    @Test func nonUTF8AndJunkTokensAreUnknownSources() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config(dir)) { agent, client in
            for body in [
                ByteBuffer(bytes: [0xff, 0xfe, 0xfd]), ByteBuffer(string: "a.b.c"), ByteBuffer(string: ".."),
                ByteBuffer(string: String(repeating: "e", count: 100_000)), ByteBuffer(),
            ] {
                let status = try await send(client, agent.base + "/etcha/v1/push/web", method: .POST, body: body)
                    .status
                #expect(status == 404)
            }
            #expect(agent.agent.sources["web"]?.signed == nil)
        }
    }

    @Test func bruteForceOnPushAndShellIsLimitedPerAddress() async throws {
        let dir = TemporaryDirectory()
        let agent = try await LiveAgent.start(
            Self.config(dir).replacingOccurrences(of: #""web": {"#, with: #""web": {"shell": "/bin/sh", "#),
            overrides: ["httpServer_listenAddress=0.0.0.0:0", "httpServer_rateLimitRate=10-M"])
        defer { Task { await agent.stop() } }
        let base = "https://127.0.0.1:\(agent.port)"
        let stranger = try PushTests.token(
            "[{id: 'x', always: true, change: 'touch \(dir.path)/ran-push'}]",
            key: try PrivateKey.generate(.ed25519, id: "reqYEklgP4").keyString)
        let tokenFile = dir.write("stranger.jwt", stranger)
        func post(_ path: String, from address: String) async throws -> String {
            try await shell(
                "curl -sk -o /dev/null -w '%{http_code}' --interface \(address) --data-binary @\(tokenFile) '\(base)\(path)'"
            ).output
        }
        for index in 0..<10 {
            #expect(
                try await post(index % 2 == 0 ? "/etcha/v1/push/web" : "/etcha/v1/shell/web", from: "127.0.0.1")
                    == "404")
        }
        #expect(try await post("/etcha/v1/push/web", from: "127.0.0.1") == "429")
        #expect(try await post("/etcha/v1/shell/web", from: "127.0.0.1") == "429")
        // Another address still gets an answer (and is refused for its own reason).
        #expect(try await post("/etcha/v1/push/web", from: "127.0.0.2") == "404")
        #expect(!dir.exists("ran-push"))
    }
}

/// Slowloris: many connections trickling a request head must not slow anyone else, and are cut off
/// by the header deadline.
@Suite struct SlowClientTests {
    @Test func fiveHundredTricklingConnectionsNeitherSlowScrapesNorStayOpen() async throws {
        let dir = TemporaryDirectory()
        let agent = try await LiveAgent.start(
            #"{"run": {"systemMetricsKey": "k"}, "httpServer": {"headerTimeout": "2s", "maxConnectionsPerClient": 1000}}"#
        )
        defer { Task { await agent.stop() } }
        let report = dir.path + "/report"
        let trickle = Task.detached {
            try await shell(
                """
                timeout 120 python3 -c '
                import socket, ssl, time
                context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
                connections, closed = [], set()
                for index in range(500):
                    try:
                        connections.append(context.wrap_socket(socket.create_connection(("127.0.0.1", \(agent.port)))))
                    except OSError:
                        # cut off by the deadline before its handshake ended (a sanitized build under load)
                        connections.append(None); closed.add(index)
                open("\(report)", "w").write("open\\n")
                head = b"GET /etcha/v1/system/health HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: " + b"a" * 20
                for second in range(6):
                    for index, connection in enumerate(connections):
                        if index in closed: continue
                        try: connection.send(head[second:second + 1])
                        except OSError: closed.add(index)
                    time.sleep(1)
                for index, connection in enumerate(connections):
                    if index in closed: continue
                    connection.settimeout(0.05)
                    try:
                        if connection.recv(16) == b"": closed.add(index)
                    except socket.timeout: pass
                    except OSError: closed.add(index)
                open("\(report)", "a").write("closed %d\\n" % len(closed))
                '
                """)
        }
        // Once every connection is open and trickling, scrapes from another client answer at once.
        // (Under ThreadSanitizer 500 handshakes take over 30 s on 2 cores, so the wait is long.)
        for _ in 0..<1800 where dir.read("report") == nil { try await Task.sleep(for: .milliseconds(50)) }
        try #require(dir.read("report") == "open\n")
        var latencies: [Duration] = []
        let client = try makeClient()
        defer { _ = client.shutdown() }  // on every way out: a client dropped unshut stops the process
        for _ in 0..<20 {
            let started = ContinuousClock.now
            #expect(try await send(client, agent.base + "/etcha/v1/system/metrics?key=k").status == 200)
            latencies.append(ContinuousClock.now - started)
            try await Task.sleep(for: .milliseconds(100))
        }
        let finished = try await trickle.value
        #expect(finished.status == 0, "\(finished.output)")
        #expect(dir.read("report") == "open\nclosed 500\n")
        latencies.sort()
        // The median scrape is fast; the slowest is bounded (a loaded CI machine runs other suites too).
        // Under a sanitizer (make sanitize sets ETCHA_SANITIZED) every handshake costs several times
        // more, so only the answers are checked there, not their timing.
        if ProcessInfo.processInfo.environment["ETCHA_SANITIZED"] == nil {
            #expect(latencies[latencies.count / 2] < .milliseconds(100), "\(latencies)")
            #expect(latencies.last! < .seconds(1), "\(latencies)")
        }
        print("slowloris scrape latencies:", latencies.map { $0.components.attoseconds / 1_000_000_000_000 })
    }
}
