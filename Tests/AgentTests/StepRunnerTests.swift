import EtchaInstrumentation
import Foundation
import Testing

@testable import Agent

/// Process handling of each step: timeouts kill the whole group, output is bounded, nothing is left.
@Suite struct StepRunnerTests {
    /// Whether `pid` stops running within `polls` checks 20 ms apart.
    private func isGone(_ pid: Int32, within polls: Int) async throws -> Bool {
        for _ in 0..<polls {
            if isNotRunning(pid) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return isNotRunning(pid)
    }

    @Test func timeoutKillsTheWholeProcessGroup() async throws {
        let dir = TemporaryDirectory()
        let started = ContinuousClock.now
        let result = await StepRunner.run(
            "sleep 60 & echo $! > \(dir.path)/child; wait", exec: .shell, environment: [:], stdin: "",
            deadline: .now + .milliseconds(500))
        #expect(result.failure == "timed out")
        #expect(result.status == nil)
        // Far less than the child's 60 s, with room for a loaded machine running the whole suite.
        #expect(ContinuousClock.now - started < .seconds(30))
        let child = try #require(Int32(dir.read("child")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        // The grandchild died with its group (it may linger as init's zombie until reaped).
        #expect(try await isGone(child, within: 50))
    }

    @Test func aForkedDaemonThatIgnoresSIGTERMDiesWithTheGroupAtTheTimeout() async throws {
        let dir = TemporaryDirectory()
        let result = await StepRunner.run(
            "sh -c 'trap \"\" TERM HUP INT; echo $$ > \(dir.path)/daemon; while :; do sleep 1; done' & wait",
            exec: .shell,
            environment: [:], stdin: "", deadline: .now + .milliseconds(500))
        #expect(result.failure == "timed out")
        let daemon = try #require(Int32(dir.read("daemon")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        #expect(try await isGone(daemon, within: 100))
    }

    @Test func cancellationKillsTheRunningGroupAtOnce() async throws {
        let dir = TemporaryDirectory()
        let run = Task {
            await StepRunner.run(
                "sleep 60 & echo $! > \(dir.path)/child; wait", exec: .shell, environment: [:], stdin: "",
                deadline: .now + .seconds(120))
        }
        var child: Int32?
        for _ in 0..<250 where child == nil {
            child = Int32(dir.read("child")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            if child == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let started = ContinuousClock.now
        run.cancel()
        let result = await run.value
        #expect(result.failure == "killed: the agent is shutting down")
        #expect(result.status == nil)
        #expect(ContinuousClock.now - started < .seconds(30))
        let grandchild = try #require(child)
        #expect(try await isGone(grandchild, within: 100))
    }

    @Test func aStepCancelledBeforeItStartsNeverRuns() async throws {
        // The program does not exist: a step that tried to start it would fail with "cannot run"
        // (a started-then-killed `sh` could not be told from one never started by its effects).
        let run = Task {
            // Cancelled before it gets here: the cancellation handler runs at once.
            withUnsafeCurrentTask { $0?.cancel() }
            return await StepRunner.run(
                "anything", exec: ResolvedExec(topLevel: Exec(command: "/nonexistent/sh -c")), environment: [:],
                stdin: "", deadline: .now + .seconds(60))
        }
        let result = await run.value
        #expect(result.failure == "killed: the agent is shutting down")
        #expect(result.status == nil)
    }

    /// A script that closes or redirects its own output still ends at its deadline: the end of the
    /// output is not the end of the step.
    @Test(arguments: ["exec >/dev/null 2>&1; sleep 60", "exec >&- 2>&-; sleep 60", "exec >&- 2>&- <&-; sleep 60"])
    func aScriptThatLetsGoOfItsOutputStillEndsAtTheDeadline(script: String) async throws {
        let started = ContinuousClock.now
        let result = await StepRunner.run(
            script, exec: .shell, environment: [:], stdin: "input", deadline: .now + .milliseconds(500))
        #expect(result.failure == "timed out")
        #expect(result.status == nil)
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func cancellationEndsAScriptThatLetGoOfItsOutput() async throws {
        let run = Task {
            await StepRunner.run(
                "exec >/dev/null 2>&1; sleep 60", exec: .shell, environment: [:], stdin: "",
                deadline: .now + .seconds(120))
        }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        run.cancel()
        let result = await run.value
        #expect(result.failure == "killed: the agent is shutting down")
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func aScriptThatClosesItsOutputAndExitsReportsItsStatus() async throws {
        let result = await StepRunner.run(
            "echo before; exec >&- 2>&-; sleep 0.2; exit 3", exec: .shell, environment: [:], stdin: "",
            deadline: .now + .seconds(30))
        #expect(result.failure == nil)
        #expect(result.status == 3)
        #expect(result.output == "before\n")
    }

    @Test func aStepEndsWhenItsScriptExitsEvenIfABackgroundChildHoldsTheOutput() async throws {
        let dir = TemporaryDirectory()
        let started = ContinuousClock.now
        let result = await StepRunner.run(
            "sleep 120 & echo $! > \(dir.path)/child; echo done", exec: .shell, environment: [:], stdin: "",
            deadline: .now + .seconds(90))
        #expect(result.status == 0)
        #expect(result.output == "done\n")
        #expect(ContinuousClock.now - started < .seconds(30))
        if let child = Int32(dir.read("child")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
            kill(child, SIGKILL)
        }
    }

    /// A step leads a process group of its own (the timeout kills the group) but stays in the agent's
    /// session: with scheduler autogroups, a session of its own would be a scheduling group weighted
    /// like the whole agent, and concurrent commands starved the agent serving them.
    @Test func aStepLeadsItsOwnProcessGroupInTheAgentsSession() async throws {
        try await expectOwnGroupInOurSession(exec: .shell)
    }

    /// The same for a step run as another user (forked rather than spawned; root only).
    @Test(.enabled(if: getuid() == 0)) func aStepRunAsAnotherUserLeadsItsOwnProcessGroupInTheAgentsSession()
        async throws
    {
        var exec = ResolvedExec.shell
        (exec.user, exec.group) = ("nobody", "nogroup")
        try await expectOwnGroupInOurSession(exec: exec)
    }

    private func expectOwnGroupInOurSession(exec: ResolvedExec) async throws {
        // "pid pgid sid|autogroup": the autogroup part is empty on kernels without autogroups and for
        // processes in session 0 (a service manager's children that never called setsid), where
        // /proc/PID/autogroup reads empty; the step's must then be empty as well.
        let result = await StepRunner.run(
            "echo \"$$ $(cut -d' ' -f5,6 /proc/$$/stat)|$(cut -d' ' -f1 /proc/$$/autogroup 2>/dev/null)\"",
            exec: exec, environment: [:], stdin: "", deadline: .now + .seconds(10))
        #expect(result.status == 0, "\(result)")
        let parts = result.output.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "|", omittingEmptySubsequences: false)
        try #require(parts.count == 2, "\(result.output)")
        let ids = parts[0].split(separator: " ").map(String.init)
        try #require(ids.count == 3, "\(result.output)")
        #expect(ids[1] == ids[0], "the step's process group is its own")
        #expect(ids[2] == String(getsid(0)), "the step is in the agent's session")
        let mine = (try? String(contentsOfFile: "/proc/self/autogroup", encoding: .utf8)) ?? ""
        #expect(parts[1] == mine.split(separator: " ").first.map(String.init) ?? "", "the agent's autogroup")
    }

    /// A step starts with no signal blocked or ignored, although the agent ignores SIGPIPE and the
    /// spawning thread (libdispatch's) blocks every signal, on the vfork path and on the fork path
    /// taken to change user.
    /// (The fork path needs root: only root may change user.)
    @Test(arguments: getuid() == 0 ? [false, true] : [false])
    func aStepStartsWithDefaultSignals(asAnotherUser: Bool) async throws {
        var exec = ResolvedExec.shell
        if asAnotherUser { (exec.user, exec.group) = ("nobody", "nogroup") }
        let result = await StepRunner.run(
            "exec grep -E '^Sig(Blk|Ign):' /proc/self/status", exec: exec, environment: [:], stdin: "",
            deadline: .now + .seconds(10))
        #expect(result.status == 0, "\(result)")
        #expect(result.output == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let ours = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") })
        let ignored = try #require(
            UInt64(ours.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16))
        #expect(ignored & (1 << (SIGPIPE - 1)) != 0, "the agent itself ignores SIGPIPE")
    }

    @Test func outputIsCutAtOneMebibyteWithAMark() async throws {
        let result = await StepRunner.run(
            "head -c 5242880 /dev/zero | tr '\\0' 'x'", exec: .shell, environment: [:], stdin: "",
            deadline: .now + .seconds(30))
        #expect(result.status == 0)
        let mark = "\n[etcha: output truncated, \(5 * 1_048_576 - 1_048_576) more bytes dropped]"
        #expect(result.output.utf8.count == 1_048_576 + mark.utf8.count)
        #expect(result.output.hasSuffix(mark))
        #expect(result.output.utf8.prefix(1_048_576).allSatisfy { $0 == UInt8(ascii: "x") })
    }

    @Test func stderrAndStdoutAreInterleaved() async throws {
        let result = await StepRunner.run(
            "echo one; echo two >&2; echo three", exec: .shell, environment: [:], stdin: "",
            deadline: .now + .seconds(10))
        #expect(result.output == "one\ntwo\nthree\n")
    }

    @Test func missingInterpreterIsAFailureNotACrash() async throws {
        var exec = ResolvedExec.shell
        exec.command = "/nonexistent/sh -c"
        let result = await StepRunner.run("true", exec: exec, environment: [:], stdin: "", deadline: .now + .seconds(5))
        #expect(result.status == nil)
        #expect(result.failure != nil)
    }

    @Test func aThousandRunsLeaveNoZombie() async throws {
        for _ in 0..<1000 {
            let result = await StepRunner.run(
                "true", exec: .shell, environment: [:], stdin: "", deadline: .now + .seconds(10))
            #expect(result.status == 0)
        }
        // Other suites in this process start children too, and each is a zombie for the moment
        // between its exit and its reaping (longer under the sanitizers): a leak stays, they pass.
        var zombies = zombieChildren()
        for _ in 0..<100 where !zombies.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            zombies = zombieChildren()
        }
        #expect(zombies.isEmpty)
    }

    @Test func runTimeoutStopsTheRestOfTheRun() async throws {
        let dir = TemporaryDirectory()
        let result = await run(
            try commands(
                """
                [{"id": "slow", "always": true, "change": "sleep 5"},
                 {"id": "next", "always": true, "change": "touch \(dir.path)/next"}]
                """), timeout: .milliseconds(300))
        #expect(result.errors == ["slow: change: timed out"])
        #expect(!dir.exists("next"))
    }
}
