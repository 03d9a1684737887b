import Auth
import Foundation
import Testing

/// Faults around the state directory, with the real binary: unusable at startup, unusable later,
/// and full (a file size limit) while a token is saved.
@Suite struct FaultTests {
    /// A config trusting a fresh key, with `web` taking pushes; the key signs with `etcha build`.
    static func setup(_ scratch: Scratch, stateDir: String) throws {
        let key = try PrivateKey.generate(.ed25519, id: "ops")
        scratch.write(
            "etcha.json",
            """
            {"build": {"signingKey": "\(key.keyString)"},
             "run": {"verifyKeys": ["\(key.publicKey)"], "stateDir": "\(stateDir)", "systemMetricsKey": "m"},
             "httpServer": {"listenAddress": "127.0.0.1:0"}, "httpClient": {"tlsSkipVerify": true},
             "exec": {"command": "/bin/sh -c"}, "sources": {"web": {"allowPush": true}}}
            """)
    }

    /// Builds a pattern that touches `name` (padded with a comment of `padding` bytes) into `name.jwt`.
    static func build(_ scratch: Scratch, _ name: String, padding: Int = 0) throws -> String {
        scratch.write(
            "\(name).jsonnet",
            "// \(String(repeating: "x", count: padding))\n{run: [{id: '\(name)', always: true, change: 'touch \(scratch.path)/\(name)'}]}"
        )
        let built = try Ecosystem.sh(
            "'\(Binary.path)' -c etcha.json build \(name).jsonnet \(name).jwt", in: scratch.path)
        #expect(built.status == 0, "\(built.output)")
        return try #require(scratch.read("\(name).jwt")).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func push(_ scratch: Scratch, _ name: String, port: String) throws -> (status: Int32, output: String) {
        try Ecosystem.sh(
            "'\(Binary.path)' -c etcha.json push -h 127.0.0.1:\(port) web \(name).jwt 2>&1", in: scratch.path)
    }

    @Test func aStateDirThatCannotBeWrittenStopsStartupNamingTheKey() throws {
        let scratch = Scratch()
        scratch.write("not-a-directory", "")
        try Self.setup(scratch, stateDir: scratch.path + "/not-a-directory/state")
        let out = try Binary.run(["run"], in: scratch.path, timeout: 20)
        #expect(out.status == 1)
        #expect(out.stderr.hasPrefix("error: run.stateDir: "), "\(out.stderr)")
        #expect(out.stderr.split(separator: "\n").count == 1)
    }

