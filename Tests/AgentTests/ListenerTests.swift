import AsyncHTTPClient
import Auth
import CompressNIO
import EtchaInstrumentation
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

@testable import Agent

/// The HTTPS listener, live on a loopback port: every status from the condition that causes it.
@Suite(.serialized) struct ListenerTests {
    static let metricsPath = "/etcha/v1/system/metrics"

    /// Runs `body` with `client`, shutting the client down whatever happens.
    private func with(_ client: HTTPClient, _ body: (HTTPClient) async throws -> Void) async throws {
        do {
            try await body(client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// Over HTTP/1.1 a successful scrape is answered by ``ScrapeFastPath``, over HTTP/2 by the router.
    @Test(arguments: [true, false]) func metricsNeedTheKey(http2: Bool) async throws {
        try await withAgent(#"{"run": {"systemMetricsKey": "s3cret"}}"#, http2: http2) { (agent, client) async throws in
            let url = agent.base + Self.metricsPath
            #expect(try await send(client, url).status == 403)
            #expect(try await send(client, url + "?key=wrong").status == 403)
            #expect(try await send(client, url, headers: [("Authorization", "Bearer nope")]).status == 403)
            let byQuery = try await send(client, url + "?key=s3cret")
            #expect(byQuery.status == 200)
            #expect(byQuery.headers["Content-Type"].first == "text/plain; version=0.0.4; charset=utf-8")
            #expect(byQuery.text.contains("etcha_build_info{version=\"test\"} 1.0"))
            #expect(try await send(client, url, headers: [("Authorization", "Bearer s3cret")]).status == 200)
        }
    }

    @Test func metricsAreNotFoundWithoutAKey() async throws {
        try await withAgent() { (agent, client) async throws in
            #expect(try await send(client, agent.base + Self.metricsPath + "?key=").status == 404)
            #expect(try await send(client, agent.base + "/etcha/v1/system/health").text == "ok\n")
        }
    }

    @Test func answersCarryTheDateInIMFFixdate() async throws {
        // RFC 9110's own example, and the epoch (single-digit fields padded).
        #expect(HTTPDate.format(secondsSinceEpoch: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(secondsSinceEpoch: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        try await withAgent() { (agent, client) async throws in
            let before = Int(Date().timeIntervalSince1970)
            let answer = try await send(client, agent.base + "/etcha/v1/system/health")
            let after = Int(Date().timeIntervalSince1970)
            let date = try #require(answer.headers["Date"].first)
            #expect((before...after).map { HTTPDate.format(secondsSinceEpoch: $0) }.contains(date))
        }
    }

    @Test(arguments: [true, false]) func gzipDecompressesToTheSameExposition(http2: Bool) async throws {
        try await withAgent(#"{"run": {"systemMetricsKey": "k"}}"#, http2: http2) { (agent, client) async throws in
            let url = agent.base + Self.metricsPath + "?key=k"
            let plain = try await send(client, url)
            var zipped = try await send(client, url, headers: [("Accept-Encoding", "gzip")])
            #expect(zipped.headers["Content-Encoding"].first == "gzip")
            let unzipped = String(buffer: try zipped.body.decompress(with: .gzip()))
            // Process metrics move between two scrapes; the etcha families must be identical.
            func etcha(_ text: String) -> [Substring] { text.split(separator: "\n").filter { $0.contains("etcha_") } }
            #expect(!etcha(unzipped).isEmpty)
            #expect(etcha(unzipped) == etcha(plain.text))
        }
    }

    private static let webhookConfig = """
        {"run": {"systemMetricsKey": "k"}, "sources": {
          "b-answers": {"webhookPaths": ["/hook"], "triggerOnly": true, "commands": [
             {"id": "env", "always": true, "change": "echo \\"$ETCHA_WEBHOOK_METHOD|$ETCHA_WEBHOOK_PATH|$ETCHA_WEBHOOK_QUERY|$ETCHA_WEBHOOK_BODY|$ETCHA_SOURCE_NAME|$ETCHA_SOURCE_TRIGGER\\"; printf '%s' \\"$ETCHA_WEBHOOK_HEADERS\\" > \\"$DIR/headers\\"", "onChange": ["etcha:webhookBody"]},
             {"id": "type", "always": true, "change": "echo application/x-test", "onChange": ["etcha:webhookContentType"]}]},
          "a-silent": {"webhookPaths": ["/hook", "/nobody"], "triggerOnly": true, "commands": [
             {"id": "a", "always": true, "change": "echo a >> \\"$DIR/order\\""}]}
        }}
        """

    @Test func webhooksSeeTheRequestExactlyAndFallThroughAlphabetically() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(
            Self.webhookConfig, overrides: [#"exec_env={"DIR": "\#(dir.path)"}"#], dir: dir, http2: false
        ) { (agent, client) async throws in
            let body: [UInt8] = [0, 1, 2, 255, 0x41]
            let reply = try await send(
                client, agent.base + "/hook?b=2&a=%20x", method: .PUT,
                headers: [("X-Zeta", "last"), ("X-Alpha", "first, second"), ("x-lower-CASE", "v")],
                body: ByteBuffer(bytes: body))
            #expect(reply.status == 200)
            #expect(reply.headers["Content-Type"].first == "application/x-test")
            #expect(reply.text == "PUT|/hook|a=+x&b=2|\(Data(body).base64EncodedString())|b-answers|webhook\n")
            #expect(dir.read("order") == "a\n")
            let headers = try #require(dir.read("headers")).split(separator: "\n").map(String.init)
            #expect(headers == headers.sorted())
            #expect(headers.contains("X-Alpha: first, second"))
            #expect(headers.contains("X-Zeta: last"))
            #expect(headers.contains("Content-Length: 5"))
            #expect(headers.contains("X-Lower-Case: v"))
            // Like Go's net/http, which Etcha uses, the host is not a header (HTTP/2 has no Host at all).

            // No source answers: 404, but the silent source still ran.
            #expect(try await send(client, agent.base + "/nobody", method: .POST).status == 404)
            #expect(dir.read("order") == "a\na\n")
            #expect(try await send(client, agent.base + "/unknown").status == 404)

            let metrics = try await send(client, agent.base + Self.metricsPath + "?key=k").text
            #expect(
                metrics.contains(
                    #"etcha_sources_total{error="0",name="b-answers",public_key="",remote_addr="127.0.0.1",trigger="webhook"} 1"#
                ))
            #expect(
                metrics.contains(
                    #"etcha_sources_total{error="0",name="a-silent",public_key="",remote_addr="127.0.0.1",trigger="webhook"} 2"#
                ))
            #expect(
                metrics.contains(
                    #"etcha_commands_total{error="0",id="env",mode="change",parent_id="",public_key="",remote_addr="127.0.0.1",source="b-answers"} 1"#
                ))
            // The live body passes promtool's linter with no findings.
            let file = dir.write("scrape.txt", metrics)
            let lint = try await shell("promtool check metrics < \(file)")
            #expect(lint.status == 0)
            #expect(lint.output == "")
        }
    }

    @Test func webhookSecretsAreCheckedBeforeAnythingRuns() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(
            """
            {"sources": {"signed": {"webhookPaths": ["/signed"], "webhookSecret": "hush", "triggerOnly": true, "commands": [
               {"id": "s", "always": true, "change": "touch \(dir.path)/ran; echo ok", "onChange": ["etcha:webhookBody"]}]}}}
            """, dir: dir
        ) { (agent, client) async throws in
            let body = ByteBuffer(string: #"{"ref": "main"}"#)
            let url = agent.base + "/signed"
            #expect(try await send(client, url, method: .POST, body: body).status == 401)
            let wrong = WebhookSignature.sign(body: Array("other".utf8), secret: "hush")
            #expect(
                try await send(client, url, method: .POST, headers: [("X-Hub-Signature-256", wrong)], body: body).status
                    == 401)
            let otherSecret = WebhookSignature.sign(body: body.readableBytesView, secret: "nope")
            #expect(
                try await send(client, url, method: .POST, headers: [("X-Hub-Signature-256", otherSecret)], body: body)
                    .status == 401)
            #expect(!dir.exists("ran"))
            let good = WebhookSignature.sign(body: body.readableBytesView, secret: "hush")
            let reply = try await send(client, url, method: .POST, headers: [("X-Hub-Signature-256", good)], body: body)
            #expect(reply.status == 200)
            #expect(reply.text == "ok\n")
            #expect(dir.exists("ran"))
        }
    }

    @Test func oversizedBodiesAreRefusedWith413() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(
            """
            {"httpServer": {"maxBodyBytes": 1024}, "sources": {"s": {"webhookPaths": ["/up"], "triggerOnly": true, "commands": [
               {"id": "s", "always": true, "change": "touch \(dir.path)/ran", "onChange": ["etcha:webhookBody"]}]}}}
            """, dir: dir, http2: false
        ) { (agent, client) async throws in
            let big = ByteBuffer(repeating: 0x61, count: 4096)
            #expect(try await send(client, agent.base + "/up", method: .POST, body: big).status == 413)
            // Chunked (no Content-Length): refused once the limit is passed.
            var request = HTTPClientRequest(url: agent.base + "/up")
            request.method = .POST
            let chunks = AsyncStream<ByteBuffer> { continuation in
                for _ in 0..<8 { continuation.yield(ByteBuffer(repeating: 0x62, count: 512)) }
                continuation.finish()
            }
            request.body = .stream(chunks, length: .unknown)
            let chunked = try? await client.execute(request, timeout: .seconds(10))
            #expect(chunked == nil || chunked?.status == .payloadTooLarge)
            #expect(!dir.exists("ran"))
            #expect(
                try await send(client, agent.base + "/up", method: .POST, body: ByteBuffer(string: "small")).status
                    == 200)
        }
    }

    @Test func webhookBodiesStopWhereACommandCouldStillReceiveThem() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(
            """
            {"sources": {"s": {"webhookPaths": ["/up"], "triggerOnly": true, "commands": [
               {"id": "s", "always": true, "change": "printf %s \\"$ETCHA_WEBHOOK_BODY\\" | base64 -d | wc -c", "onChange": ["etcha:webhookBody"]}]}}}
            """, dir: dir
        ) { (agent, client) async throws in
            let largest = try await send(
                client, agent.base + "/up", method: .POST,
                body: ByteBuffer(repeating: 0x61, count: WebhookMiddleware.maximumBody))
            #expect(largest.status == 200)
            #expect(largest.text.trimmingCharacters(in: .whitespacesAndNewlines) == "\(WebhookMiddleware.maximumBody)")
            let over = ByteBuffer(repeating: 0x61, count: WebhookMiddleware.maximumBody + 1)
            #expect(try await send(client, agent.base + "/up", method: .POST, body: over).status == 413)
        }
    }

    /// A run that fails is the node's failure, not the client's: its 5xx answers do not count
    /// toward the client's failure limit (2 a minute here).
    @Test func webhookRunFailuresAnswer500AndDoNotCountAgainstTheClient() async throws {
        try await withAgent(
            #"{"httpServer": {"rateLimitRate": "2-M"}, "sources": {"hook": {"triggerOnly": true, "webhookPaths": ["/fail"], "commands": [{"id": "f", "always": true, "change": "exit 3"}]}}}"#
        ) { (agent, client) async throws in
            for _ in 0..<5 {
                let reply = try await send(client, agent.base + "/fail")
                #expect(reply.status == 500)
                #expect(reply.text.contains("webhook run failed"), "\(reply.text)")
            }
        }
    }

    @Test(arguments: [true, false]) func failuresAreLimitedPerClient(http2: Bool) async throws {
        try await withAgent(
            #"{"run": {"systemMetricsKey": "k"}, "httpServer": {"trustedProxies": ["127.0.0.1"]}}"#, http2: http2
        ) { (agent, client) async throws in
            let url = agent.base + Self.metricsPath + "?key=bad"
            for _ in 0..<10 {
                #expect(try await send(client, url, headers: [("X-Forwarded-For", "10.0.0.1")]).status == 403)
            }
            let limited = try await send(client, url, headers: [("X-Forwarded-For", "10.0.0.1")])
            #expect(limited.status == 429)
            let retry = try #require(limited.headers["Retry-After"].first.flatMap(Int.init))
            #expect((1...60).contains(retry))
            // Even the right key waits out the window; another client is unaffected.
            #expect(
                try await send(
                    client, agent.base + Self.metricsPath + "?key=k", headers: [("X-Forwarded-For", "10.0.0.1")]
                ).status == 429)
            #expect(
                try await send(
                    client, agent.base + Self.metricsPath + "?key=k", headers: [("X-Forwarded-For", "10.0.0.2")]
                ).status == 200)
            // 404s off /etcha/ are not failures.
            for _ in 0..<12 {
                #expect(
                    try await send(client, agent.base + "/nothing", headers: [("X-Forwarded-For", "10.0.0.3")]).status
                        == 404)
            }
        }
    }

    @Test func http1ScrapesAreAnsweredOnTheEventLoopAsTheRouterWould() async throws {
        try await withAgent(#"{"run": {"systemMetricsKey": "k"}}"#, http2: false) { (agent, http1) async throws in
            let http2 = try makeClient(http2: true)
            defer { _ = http2.shutdown() }
            let url = agent.base + Self.metricsPath + "?key=k"
            let before = agent.listener.eventLoopScrapes.current
            let fast = try await send(http1, url)
            let routed = try await send(http2, url)
            #expect(fast.version == .http1_1 && routed.version == .http2)
            #expect(agent.listener.eventLoopScrapes.current == before + 1)
            // The same answer: the same header fields in the same order, the same families. The date
            // and the length may differ (the process metrics are read at each scrape), so each reply's
            // length is checked against its own body.
            func fields(_ reply: Reply) -> [String] {
                reply.headers.map { field in
                    let name = field.name.lowercased()
                    return name == "date" || name == "content-length" ? name : "\(name): \(field.value)"
                }
            }
            #expect(fields(fast) == fields(routed))
            for reply in [fast, routed] {
                #expect(reply.headers["Content-Length"].first == String(reply.body.readableBytes))
            }
            func etcha(_ reply: Reply) -> [Substring] {
                reply.text.split(separator: "\n").filter { $0.contains("etcha_") }
            }
            #expect(!etcha(fast).isEmpty && etcha(fast) == etcha(routed))
            // What the handler leaves to the router: a wrong key, another method, a body.
            #expect(try await send(http1, agent.base + Self.metricsPath + "?key=bad").status == 403)
            _ = try await send(http1, url, method: .HEAD)
            #expect(try await send(http1, url, method: .POST).status == 404)
            #expect(agent.listener.eventLoopScrapes.current == before + 1)
        }
    }

    /// A scrape pipelined behind a request still being answered waits for it (HTTP/1.1 answers go in
    /// request order), and a keep-alive connection that only scrapes keeps its idle timeout.
    @Test func pipelinedAndIdleScrapesKeepHTTP1Rules() async throws {
        let dir = TemporaryDirectory()
        let agent = try await LiveAgent.start(
            """
            {"run": {"systemMetricsKey": "k"}, "httpServer": {"idleTimeout": "3s"}, "sources": {
              "slow": {"triggerOnly": true, "webhookPaths": ["/slow"], "commands": [
                {"id": "s", "always": true, "change": "sleep 0.3; echo slow-answer", "onChange": ["etcha:webhookBody"]}]}}}
            """, dir: dir)
        defer { Task { await agent.stop() } }
        let before = agent.listener.eventLoopScrapes.current
        let client = dir.write(
            "client.py",
            #"""
            import socket, ssl, time
            context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
            def connect():
                tls = context.wrap_socket(socket.create_connection(("127.0.0.1", \#(agent.port))))
                tls.settimeout(5)
                return tls
            def answers(tls, count):
                data, found = b"", []
                while len(found) < count:
                    while b"\r\n\r\n" not in data:
                        chunk = tls.recv(65536)
                        if not chunk: return found
                        data += chunk
                    head, data = data.split(b"\r\n\r\n", 1)
                    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")][0]
                    while len(data) < length:
                        data += tls.recv(65536)
                    found.append((head.split(b"\r\n")[0], data[:length]))
                    data = data[length:]
                return found
            scrape = b"GET \#(Self.metricsPath)?key=k HTTP/1.1\r\nHost: x\r\n\r\n"
            tls = connect()
            tls.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + scrape)
            found = answers(tls, 2)
            ordered = len(found) == 2 and found[0][1] == b"slow-answer\n" and b"etcha_build_info" in found[1][1]
            print("ordered" if ordered else "disordered: %r" % found)
            tls = connect()
            answered = time.monotonic()
            for _ in range(4):
                time.sleep(max(0, answered + 1.2 - time.monotonic()))
                gap = time.monotonic() - answered
                tls.sendall(scrape)
                found = answers(tls, 1)
                print("scraped" if found and found[0][0] == b"HTTP/1.1 200 OK" else "failed %.1f s after the last answer" % gap)
                answered = time.monotonic()
            time.sleep(3.6)
            try:
                print("closed when idle" if tls.recv(1) == b"" else "still open")
            except (ConnectionError, ssl.SSLError):
                print("closed when idle")
            """#)
        let lines = try await shell("python3 \(client) 2>&1").output.split(separator: "\n")
        // Four scrapes 1.2 s apart outlast the 3 s idle timeout counted from the connection's start.
        // (0.9 s gaps against a 2 s timeout failed twice in six ThreadSanitizer runs beside the other
        // listener suites: the connection closed before the next scrape. That did not happen with
        // the agent alone, under ThreadSanitizer and a loaded CPU either, so the client probably
        // starved; the wider gaps leave 1.8 s of slack.)
        #expect(lines == ["ordered", "scraped", "scraped", "scraped", "scraped", "closed when idle"], "\(lines)")
        // The pipelined scrape went through the router; the four on their own through the handler.
        #expect(agent.listener.eventLoopScrapes.current == before + 4)
    }

    /// A request that does not keep the connection (HTTP/1.0 without `Connection: keep-alive`, or
    /// `Connection: close` among other tokens) is answered with `Connection: close` and the
    /// connection is closed, through the router and on the event loop alike; otherwise the
    /// connection serves a second request.
    @Test func connectionsCloseUnlessKeptAlive() async throws {
        let dir = TemporaryDirectory()
        let agent = try await LiveAgent.start(#"{"run": {"systemMetricsKey": "k"}}"#, dir: dir)
        defer { Task { await agent.stop() } }
        let client = dir.write(
            "client.py",
            #"""
            import socket, ssl, sys
            ctx = ssl.create_default_context(); ctx.check_hostname=False; ctx.verify_mode=ssl.CERT_NONE
            port = int(sys.argv[1])
            def exchange(t, request):
                t.sendall(request)
                data = b""
                while True:
                    c = t.recv(65536)
                    if not c: return data, True
                    data += c
                    if b"\r\n\r\n" in data:
                        head, rest = data.split(b"\r\n\r\n", 1)
                        n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
                        if n and len(rest) >= n[0]: return data, False
            def closed(t):
                try: return t.recv(1) == b""
                except (ConnectionError, ssl.SSLError): return True
                except TimeoutError: return False
            for path in ["/etcha/v1/system/health", "/etcha/v1/system/metrics?key=k"]:
                t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))); t.settimeout(3)
                data, eof = exchange(t, ("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
                head = data.split(b"\r\n\r\n")[0].lower()
                print("1.0", path.split("?")[0], data.split(b"\r\n")[0].decode(), "connection: close" in head.decode(), "closed" if eof or closed(t) else "open")
                t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))); t.settimeout(3)
                for i in range(2):
                    data, eof = exchange(t, ("GET %s HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n" % path).encode())
                    print("1.0 keep-alive", i, data.split(b"\r\n")[0].decode())
                t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))); t.settimeout(3)
                for i in range(2):
                    data, eof = exchange(t, ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
                    print("1.1", i, data.split(b"\r\n")[0].decode())
                t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))); t.settimeout(3)
                data, eof = exchange(t, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n\r\n" % path).encode())
                head = data.split(b"\r\n\r\n")[0].lower()
                print("1.1 close", data.split(b"\r\n")[0].decode(), b"connection: close" in head, "closed" if eof or closed(t) else "open")
            """#)
        let lines = try await shell("python3 \(client) \(agent.port) 2>&1").output.split(separator: "\n")
        var expected: [String] = []
        for path in ["/etcha/v1/system/health", Self.metricsPath] {
            expected += [
                "1.0 \(path) HTTP/1.1 200 OK True closed", "1.0 keep-alive 0 HTTP/1.1 200 OK",
                "1.0 keep-alive 1 HTTP/1.1 200 OK", "1.1 0 HTTP/1.1 200 OK", "1.1 1 HTTP/1.1 200 OK",
                "1.1 close HTTP/1.1 200 OK True closed",
            ]
        }
        #expect(lines.map(String.init) == expected)
    }

    @Test func forwardedForFromAnUntrustedPeerChangesNothing() async throws {
        try await withAgent(#"{"run": {"systemMetricsKey": "k"}}"#) { (agent, client) async throws in
            let url = agent.base + Self.metricsPath + "?key=bad"
            for index in 0..<10 {
                #expect(try await send(client, url, headers: [("X-Forwarded-For", "10.9.9.\(index)")]).status == 403)
            }
            #expect(try await send(client, url, headers: [("X-Forwarded-For", "10.9.9.99")]).status == 429)
        }
    }

    @Test func anotherSocketAddressIsAnotherClient() async throws {
        let agent = try await LiveAgent.start(
            #"{"run": {"systemMetricsKey": "k"}}"#, overrides: ["httpServer_listenAddress=0.0.0.0:0"])
        let url = "https://127.0.0.1:\(agent.port)\(Self.metricsPath)"
        for _ in 0..<11 { try await shell("curl -sk -o /dev/null --interface 127.0.0.1 '\(url)?key=bad'") }
        let limited = try await shell("curl -sk -o /dev/null -w '%{http_code}' --interface 127.0.0.1 '\(url)?key=k'")
        #expect(limited.output == "429")
        let other = try await shell("curl -sk -o /dev/null -w '%{http_code}' --interface 127.0.0.2 '\(url)?key=k'")
        #expect(other.output == "200")
        await agent.stop()
    }

    @Test func tlsVersionsAndHTTP2() async throws {
        let agent = try await LiveAgent.start()
        let url = agent.base + "/etcha/v1/system/health"
        defer { Task { await agent.stop() } }
        try await with(makeClient(minimum: .tlsv1, maximum: .tlsv11)) { (old) async throws in
            await #expect(throws: (any Error).self) { try await send(old, url) }
        }
        for version in [TLSVersion.tlsv12, .tlsv13] {
            try await with(makeClient(minimum: version, maximum: version)) { (client) async throws in
                #expect(try await send(client, url).status == 200)
            }
        }
        try await with(makeClient(http2: true)) { (client) async throws in
            #expect(try await send(client, url).version == .http2)
        }
        try await with(makeClient(http2: false)) { (client) async throws in
            #expect(try await send(client, url).version == .http1_1)
        }
    }

    @Test func selfSignedCertificateHasTheSANsAndSurvivesARestart() async throws {
        let dir = TemporaryDirectory()
        let first = try await LiveAgent.start(dir: dir)
        let served = try await shell(
            "echo | openssl s_client -connect 127.0.0.1:\(first.port) 2>/dev/null | openssl x509 -noout -fingerprint -sha256 -ext subjectAltName"
        )
        await first.stop()
        let material = try TLSMaterial(
            certificatePEM: try #require(dir.read("etcha.crt")), privateKeyPEM: try #require(dir.read("etcha.key")))
        #expect(served.output.contains(material.fingerprint))
        #expect(served.output.contains("DNS:localhost"))
        #expect(served.output.contains("IP Address:127.0.0.1"))
        #expect(served.output.contains("IP Address:0:0:0:0:0:0:0:1"))
        #expect(served.output.contains("DNS:\(ProcessInfo.processInfo.hostName)"))
        let mode = try FileManager.default.attributesOfItem(atPath: "\(dir.path)/etcha.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let second = try await LiveAgent.start(dir: dir)
        let again = try await shell(
            "echo | openssl s_client -connect 127.0.0.1:\(second.port) 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        )
        #expect(again.output.contains(material.fingerprint))
        await second.stop()
    }

    @Test func mutualTLSAcceptsOnlyClientsOfTheCA() async throws {
        let dir = TemporaryDirectory()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        #expect(try await shell("OUT=\(dir.path)/ca1 \(repository)/certs/generate.sh").status == 0)
        #expect(try await shell("OUT=\(dir.path)/ca2 \(repository)/certs/generate.sh").status == 0)
        let agent = try await LiveAgent.start(
            "{}",
            overrides: [
                "httpServer_tlsCertificatePath=\(dir.path)/ca1/server.crt",
                "httpServer_tlsKeyPath=\(dir.path)/ca1/server.key",
                "httpServer_tlsClientCAPath=\(dir.path)/ca1/ca.crt",
            ], dir: dir)
        let url = agent.base + "/etcha/v1/system/health"
        defer { Task { await agent.stop() } }
        let trust = "\(dir.path)/ca1/ca.crt"
        try await with(makeClient(trust: trust)) { (anonymous) async throws in
            await #expect(throws: (any Error).self) { try await send(anonymous, url) }
        }
        try await with(
            makeClient(certificate: ("\(dir.path)/ca2/client.crt", "\(dir.path)/ca2/client.key"), trust: trust)
        ) {
            (stranger) async throws in
            await #expect(throws: (any Error).self) { try await send(stranger, url) }
        }
        try await with(
            makeClient(certificate: ("\(dir.path)/ca1/client.crt", "\(dir.path)/ca1/client.key"), trust: trust)
        ) {
            (member) async throws in
            #expect(try await send(member, url).status == 200)
        }
    }

    @Test func badTLSMaterialStopsStartupNamingTheFile() async throws {
        let dir = TemporaryDirectory()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        #expect(
            try await shell(
                "OUT=\(dir.path)/a \(repository)/certs/generate.sh && OUT=\(dir.path)/b \(repository)/certs/generate.sh"
            ).status == 0)
        let garbage = dir.write("garbage.pem", "not a certificate")
        let cases: [([String], String)] = [
            (["httpServer_tlsCertificatePath=\(garbage)", "httpServer_tlsKeyPath=\(dir.path)/a/server.key"], garbage),
            (
                [
                    "httpServer_tlsCertificatePath=\(dir.path)/a/server.crt",
                    "httpServer_tlsKeyPath=\(dir.path)/b/server.key",
                ], "\(dir.path)/b/server.key"
            ),
            (
                [
                    "httpServer_tlsCertificatePath=\(dir.path)/missing.crt",
                    "httpServer_tlsKeyPath=\(dir.path)/a/server.key",
                ], "\(dir.path)/missing.crt"
            ),
            (["httpServer_tlsCertificatePath=\(dir.path)/a/server.crt"], "httpServer.tlsKeyPath"),
        ]
        for (overrides, named) in cases {
            do {
                let agent = try await LiveAgent.start("{}", overrides: overrides, dir: dir)
                await agent.stop()
                Issue.record("started with \(overrides)")
            } catch let error as ListenerError {
                #expect(error.description.contains(named), "\(error)")
            }
        }
    }

    @Test func idleConnectionsDoNotStopAScrape() async throws {
        // Within the per-client limit, which ConnectionLimitTests covers.
        let agent = try await LiveAgent.start(
            #"{"httpServer": {"maxConnectionsPerClient": 1000}, "run": {"systemMetricsKey": "k"}}"#)
        var sockets: [Int32] = []
        for _ in 0..<200 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(agent.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            #expect(connected == 0)
            sockets.append(fd)
        }
        defer {
            for fd in sockets { close(fd) }
            Task { await agent.stop() }
        }
        try await with(makeClient()) { (client) async throws in
            let started = ContinuousClock.now
            #expect(try await send(client, agent.base + Self.metricsPath + "?key=k").status == 200)
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test func aSilentConnectionIsClosedAtTheHeaderTimeout() async throws {
        let agent = try await LiveAgent.start(#"{"httpServer": {"headerTimeout": "300ms"}}"#)
        let started = ContinuousClock.now
        // A client that completes the handshake and then says nothing, and one that does not even start TLS.
        let result = try await shell(
            """
            python3 -c '
            import socket, ssl
            context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
            tls = context.wrap_socket(socket.create_connection(("127.0.0.1", \(agent.port))))
            tls.settimeout(10); print("tls", tls.recv(10))
            raw = socket.create_connection(("127.0.0.1", \(agent.port))); raw.settimeout(10); print("raw", raw.recv(10))
            '
            """)
        #expect(result.output == "tls b''\nraw b''\n")
        #expect(ContinuousClock.now - started < .seconds(4), "\(result.output)")
        await agent.stop()
    }

    @Test func healthAndWebhooksAnswer503UntilTheAgentIsReady() async throws {
        let loaded = try ConfigLoader(
            path: nil,
            overrides: [
                #"sources={"s": {"webhookPaths": ["/h"], "commands": [{"id": "x", "always": true, "change": "true"}]}}"#
            ],
            environment: [:]
        ).load()
        let metrics = EtchaMetrics(version: "t")
        let sources = try SourceSet(loaded: loaded, metrics: metrics, logger: quietLogger) {}
        let readiness = Readiness()
        let shells = ShellSessions(sources: sources, config: loaded.config, metrics: metrics, logger: quietLogger)
        let router = Listener.router(
            config: loaded.config, sources: sources, shells: shells, readiness: readiness,
            gate: FailureGate(config: loaded.config),
            systemRoutes: SystemRoutes(metrics: metrics, metricsKey: "", readiness: readiness))
        try await Application(router: router).test(.router) { client in
            #expect(
                try await client.execute(uri: "/etcha/v1/system/health", method: .get).status == .serviceUnavailable)
            #expect(try await client.execute(uri: "/h", method: .post).status == .serviceUnavailable)
            readiness.markReady()
            let health = try await client.execute(uri: "/etcha/v1/system/health", method: .get)
            #expect(health.status == .ok)
            #expect(String(buffer: health.body) == "ok\n")
            #expect(try await client.execute(uri: "/h", method: .post).status == .notFound)
        }
    }

    @Test func listenAddresses() throws {
        #expect(try Listener.address("127.0.0.1:4000") == ("127.0.0.1", 4000))
        #expect(try Listener.address("[::1]:4001") == ("::1", 4001))
        #expect(try Listener.address(":4000").1 == 4000)
        #expect(throws: ListenerError.self) { try Listener.address("4000") }
        #expect(throws: ListenerError.self) { try Listener.address("host:99999") }
    }
}
