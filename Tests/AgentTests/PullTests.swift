import Auth
import EtchaInstrumentation
import Foundation
import Prometheus
import Testing

@testable import Agent

/// Pull from files and from HTTPS with headers: applied once, unchanged tokens skipped, failures
/// keep the held pattern, the pull event fires.
@Suite(.serialized) struct PullTests {
    private func sources(_ json: String, dir: TemporaryDirectory) throws -> SourceSet {
        let loaded = try ConfigLoader(
            path: dir.write("etcha.json", json),
            overrides: ["run_stateDir=\(dir.path)/state", "exec_command=/bin/sh -c"],
            environment: [:]
        ).load()
        return try SourceSet(
            loaded: loaded, metrics: EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "t"),
            logger: quietLogger
        ) {}
    }

    @Test func aFileIsPulledOnceAndAnUnchangedTokenIsNotReapplied() async throws {
        let dir = TemporaryDirectory()
        let set = try sources(
            """
            {"run": {"verifyKeys": ["\(tutorialPublicKey)"]}, "sources": {
              "app": {"pullPaths": ["\(dir.path)/missing.jwt", "\(dir.path)/app.jwt"]},
              "notify": {"eventsReceive": ["pull"], "triggerOnly": true, "commands": [
                 {"id": "n", "always": true, "change": "echo $ETCHA_EVENT_NAME >> \(dir.path)/events"}]}}}
            """, dir: dir)
        let now = Int(Date().timeIntervalSince1970)
        dir.write(
            "app.jwt",
            try PushTests.token("[{id: 'one', always: true, change: 'echo one >> \(dir.path)/log'}]", iat: now - 10))
        let first = try #require(await set.pull("app", runHeld: false))
        #expect(first.changedIDs == ["one"])
        #expect(await set.pull("app", runHeld: false) == nil)
        #expect(dir.read("log") == "one\n")
        #expect(dir.read("events") == "pull\npull\n")
        #expect(dir.read("state/app.jwt") == dir.read("app.jwt"))

        dir.write(
            "app.jwt",
            try PushTests.token("[{id: 'two', always: true, change: 'echo two >> \(dir.path)/log'}]", iat: now))
        #expect(try #require(await set.pull("app", runHeld: false)).changedIDs == ["two"])
        #expect(dir.read("log") == "one\ntwo\n")

        // A token that does not verify, or an unreadable path, keeps the held pattern.
        dir.write("app.jwt", "not a token")
        #expect(await set.pull("app", runHeld: false) == nil)
        #expect(set["app"]?.pattern.run.map(\.id) == ["two"])
    }

    @Test func httpsWithHeadersAndUnreachableURLs() async throws {
        let dir = TemporaryDirectory()
        let now = Int(Date().timeIntervalSince1970)
        dir.write(
            "served.jwt",
            try PushTests.token("[{id: 'pulled', always: true, change: 'touch \(dir.path)/pulled'}]", iat: now))
        // The token server is an agent webhook that answers only with the right header.
        let server = try await LiveAgent.start(
            """
            {"sources": {"tokens": {"triggerOnly": true, "webhookPaths": ["/app.jwt"], "commands": [
               {"id": "serve", "always": true,
                "change": "printf '%s' \\"$ETCHA_WEBHOOK_HEADERS\\" | grep -qix 'X-Token: s3cret' && cat \(dir.path)/served.jwt",
                "onChange": ["etcha:webhookBody"]}]}}}
            """)
        defer { Task { await server.stop() } }
        let good = "https://127.0.0.1:\(server.port)/app.jwt#X-Token:s3cret\\r\\nskipVerify:true"  // JSON escapes
        let noHeader = "https://127.0.0.1:\(server.port)/app.jwt#skipVerify:true"
        let verified = "https://127.0.0.1:\(server.port)/app.jwt#X-Token:s3cret"
        let closed = "https://127.0.0.1:1/app.jwt#skipVerify:true"
        let set = try sources(
            """
            {"run": {"verifyKeys": ["\(tutorialPublicKey)"]}, "sources": {
              "refused": {"pullPaths": ["\(noHeader)"]}, "untrusted": {"pullPaths": ["\(verified)"]},
              "down": {"pullPaths": ["\(closed)"]}, "app": {"pullPaths": ["\(good)"]}}}
            """, dir: dir)
        #expect(await set.pull("refused", runHeld: false) == nil)
        #expect(await set.pull("untrusted", runHeld: false) == nil)  // the self-signed certificate is not trusted
        #expect(await set.pull("down", runHeld: false) == nil)
        #expect(!FileManager.default.fileExists(atPath: "\(dir.path)/pulled"))
        #expect(try #require(await set.pull("app", runHeld: false)).changedIDs == ["pulled"])
        #expect(FileManager.default.fileExists(atPath: "\(dir.path)/pulled"))
        #expect(await set.pull("app", runHeld: false) == nil)
    }

    @Test func pullPathsSplitIntoURLHeadersAndSkipVerify() {
        let (url, headers, skip) = PullFetcher.split("https://h/x.jwt#Authorization:Bearer a:b\r\nskipVerify:true")
        #expect(url == "https://h/x.jwt")
        #expect(headers.map { "\($0.0)=\($0.1)" } == ["Authorization=Bearer a:b"])
        #expect(skip)
        #expect(PullFetcher.split("/var/x.jwt").0 == "/var/x.jwt")
    }

    @Test func aHangingServerCostsOneRunFrequencyAndKeepsTheHeldPattern() async throws {
        let dir = TemporaryDirectory()
        // Two servers: one that accepts and never answers, one that sends a head and then stalls the body.
        let portFile = dir.path + "/ports"
        let server = Task.detached {
            try await shell(
                """
                timeout 30 python3 -c '
                import socket, threading, time
                silent = socket.socket(); silent.bind(("127.0.0.1", 0)); silent.listen(8)
                stalling = socket.socket(); stalling.bind(("127.0.0.1", 0)); stalling.listen(8)
                open("\(portFile)", "w").write("%d %d" % (silent.getsockname()[1], stalling.getsockname()[1]))
                held = []
                def serve(listener, answer):
                    while True:
                        connection, _ = listener.accept(); held.append(connection)
                        if answer:
                            connection.recv(4096)
                            connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100000\\r\\n\\r\\neyJ")
                threading.Thread(target=serve, args=(silent, False), daemon=True).start()
                serve(stalling, True)
                '
                """)
        }
        defer { server.cancel() }
        var ports: [Substring] = []
        for _ in 0..<100 where ports.count < 2 {
            try await Task.sleep(for: .milliseconds(50))
            ports = (dir.read("ports") ?? "").split(separator: " ")
        }
        try #require(ports.count == 2)
        let set = try sources(
            """
            {"run": {"verifyKeys": ["\(tutorialPublicKey)"]}, "sources": {
              "silent": {"allowPush": true, "runFrequency": "1s", "pullPaths": ["http://127.0.0.1:\(ports[0])/a.jwt"]},
              "stalling": {"allowPush": true, "runFrequency": "1s", "pullPaths": ["http://127.0.0.1:\(ports[1])/a.jwt"]}}}
            """, dir: dir)
        for name in ["silent", "stalling"] {
            let held = try PushTests.token("[{id: 'held', always: true, change: 'true'}]")
            _ = try await set.push(name, token: held, checkOnly: false, remoteAddr: "")
            let started = ContinuousClock.now
            #expect(await set.pull(name, runHeld: false) == nil)
            #expect(ContinuousClock.now - started < .seconds(4), "\(name)")
            #expect(set[name]?.pattern.run.map(\.id) == ["held"])
        }
    }
}