    @Test func aStateDirThatBreaksLaterFailsTheSaveButNotTheRun() throws {
        let scratch = Scratch()
        let state = scratch.path + "/state"
        try Self.setup(scratch, stateDir: state)
        let first = try Self.build(scratch, "first")
        let second = try Self.build(scratch, "second")
        let agent = try Binary.start(["run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        #expect(try Self.push(scratch, "first", port: port).status == 0)
        #expect(scratch.read("state/web.jwt")?.trimmingCharacters(in: .whitespacesAndNewlines) == first)

        // The directory is swapped for a file: the next save fails, the run still happens.
        try FileManager.default.moveItem(atPath: state, toPath: state + ".away")
        scratch.write("state", "")
        let failed = try Self.push(scratch, "second", port: port)
        #expect(failed.status != 0 && failed.output.contains("cannot save state"), "\(failed.output)")
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/second"))
        let metrics = try Ecosystem.sh(
            "curl -sk 'https://127.0.0.1:\(port)/etcha/v1/system/metrics?key=m'"
        ).output
        #expect(
            metrics.contains(
                #"etcha_sources_total{error="1",name="web",public_key="ops",remote_addr="127.0.0.1",trigger="push"} 1"#)
        )
        #expect(agent.stderr.contains("cannot save state"))

        // Back in place, the previous state is there and the next save works.
        try FileManager.default.removeItem(atPath: state)
        try FileManager.default.moveItem(atPath: state + ".away", toPath: state)
        #expect(scratch.read("state/web.jwt")?.trimmingCharacters(in: .whitespacesAndNewlines) == first)
        #expect(try Self.push(scratch, "second", port: port).status == 0)
        #expect(scratch.read("state/web.jwt")?.trimmingCharacters(in: .whitespacesAndNewlines) == second)
    }

    @Test func aFullDiskWhileSavingKeepsThePreviousStateForTheNextStart() throws {
        let scratch = Scratch()
        let state = scratch.path + "/state"
        try Self.setup(scratch, stateDir: state)
        let small = try Self.build(scratch, "small")
        let big = try Self.build(scratch, "big", padding: 40_000)
        #expect(big.utf8.count > 32 * 1024)

        // Files this agent writes may not grow past 32 KiB, as on a nearly full disk.
        let log = scratch.write("agent.log", "")
        let limited = Process()
        limited.executableURL = URL(fileURLWithPath: "/bin/bash")
        limited.arguments = ["-c", "ulimit -f 32; exec '\(Binary.path)' -c etcha.json run"]
        limited.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
        limited.standardError = FileHandle(forWritingAtPath: log)
        limited.standardOutput = FileHandle.nullDevice
        limited.standardInput = FileHandle.nullDevice
        try limited.run()
        let port = Binary.port(inLog: { scratch.read("agent.log") ?? "" }, within: 20)
        try #require(!port.isEmpty, "\(scratch.read("agent.log") ?? "")")
        #expect(try Self.push(scratch, "small", port: port).status == 0)
        let failed = try Self.push(scratch, "big", port: port)
        #expect(failed.status != 0 && failed.output.contains("cannot save state"), "\(failed.output)")
        #expect(limited.isRunning)
        kill(limited.processIdentifier, SIGTERM)
        limited.waitUntilExit()
        #expect(scratch.read("state/web.jwt")?.trimmingCharacters(in: .whitespacesAndNewlines) == small)
        // No half-written file is left next to it.
        let left = try FileManager.default.contentsOfDirectory(atPath: state)
        #expect(!left.contains { $0.contains(".tmp-") }, "\(left)")

        // Without the limit, the next start restores the token that was saved, and carries on.
        try FileManager.default.removeItem(atPath: scratch.path + "/small")
        let agent = try Binary.start(["run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        #expect(Ecosystem.eventually(within: 20) { FileManager.default.fileExists(atPath: scratch.path + "/small") })
        #expect(agent.stderr.contains("msg=restored"))
    }

    /// 20 s of TLS handshakes from three processes at full speed (half TLS 1.2, half 1.3): scrapes
    /// from another address keep answering, and resident memory comes back within 10 MiB.
    @Test func memoryReturnsAfterAHandshakeFlood() throws {
        let scratch = Scratch()
        try Self.setup(scratch, stateDir: scratch.path + "/state")
        let agent = try Binary.start(["-c", "etcha.json", "run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        let flood = "'\(Binary.repository)/bench/faults/handshake-flood.py'"
        let result = try Ecosystem.sh("python3 \(flood) \(agent.process.processIdentifier) \(port) 20 3 m")
        let figures = try #require(
            try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Double], "\(result.output)")
        #expect(figures["handshakes", default: 0] > 1000, "\(result.output)")
        #expect(figures["failedScrapes"] == 0, "\(result.output)")
        #expect(
            figures["rssSettledKiB", default: .infinity] - figures["rssBeforeKiB", default: 0] < 10 * 1024,
            "\(result.output)")
    }

    /// No descriptor left (the agent's limit lowered to what it has open, the backlog full): the
    /// listener backs off instead of spinning, a push on an open connection is refused with 503 as
    /// the node's failure (not counted: the failure limit here is 1 a minute), and once descriptors
    /// are back the same push works (the failed library load was not kept).
    @Test func descriptorExhaustionBacksOffAndAnswers503UntilDescriptorsReturn() throws {
        let scratch = Scratch()
        try Self.setup(scratch, stateDir: scratch.path + "/state")
        _ = try Self.build(scratch, "a")
        let agent = try Binary.start(
            ["-c", "etcha.json", "run"], in: scratch.path, environment: ["ETCHA_HTTPSERVER_RATELIMITRATE": "1-M"])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        let result = try Ecosystem.sh(
            "python3 '\(Binary.repository)/bench/faults/exhaust-descriptors.py' \(agent.process.processIdentifier) \(port) a.jwt",
            in: scratch.path)
        let lines = result.output.split(separator: "\n").map(String.init)
        let figures = try #require(
            lines.last.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
            "\(result.output)")
        #expect(figures["exhaustedStatus"] as? Int == 503, "\(result.output)")
        #expect(lines.contains { $0.hasPrefix("exhausted") && $0.contains("Too many open files") }, "\(result.output)")
        #expect((figures["cpuPercent"] as? Double ?? 100) < 30, "the event loop spun: \(result.output)")
        #expect(figures["restoredStatus"] as? Int == 200, "\(result.output)\n\(agent.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/a"))
    }
}

/// The soak benchmark, short: 300 webhooks and 30 pushes against the built binary leave no zombie,
/// no extra descriptor, under 5 MiB of growth, and counters equal to the runs made.
@Suite struct ShortSoakTests {
    @Test func aShortSoakLeavesNothingBehindAndCountsEveryRun() throws {
        let out = try Ecosystem.sh(
            "ETCHA='\(Binary.path)' WEBHOOKS=300 PUSHES=30 CONCURRENCY=4 SOAK_RESULTS=/dev/null '\(Binary.repository)/bench/soak.sh'"
        )
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.contains("result: PASS"))
    }
}
