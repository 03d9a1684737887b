import AsyncHTTPClient
import Auth
import Crypto
import EtchaInstrumentation
import EtchaJSON
import Foundation
import NIOCore
import Testing

@testable import Agent

let tutorialPrivateKey = "ed25519private:MC4CAQAwBQYDK2VwBCIEIBq+BhDRYk8OJv1ksMwKtf0td5p3FGwypXq96gHKefGS:reqYEklgP4"
let tutorialPublicKey = "ed25519public:MCowBQYDK2VwAyEAw7eTEuEH0+TfgtX3zB+JZVnYD0eskY6qn3n7ZCA7wWM=:reqYEklgP4"

/// Push over live HTTPS: the attack matrix, anti-rollback, diff, check mode, saved state, metrics.
@Suite(.serialized) struct PushTests {
    /// A token carrying `run` (a Jsonnet list of commands) signed by `key` at `iat`.
    static func token(
        _ run: String, iat: Int = Int(Date().timeIntervalSince1970), key: String = tutorialPrivateKey,
        extra: [String: JSON] = [:]
    ) throws -> String {
        var claims: [String: JSON] = [
            "iat": .number(Double(iat)), "nbf": .number(Double(iat)),
            "etchaPattern": .object([
                "entrypoint": "/main.jsonnet",
                "files": .object(["/main.jsonnet": .string("{run: \(run)}")]),
            ]),
            "etchaRunVars": .object([:]), "etchaBuildManifest": "", "etchaVersion": "test",
        ]
        claims.merge(extra) { _, new in new }
        return try JWT.sign(claims, with: try PrivateKey(parsing: key))
    }

    static let config = """
        {"run": {"verifyKeys": ["\(tutorialPublicKey)"], "systemMetricsKey": "k"}, "httpServer": {"rateLimitRate": "1000-M"},
         "sources": {"web": {"allowPush": true}, "closed": {}}}
        """

    private func push(
        _ client: HTTPClient, _ agent: LiveAgent, _ token: String, source: String = "web", check: Bool = false
    )
        async throws -> Reply
    {
        try await send(
            client, agent.base + "/etcha/v1/push/\(source)\(check ? "?check" : "")", method: .POST,
            body: ByteBuffer(string: token))
    }

