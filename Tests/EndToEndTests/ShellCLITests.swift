import Auth
import Foundation
import Testing

/// `etcha shell` against `etcha run`, both the built binary: through a pipe, on a terminal, and an
/// agent stopped while a shell is open.
@Suite struct ShellCLITests {
    /// A directory with a key pair, a config trusting it (shell source `debug` running `/bin/sh` as
    /// `user`), and the agent started on a free port.
    final class Setup {
        let scratch = Scratch()
        let agent: Binary.Running
        let port: String
        let source: String

        init(user: String = "", extra: String = "") throws {
            let key = try PrivateKey.generate(.ed25519, id: "operator")
            source = "debug\(Int.random(in: 1000...9999))"
            scratch.write(
                "etcha.json",
                """
                {"build": {"signingKey": "\(key.keyString)"},
                 "run": {"verifyKeys": ["\(key.publicKey)"], "stateDir": "\(scratch.path)"\(extra)},
                 "httpServer": {"listenAddress": "127.0.0.1:0"}, "httpClient": {"tlsSkipVerify": true},
                 "sources": {"\(source)": {"shell": "/bin/sh", "exec": {"user": "\(user)"}}}}
                """)
            agent = try Binary.start(["run"], in: scratch.path, environment: [:])
            port = Binary.port(of: agent)
        }

        /// Runs `command` with `sh -c` in the scratch directory, `$ETCHA` naming the binary and `$HOST`
        /// the agent; returns status and output.
        func sh(_ command: String, timeout: TimeInterval = 30) throws -> (status: Int32, stdout: String, stderr: String)
        {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCHA_") }
            environment["ETCHA"] = Binary.path
            environment["HOST"] = "127.0.0.1:\(port)"
            environment["SOURCE"] = source
            process.environment = environment
            let out = scratch.path + "/sh.out"
            let err = scratch.path + "/sh.err"
            FileManager.default.createFile(atPath: out, contents: nil)
            FileManager.default.createFile(atPath: err, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: out)
            process.standardError = FileHandle(forWritingAtPath: err)
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return (process.terminationStatus, scratch.read("sh.out") ?? "", scratch.read("sh.err") ?? "")
        }

        func stop() -> Binary.Outcome {
            kill(agent.process.processIdentifier, SIGTERM)
            return Binary.wait(for: agent, timeout: 15)
        }
    }

    @Test func aPipedSessionPrintsTheSourcesExecUser() throws {
        let user = getuid() == 0 ? "nobody" : String(cString: getpwuid(getuid())!.pointee.pw_name)
        let setup = try Setup(user: getuid() == 0 ? "nobody" : "")
        let result = try setup.sh(#"printf 'id -un\nexit\n' | "$ETCHA" shell -h "$HOST" "$SOURCE""#)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.split(whereSeparator: \.isNewline).contains { $0.hasSuffix(user) && !$0.contains("id -un") })
        #expect(setup.stop().status == 0)
    }

    @Test func onATerminalItIsRawSizedResizedAndRestored() throws {
        let setup = try Setup()
        // script(1) gives the client a terminal; the keystrokes wait in it until the client reads them.
        // A second later the terminal is resized, which sends SIGWINCH to the client.
        let result = try setup.sh(
            #"""
            (printf 'stty size; sleep 2; stty size; exit\n'; sleep 4) | script -qec 'stty rows 33 cols 77; stty -g > before; (sleep 1; stty rows 20 cols 90 < /dev/tty) & "$ETCHA" shell -h "$HOST" "$SOURCE"; echo "status=$?"; stty rows 33 cols 77; stty -g > after' /dev/null
            """#)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("33 77"))
        #expect(result.stdout.contains("20 90"))
        #expect(result.stdout.contains("status=0"))
        #expect(setup.scratch.read("before") != nil)
        #expect(setup.scratch.read("before") == setup.scratch.read("after"))
        #expect(setup.stop().status == 0)
    }

    @Test func refusalsAreOneClearLine() throws {
        let setup = try Setup()
        let result = try setup.sh(#"printf 'exit\n' | "$ETCHA" shell -h "$HOST" nosuchsource"#)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: the agent refused the shell: 404"))
        #expect(setup.stop().status == 0)
    }

    @Test func sigtermEndsOpenShellsAndTheAgentExitsZero() throws {
        let setup = try Setup()
        let keyboard = Pipe()  // stays open: the shell waits for input until the agent stops
        let client = try Binary.start(
            ["shell", "-h", "127.0.0.1:\(setup.port)", setup.source], in: setup.scratch.path, environment: [:],
            stdin: keyboard)
        let deadline = Date().addingTimeInterval(10)
        while !setup.agent.stderr.contains("shell opened") && Date() < deadline { usleep(20_000) }
        #expect(setup.agent.stderr.contains("shell opened"))
        let stopped = Date()
        let outcome = setup.stop()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(Date().timeIntervalSince(stopped) < 5)
        #expect(outcome.stderr.contains(#"msg="shell closed" reason="the agent is stopping""#))
        let clientOutcome = Binary.wait(for: client, timeout: 10)
        #expect(clientOutcome.status == 0, "\(clientOutcome.stderr)")
        try keyboard.fileHandleForWriting.close()
    }
}
