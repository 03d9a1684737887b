import Auth
import Foundation
import Testing

/// Deadlines that hold whatever a command does, and what the agent answers and keeps when a run is
/// cut short: with the real binary, its signals and its state directory.
@Suite struct DeadlineTests {
    /// A config with a webhook source `hook` running `hookCommand`, and `web` taking pushes signed by
    /// a fresh key (which `etcha build` signs with).
    static func setup(_ scratch: Scratch, hookCommand: String = "true", run: String = "") throws {
        let key = try PrivateKey.generate(.ed25519, id: "ops")
        scratch.write(
            "etcha.json",
            """
            {"build": {"signingKey": "\(key.keyString)"},
             "run": {"verifyKeys": ["\(key.publicKey)"], "stateDir": "\(scratch.path)/state", "systemMetricsKey": "m"\(run)},
             "httpServer": {"listenAddress": "127.0.0.1:0"}, "httpClient": {"tlsSkipVerify": true},
             "exec": {"command": "/bin/sh -c"},
             "sources": {"web": {"allowPush": true},
               "hook": {"triggerOnly": true, "webhookPaths": ["/hook"],
                        "commands": [{"id": "h", "always": true, "change": "\(hookCommand)"}]}}}
            """)
    }

    /// `etcha build` of `{run: RUN}` into `name.jwt`; the token.
    static func build(_ scratch: Scratch, _ name: String, run: String) throws -> String {
        scratch.write("\(name).jsonnet", "{run: \(run)}")
        let built = try Ecosystem.sh(
            "'\(Binary.path)' -c etcha.json build \(name).jsonnet \(name).jwt", in: scratch.path)
        #expect(built.status == 0, "\(built.output)")
        return try #require(scratch.read("\(name).jwt")).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `command` under /bin/sh, started and not waited for, its output and errors into `file`.
    static func background(_ command: String, in scratch: Scratch, output file: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
        FileManager.default.createFile(atPath: scratch.path + "/" + file, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.path + "/" + file))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func saved(_ scratch: Scratch) -> String? {
        scratch.read("state/web.jwt")?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aWebhookWhoseCommandLetGoOfItsOutputEndsAtTheTimeoutWith504() throws {
        let scratch = Scratch()
        try Self.setup(scratch, hookCommand: "exec >/dev/null 2>&1; sleep 30", run: #", "timeoutWebhook": "2s""#)
        let agent = try Binary.start(["-c", "etcha.json", "run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        let started = Date()
        let answer = try Ecosystem.sh("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:\(port)/hook")
        #expect(answer.output == "504")
        #expect(Date().timeIntervalSince(started) < 10)
        let metrics = try Ecosystem.sh("curl -sk 'https://127.0.0.1:\(port)/etcha/v1/system/metrics?key=m'").output
        #expect(
            metrics.contains(
                #"etcha_sources_total{error="1",name="hook",public_key="",remote_addr="127.0.0.1",trigger="webhook"} 1"#
            ), "\(metrics)")
        #expect(agent.stderr.contains("timed out"))
        // A 5xx is the node's failure: it does not count against the client's failure limit.
        #expect(
            try Ecosystem.sh("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:\(port)/etcha/v1/system/health")
                .output == "200")
    }

    @Test(arguments: ["exec >/dev/null 2>&1; sleep 60", "exec >&- 2>&-; sleep 60"])
    func sigtermEndsAStepThatLetGoOfItsOutputWithinTheShutdownTimeout(command: String) throws {
        let scratch = Scratch()
        try Self.setup(
            scratch, hookCommand: "touch \(scratch.path)/started; \(command)", run: #", "shutdownTimeout": "2s""#)
        let agent = try Binary.start(["-c", "etcha.json", "run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        let curl = try Self.background(
            "curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:\(port)/hook", in: scratch, output: "answer")
        try #require(
            Ecosystem.eventually(within: 20) { FileManager.default.fileExists(atPath: scratch.path + "/started") })
        let signalled = Date()
        kill(agent.process.processIdentifier, SIGTERM)
        let stopped = Binary.wait(for: agent, timeout: 30)
        #expect(Date().timeIntervalSince(signalled) < 3.5, "shutdownTimeout 2 s")
        #expect(stopped.status == 0, "\(stopped.stderr)")
        // The webhook in flight got its answer (the step was killed: the run failed).
        curl.waitUntilExit()
        #expect(scratch.read("answer") == "500", "\(scratch.read("answer") ?? "")\n\(stopped.stderr)")
    }

    /// The held token follows what was applied: a pattern whose removals did not finish is not
    /// saved, so the next start and the next push of it try the removals again.
    @Test func aRemovalCutShortBySigtermKeepsThePreviousTokenForTheNextStart() throws {
        let scratch = Scratch()
        try Self.setup(scratch, run: #", "shutdownTimeout": "2s""#)
        let file = scratch.path + "/fa"
        let slow = scratch.path + "/slow"
        let first = try Self.build(
            scratch, "first",
            run: """
                [{id: 'fa', check: 'test -f \(file)', change: 'touch \(file)',
                  remove: 'if test -f \(slow); then touch \(scratch.path)/removing; sleep 60; fi; rm \(file)'},
                 {id: 'keep', always: true, change: 'true'}]
                """)
        let second = try Self.build(scratch, "second", run: "[{id: 'keep', always: true, change: 'true'}]")
        var agent = try Binary.start(["-c", "etcha.json", "run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        var port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        let push = { (name: String, port: String) in
            try Ecosystem.sh(
                "'\(Binary.path)' -c etcha.json push -h 127.0.0.1:\(port) web \(name).jwt 2>&1", in: scratch.path)
        }
        #expect(try push("first", port).status == 0)
        #expect(FileManager.default.fileExists(atPath: file))
        #expect(Self.saved(scratch) == first)

        // The removal of fa hangs; SIGTERM arrives during it.
        scratch.write("slow", "")
        let pushing = try Self.background(
            "'\(Binary.path)' -c etcha.json push -h 127.0.0.1:\(port) web second.jwt", in: scratch, output: "pushed")
        try #require(
            Ecosystem.eventually(within: 20) { FileManager.default.fileExists(atPath: scratch.path + "/removing") })
        let signalled = Date()
        kill(agent.process.processIdentifier, SIGTERM)
        _ = Binary.wait(for: agent, timeout: 30)
        #expect(Date().timeIntervalSince(signalled) < 3.5)
        #expect(Self.saved(scratch) == first)
        #expect(FileManager.default.fileExists(atPath: file))
        // The push in flight was answered, with the failure, not cut off.
        pushing.waitUntilExit()
        #expect(pushing.terminationStatus != 0)
        let pushed = scratch.read("pushed") ?? ""
        #expect(pushed.contains("fa") && pushed.contains("shutting down"), "\(pushed)")

        // After a restart the first token is held again; pushing the second retries the removal.
        try FileManager.default.removeItem(atPath: slow)
        agent = try Binary.start(["-c", "etcha.json", "run"], in: scratch.path, environment: [:])
        port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        let health = "curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:\(port)/etcha/v1/system/health"
        #expect(Ecosystem.eventually(within: 20) { (try? Ecosystem.sh(health).output) == "200" }, "\(agent.stderr)")
        let retried = try push("second", port)
        #expect(retried.status == 0, "\(retried.output)")
        #expect(!FileManager.default.fileExists(atPath: file))
        #expect(Self.saved(scratch) == second)
    }
}