    @Test func attacksAreAnsweredLikeAnUnknownSourceAndRunNothing() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config, dir: dir) { (agent, client) async throws in
            let sentinel = "[{id: 'sentinel', always: true, change: 'touch \(dir.path)/ran'}]"
            let valid = try Self.token(sentinel)
            let parts = valid.split(separator: ".").map(String.init)
            func header(_ json: String) -> String { JWT.base64URL(Array(json.utf8)) }
            let publicDER = try PublicKey(parsing: tutorialPublicKey).der
            let hmacInput = header(#"{"alg":"HS256","kid":"reqYEklgP4","typ":"JWT"}"#) + "." + parts[1]
            let hmac = HMAC<SHA256>.authenticationCode(for: Array(hmacInput.utf8), using: SymmetricKey(data: publicDER))
            let stranger = try PrivateKey.generate(.ed25519, id: "reqYEklgP4")
            var payload = Array(parts[1])
            payload[5] = payload[5] == "A" ? "B" : "A"
            var signature = Array(parts[2])
            signature[10] = signature[10] == "A" ? "B" : "A"
            let now = Int(Date().timeIntervalSince1970)
            let attacks: [(String, String)] = [
                ("alg none", header(#"{"alg":"none","typ":"JWT"}"#) + "." + parts[1] + "."),
                ("HS256 keyed with the public key", hmacInput + "." + JWT.base64URL(Array(hmac))),
                ("unconfigured key claiming the kid", try Self.token(sentinel, key: stranger.keyString)),
                (
                    "ES256 header over an EdDSA signature",
                    header(#"{"alg":"ES256","kid":"reqYEklgP4","typ":"JWT"}"#) + "." + parts[1] + "." + parts[2]
                ),
                ("expired", try Self.token(sentinel, extra: ["exp": .number(Double(now - 120))])),
                ("nbf in the future", try Self.token(sentinel, extra: ["nbf": .number(Double(now + 600))])),
                ("payload changed", parts[0] + "." + String(payload) + "." + parts[2]),
                ("signature changed", parts[0] + "." + parts[1] + "." + String(signature)),
                ("truncated", String(valid.dropLast(20))),
                ("not base64", parts[0] + ".!!!." + parts[2]),
                ("empty", ""),
            ]
            for (name, token) in attacks {
                #expect(try await push(client, agent, token).status == 404, "\(name)")
            }
            #expect(try await push(client, agent, valid, source: "closed").status == 404)
            #expect(try await push(client, agent, valid, source: "nope").status == 404)
            #expect(try await push(client, agent, valid, source: "..%2f..%2fetc").status == 404)
            #expect(!dir.exists("ran"))
            #expect(!dir.exists("web.jwt"))
        }
    }

    @Test func aHugeTokenIsRefusedWith413BeforeItIsRead() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config, dir: dir) { (agent, _) async throws in
            let file = dir.write("huge.jwt", String(repeating: "a", count: 10 << 20))
            // curl announces the body (Expect: 100-continue); the agent refuses it from the headers alone.
            let result = try await shell(
                "curl -sk -o /dev/null -w '%{http_code} %{size_upload}' --data-binary @\(file) \(agent.base)/etcha/v1/push/web"
            )
            let fields = result.output.split(separator: " ")
            #expect(fields.first == "413")
            #expect((Double(fields.last ?? "") ?? .infinity) < 1_000_000)
        }
    }

    @Test func theFailureLimitAppliesToPushes() async throws {
        let agent = try await LiveAgent.start(
            """
            {"run": {"verifyKeys": ["\(tutorialPublicKey)"]}, "sources": {"web": {"allowPush": true}}}
            """)
        let client = try makeClient()
        defer { _ = client.shutdown() }  // on every way out: a client dropped unshut stops the process
        for _ in 0..<10 { #expect(try await push(client, agent, "bad.token.here").status == 404) }
        #expect(try await push(client, agent, try Self.token("[]")).status == 429)
        await agent.stop()
    }

    /// As Etcha answers: a push whose run fails is a 500 carrying the same result object.
    @Test func aPushWhoseRunFailsAnswers500WithTheResult() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config, dir: dir) { (agent, client) async throws in
            let token = try Self.token(
                "[{id: 'ok', always: true, change: 'true'}, {id: 'bad', always: true, change: 'exit 3'}]")
            let answer = try await push(client, agent, token)
            #expect(answer.status == 500)
            #expect(answer.text.hasPrefix(#"{"changedIDs":["ok"],"#), "\(answer.text)")
            #expect(answer.text.contains(#""err":"bad: change: exited 3""#), "\(answer.text)")
        }
    }

    @Test func aFilterRunsOnlyTheCommandsUnderMatchingParents() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config, dir: dir) { (agent, client) async throws in
            let token = try Self.token(
                """
                [{id: 'top', always: true, change: 'echo top'},
                 {id: 'pkgs', commands: [{id: 'apt', always: true, change: 'echo apt'},
                   {id: 'inner', commands: [{id: 'deep', always: true, change: 'echo deep'}]}]},
                 {id: 'files', commands: [{id: 'conf', always: true, change: 'echo conf'}]}]
                """)
            let url = agent.base + "/etcha/v1/push/web?filter="
            let grouped = try await send(client, url + "%3E%20pkgs", method: .POST, body: ByteBuffer(string: token))
            #expect(grouped.status == 200)
            #expect(grouped.text.contains(#""changedIDs":["apt","deep"]"#), "\(grouped.text)")
            let anchored = try await send(client, url + "%5Eweb%24", method: .POST, body: ByteBuffer(string: token))
            #expect(anchored.text.contains(#""changedIDs":["top"]"#), "\(anchored.text)")
            let bad = try await send(client, url + "%28", method: .POST, body: ByteBuffer(string: token))
            #expect(bad.status == 400)
            #expect(bad.text.contains("filter is not a regular expression"))
        }
    }

    @Test func runEnvAndTheTokensEtchaRunEnvReachTheRunCommands() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config, dir: dir) { (agent, client) async throws in
            var token = try Self.token(
                #"[{id: 'env', always: true, change: 'echo "$FROM_BUILD $FROM_PATTERN $BOTH"'}], runEnv: {FROM_PATTERN: 'p', BOTH: 'pattern'}"#,
                extra: ["etchaRunEnv": .object(["FROM_BUILD": "b", "BOTH": "build"])])
            var answer = try await push(client, agent, token)
            #expect(answer.text.contains(#""changedOutputs":["b p pattern"]"#), "\(answer.text)")
            token = try Self.token("[{id: 'env', always: true, change: 'true'}], runEnv: {BAD: 1}")
            answer = try await push(client, agent, token)
            #expect(answer.status == 400)
            #expect(answer.text.contains("runEnv.BAD: expected a string"))
        }
    }

    @Test func pushChangesThenNothingThenRemovesAndRefusesReplays() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config, dir: dir) { (agent, client) async throws in
            let command = { (name: String) in
                "{id: '\(name)', check: 'test -f \(dir.path)/\(name)', change: 'touch \(dir.path)/\(name)', remove: 'rm \(dir.path)/\(name)'}"
            }
            let now = Int(Date().timeIntervalSince1970)
            let first = try Self.token("[\(command("a")), \(command("b"))]", iat: now - 20)
            let checked = try await push(client, agent, first, check: true)
            #expect(checked.status == 200)
            #expect(checked.text.contains(#""changedIDs":["a","b"]"#))
            #expect(!dir.exists("a"))
            #expect(!dir.exists("web.jwt"))

            let applied = try await push(client, agent, first)
            #expect(applied.status == 200)
            #expect(
                applied.text
                    == #"{"changedIDs":["a","b"],"changedOutputs":["",""],"err":"","exit":false,"removedIDs":[],"removedOutputs":[]}"#
            )
            #expect(dir.exists("a") && dir.exists("b"))
            #expect(try await push(client, agent, first).text.contains(#""changedIDs":[]"#))

            let second = try Self.token("[\(command("a"))]", iat: now - 10)
            let removed = try await push(client, agent, second)
            #expect(removed.text.contains(#""removedIDs":["b"]"#))
            #expect(!dir.exists("b"))
            #expect(dir.read("web.jwt") == second)

            // Replaying the older token would roll the node back: refused, nothing changes.
            #expect(try await push(client, agent, first).status == 409)
            #expect(!dir.exists("b"))
            #expect(dir.read("web.jwt") == second)

            let metrics = try await send(client, agent.base + "/etcha/v1/system/metrics?key=k").text
            #expect(
                metrics.contains(
                    #"etcha_sources_total{error="0",name="web",public_key="reqYEklgP4",remote_addr="127.0.0.1",trigger="push"}"#
                ))
            #expect(metrics.contains(#"etcha_source_jwt_expiry_timestamp_seconds{name="web"} 0.0"#))
        }
    }

    /// The held token follows what was applied: while `fa`'s removal fails, the source keeps the
    /// token that has `fa`, so a later push (or the next start) tries the removal again.
    @Test func aFailedRemovalKeepsThePreviousTokenUntilTheRemovalSucceeds() async throws {
        let dir = TemporaryDirectory()
        try await withAgent(Self.config, dir: dir) { (agent, client) async throws in
            let now = Int(Date().timeIntervalSince1970)
            let first = try Self.token(
                "[{id: 'fa', check: 'test -f \(dir.path)/fa', change: 'touch \(dir.path)/fa', "
                    + "remove: 'test ! -f \(dir.path)/stuck && rm \(dir.path)/fa'}]", iat: now - 20)
            let second = try Self.token("[{id: 'other', always: true, change: 'true'}]", iat: now - 10)
            #expect(try await push(client, agent, first).status == 200)
            dir.write("stuck", "")
            let failed = try await push(client, agent, second)
            #expect(failed.text.contains("kept the previous pattern"), "\(failed.text)")
            #expect(dir.exists("fa"))
            #expect(dir.read("web.jwt") == first)

            try FileManager.default.removeItem(atPath: dir.path + "/stuck")
            let retried = try await push(client, agent, second)
            #expect(retried.text.contains(#""removedIDs":["fa"]"#), "\(retried.text)")
            #expect(!dir.exists("fa"))
            #expect(dir.read("web.jwt") == second)
        }
    }

    /// Requests are handled on their connection's event loop; a push's rendering must not be, or it
    /// holds up every connection on that loop.
    @Test func aLongRenderDoesNotHoldUpOtherConnections() async throws {
        try await withAgent(Self.config) { (agent, client) async throws in
            let scrapers = try makeClient(http2: false)
            defer { _ = scrapers.shutdown() }  // on every way out: a client dropped unshut stops the process
            let url = agent.base + "/etcha/v1/system/metrics?key=k"
            // Four connections, opened before the push: the listener spreads them over its
            // event loops, so some share the push's loop.
            func scrapeOnEach() async throws -> [Duration] {
                try await withThrowingTaskGroup(of: Duration.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            let started = ContinuousClock.now
                            let status = try await send(scrapers, url).status
                            #expect(status == 200)
                            return ContinuousClock.now - started
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            _ = try await scrapeOnEach()
            // About 1.5 s in a debug build; a sanitized build (make sanitize sets ETCHA_SANITIZED)
            // renders several times slower, so it gets less to do and stays clear of the client's
            // 30 s limit on a loaded machine.
            let count = ProcessInfo.processInfo.environment["ETCHA_SANITIZED"] == nil ? 250_000 : 60_000
            let slow = "std.foldl(function(sum, i) sum + i, std.range(1, \(count)), 0)"
            let token = try Self.token("[{id: 'slow', always: true, change: 'echo ' + std.toString(\(slow))}]")
            let started = ContinuousClock.now
            async let pushed = push(client, agent, token)
            try await Task.sleep(for: .milliseconds(300))
            let scrapes = try await scrapeOnEach()
            #expect(try await pushed.status == 200)
            let render = ContinuousClock.now - started
            // The render took long enough for a held-up scrape to show (it would take most of
            // the render's time), and none was held up.
            #expect(render > .milliseconds(600))
            #expect(scrapes.allSatisfy { $0 < render / 3 }, "scrapes \(scrapes) during a \(render) push")
        }
    }

    @Test func theSavedTokenIsRestoredAndRunAtStartupAndACorruptOneIsIgnored() async throws {
        let dir = TemporaryDirectory()
        let now = Int(Date().timeIntervalSince1970)
        try await withAgent(Self.config, dir: dir) { (agent, client) async throws in
            let token = try Self.token(
                "[{id: 'boot', always: true, change: 'echo run >> \(dir.path)/boots'}]", iat: now,
                extra: ["exp": .number(Double(now + 3600))])
            #expect(try await push(client, agent, token).status == 200)
            let metrics = try await send(client, agent.base + "/etcha/v1/system/metrics?key=k").text
            #expect(metrics.contains("etcha_source_jwt_expiry_timestamp_seconds{name=\"web\"} \(Double(now + 3600))"))
        }
        #expect(dir.read("boots") == "run\n")
        // A restart restores the token and runs it once at startup.
        let second = try await LiveAgent.start(Self.config, dir: dir)
        var waited = 0
        while dir.read("boots") != "run\nrun\n" && waited < 200 {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
        }
        #expect(dir.read("boots") == "run\nrun\n")
        await second.stop()
        // A corrupt state file is logged and ignored; the agent still starts.
        dir.write("web.jwt", "garbage")
        let third = try await LiveAgent.start(Self.config, dir: dir)
        let client = try makeClient()
        defer { _ = client.shutdown() }  // on every way out: a client dropped unshut stops the process
        #expect(try await send(client, third.base + "/etcha/v1/system/health").status == 200)
        await third.stop()
        #expect(dir.read("boots") == "run\nrun\n")
    }

    @Test func jwtRulesAndSourceKeysApply() async throws {
        let dir = TemporaryDirectory()
        let extra = try PrivateKey.generate(.ecp256, id: "ops")
        let agent = try await LiveAgent.start(
            """
            {"run": {"verifyKeys": ["\(tutorialPublicKey)"], "jwtRule": "iss == 'ci'"},
             "sources": {"web": {"allowPush": true, "verifyKeys": ["\(extra.publicKey.description)"]},
                         "strict": {"allowPush": true, "jwtRule": "'prod' in aud"}}}
            """, dir: dir)
        let client = try makeClient()
        defer { _ = client.shutdown() }  // on every way out: a client dropped unshut stops the process
        let body = "[{id: 'x', always: true, change: 'true'}]"
        #expect(try await push(client, agent, try Self.token(body, extra: ["iss": "ci"])).status == 200)
        #expect(try await push(client, agent, try Self.token(body, extra: ["iss": "other"])).status == 404)
        #expect(
            try await push(client, agent, try Self.token(body, key: extra.keyString, extra: ["iss": "ci"])).status
                == 200)
        #expect(
            try await push(
                client, agent, try Self.token(body, key: extra.keyString, extra: ["iss": "ci"]), source: "strict"
            ).status == 404)
        #expect(
            try await push(client, agent, try Self.token(body, extra: ["aud": .array(["prod"])]), source: "strict")
                .status == 200)
        await agent.stop()
    }

    @Test func badKeysAndRulesStopStartupNamingTheKey() throws {
        let dir = TemporaryDirectory()
        for (json, message) in [
            (#"{"run": {"verifyKeys": ["ed25519public:nope"]}}"#, "run.verifyKeys[0]:"),
            (#"{"sources": {"a": {"verifyKeys": ["rsa1024public:AAAA"]}}}"#, "sources.a.verifyKeys[0]:"),
            (#"{"run": {"jwtRule": "iss =="}}"#, "run.jwtRule:"),
            (#"{"build": {"signingKey": "ed25519private:AAAA"}}"#, "build.signingKey:"),
        ] {
            do {
                _ = try ConfigLoader(path: dir.write("c.json", json), environment: [:]).load()
                Issue.record("loaded \(json)")
            } catch {
                #expect(error.description.hasPrefix(message), "\(error)")
            }
        }
    }
}

extension PushTests {
    /// Etcha's trigger tutorial: a triggerOnly source takes pushes without running them, and runs the
    /// pushed pattern when its event arrives from another source.
    @Test func aTriggerOnlySourceHoldsPushesUntilTriggered() async throws {
        let dir = TemporaryDirectory()
        let agent = try await LiveAgent.start(
            """
            {"run": {"verifyKeys": ["\(tutorialPublicKey)"]}, "sources": {
              "handler": {"allowPush": true, "triggerOnly": true, "eventsReceive": ["trigger"], "exec": {"allowOverride": true}},
              "trigger": {"allowPush": true, "eventsSend": ".*", "exec": {"allowOverride": true}}}}
            """, dir: dir)
        let client = try makeClient()
        defer { _ = client.shutdown() }  // on every way out: a client dropped unshut stops the process
        let now = Int(Date().timeIntervalSince1970)
        let handler = try Self.token(
            "[{id: 'write env', always: true, change: 'env | grep ^ETCHA_ | sort > \(dir.path)/env'}]", iat: now)
        let answer = try await push(client, agent, handler, source: "handler")
        #expect(answer.text.contains(#""changedIDs":[]"#))
        #expect(!dir.exists("env"))
        let trigger = try Self.token(
            "[{id: 'trigger event', always: true, change: 'echo hello world', onChange: ['etcha:trigger']}]", iat: now)
        #expect(
            try await push(client, agent, trigger, source: "trigger").text.contains(#""changedIDs":["trigger event"]"#))
        let env = try #require(dir.read("env"))
        #expect(env.contains("ETCHA_EVENT_NAME=trigger\n"))
        #expect(env.contains("ETCHA_EVENT_ID=trigger event\n"))
        #expect(env.contains("ETCHA_EVENT_OUTPUT=hello world\n"))
        #expect(env.contains("ETCHA_EVENT_PUBLIC_KEY=reqYEklgP4\n"))
        #expect(env.contains("ETCHA_EVENT_SRC=127.0.0.1\n"))
        #expect(env.contains("ETCHA_SOURCE_NAME=handler\n"))
        #expect(env.contains("ETCHA_SOURCE_TRIGGER=event\n"))
        await agent.stop()
    }
}
