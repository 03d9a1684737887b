import Foundation
import Testing

/// Etcha's "pushing and pulling patterns" tutorial, step by step with the same config keys, `-x`
/// overrides, flags and verbs, once as its April 2024 release wrote it and once as its current docs
/// do. The docker alias is the binary; the pattern, the keys and the library file are this test's
/// own (`etcha init` comes with issue 22).
@Suite struct EtchaTutorialTests {
    enum Version: String, CaseIterable {
        case v2024, current

        /// The listen address key, moved from `run` to `httpServer` after 2024.
        var listenKey: String { self == .v2024 ? "run_listenAddress" : "httpServer_listenAddress" }
        /// How a source says how often to pull.
        var pullEverySecond: String { self == .v2024 ? #""runFrequencySec": 1"# : #""runFrequency": "1s""# }
    }

    @Test(arguments: Version.allCases)
    func pushThenPullAsTheTutorialDoes(version: Version) throws {
        let scratch = Scratch()
        let work = scratch.path
        scratch.write(
            "lib/etcha/native.libsonnet",
            "{ getEnv(name, fallback=null):: std.native('getEnv')(name, fallback) }")
        scratch.write(
            "patterns/run.jsonnet",
            """
            local n = import '../lib/etcha/native.libsonnet';
            {
              run: [
                {id: 'write a file', always: true, change: 'echo %s > \(work)/hostname' % n.getEnv('HOSTNAME', 'fallback'),
                 onChange: ['copy file'], remove: 'rm \(work)/hostname'},
                {id: 'copy file', change: 'cp \(work)/hostname \(work)/hostname2', remove: 'rm \(work)/hostname2'},
              ],
              runExec: {command: '/bin/sh -c'},
            }
            """)
        let signer = try Binary.generateKeys(kid: "tutorial")
        let stranger = try Binary.generateKeys(kid: "stranger")
        func listen(_ source: String) throws -> (Binary.Running, String) {
            let running = try Binary.start(
                [
                    "-x", "run_systemMetricsSecret=secret", "-x", "\(version.listenKey)=127.0.0.1:0", "-x", source,
                    "run",
                ],
                in: work, environment: [:])
            return (running, Binary.port(of: running))
        }

        // Listen with a source that allows pushes; its runExec is not a source key, so it is named once.
        let (agent, port) = try listen(
            #"sources_listen={"allowPush": true, "runExec": {"allowOverride": true}, "verifyKeys": [""#
                + signer.public + #""]}"#)
        defer { agent.stop() }
        try #require(!port.isEmpty, "\(agent.stderr)")
        #expect(agent.stderr.components(separatedBy: "sources.listen.runExec is ignored").count == 2)
        let metrics = try Ecosystem.sh("curl -sk 'https://127.0.0.1:\(port)/etcha/v1/system/metrics?key=secret'")
        #expect(metrics.output.contains("etcha_build_info{"), "\(metrics.output)")

        // Pushing: the wrong key runs nothing; the right one runs both commands.
        let push = ["-x", "build_pushTLSSkipVerify=true", "push", "-h", "127.0.0.1:\(port)", "listen"]
        let refused = try Binary.run(
            ["-x", "build_signingKey=\(stranger.private)"] + push + ["patterns/run.jsonnet"], in: work)
        #expect(refused.status == 1)
        #expect(scratch.read("hostname") == nil)
        let pushed = try Binary.run(
            ["-x", "build_signingKey=\(signer.private)"] + push + ["patterns/run.jsonnet"], in: work)
        #expect(pushed.stdout == "127.0.0.1:\(port):\n        Changed 2: write a file, copy file\n", "\(pushed.stderr)")
        let hostname = ProcessInfo.processInfo.environment["HOSTNAME"] ?? "fallback"
        #expect(scratch.read("hostname") == hostname + "\n" && scratch.read("hostname2") == hostname + "\n")
        agent.stop()

        // Pulling: build the token, then listen with a source that pulls it.
        try FileManager.default.removeItem(atPath: "\(work)/hostname")
        try FileManager.default.removeItem(atPath: "\(work)/hostname2")
        let built = try Binary.run(
            ["-x", "build_signingKey=\(signer.private)", "build", "patterns/run.jsonnet", "listen.jwt"], in: work)
        #expect(built.status == 0, "\(built.stderr)")
        let (puller, pullPort) = try listen(
            #"sources_listen={"runExec": {"allowOverride": true}, "pullPaths": [""#
                + "\(work)/listen.jwt" + #""], "verifyKeys": [""# + signer.public + #""], "# + version.pullEverySecond
                + "}")
        defer { puller.stop() }
        try #require(!pullPort.isEmpty, "\(puller.stderr)")
        let deadline = Date().addingTimeInterval(20)
        while scratch.read("hostname2") == nil && Date() < deadline { usleep(50_000) }
        #expect(scratch.read("hostname2") == hostname + "\n", "\(puller.stderr)")
    }
}
