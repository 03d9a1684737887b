import EtchaInstrumentation
import Foundation
import Testing

@testable import Agent

/// The exec chain: top-level → source → pattern `runExec` → command `exec`, each step only where
/// the parent allows overrides.
@Suite struct ExecChainTests {
    @Test func childFieldsOverrideAndEnvMerges() throws {
        var top = ResolvedExec.shell
        top.env = ["A": "top", "B": "top"]
        let merged = top.overridden(
            by: Exec(command: "/bin/bash -c", env: ["B": "child"], workDir: "/tmp"), at: "x")
        #expect(merged.command == "/bin/bash -c")
        #expect(merged.env == ["A": "top", "B": "child"])
        #expect(merged.workDir == "/tmp")
        #expect(merged.allowOverride == false)  // below the top level, Etcha's default
    }

    @Test func aRefusedOverrideFallsBackToTheParentWithAWarning() throws {
        var top = ResolvedExec.shell
        top.allowOverride = false
        var warnings: [String] = []
        #expect(top.overridden(by: Exec(env: ["A": "1"]), at: "x") { warnings.append($0) } == top)
        #expect(warnings == ["x is ignored: the parent exec sets allowOverride false"])
        // An empty override changes nothing and is not refused.
        #expect(top.overridden(by: Exec(), at: "y") { warnings.append($0) } == top)
        #expect(top.overridden(by: nil, at: "z") { warnings.append($0) } == top)
        #expect(warnings.count == 1)
    }

    @Test func everyLevelMustAllowTheNext() throws {
        let top = ResolvedExec.shell
        let source = top.overridden(by: Exec(env: ["S": "1"]), at: "source")
        #expect(source.overridden(by: Exec(env: ["P": "1"]), at: "runExec") == source)
        let open = top.overridden(by: Exec(allowOverride: true, env: ["S": "1"]), at: "source")
        let pattern = open.overridden(by: Exec(allowOverride: true, env: ["P": "1"]), at: "runExec")
        #expect(pattern.overridden(by: Exec(env: ["C": "1"]), at: "command").env == ["S": "1", "P": "1", "C": "1"])
    }

    @Test func theTopLevelInheritsTheEnvironmentWithoutTheAgentsOwnVariables() {
        #expect(ResolvedExec(topLevel: Exec()).envInherit)
        setenv("ETCHA_RUN_SYSTEMMETRICSKEY", "secret", 1)
        defer { unsetenv("ETCHA_RUN_SYSTEMMETRICSKEY") }
        let inherited = CommandEngine.inheritableEnvironment()
        #expect(inherited["ETCHA_RUN_SYSTEMMETRICSKEY"] == nil)
        #expect(inherited["PATH"] != nil)
    }

    @Test func commandExecOverrideRuns() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "echo $WHO", "exec": {"env": {"WHO": "command"}}}]
                """))
        #expect(result.changedOutputs == ["command"])
    }

    @Test func aRefusedCommandExecRunsWithTheParentExec() async throws {
        let dir = TemporaryDirectory()
        var exec = ResolvedExec.shell
        exec.allowOverride = false
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "echo [$X] > \(dir.path)/ran", "exec": {"env": {"X": "1"}}}]
                """), exec: exec)
        #expect(result.errors.isEmpty)
        #expect(dir.read("ran") == "[]\n")
    }

    @Test func workDirAndCommandAreUsed() async throws {
        let dir = TemporaryDirectory()
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "pwd", "exec": {"workDir": "\(dir.path)", "command": "/bin/bash -c"}}]
                """))
        #expect(result.changedOutputs == ["\(dir.path)"])
    }

    @Test func commandLineSplitsLikeAShell() throws {
        #expect(
            try splitCommandLine("/usr/bin/bash -e -o pipefail -c") == ["/usr/bin/bash", "-e", "-o", "pipefail", "-c"])
        #expect(try splitCommandLine(#"sh -c 'a b' "c \"d\"" e\ f"#) == ["sh", "-c", "a b", #"c "d""#, "e f"])
        #expect(throws: CommandError.self) { try splitCommandLine("sh 'open") }
    }

    @Test func emptyCommandRunsTheScriptItself() async throws {
        var exec = ResolvedExec.shell
        exec.command = ""
        let result = await run(
            try commands(#"[{"id": "a", "always": true, "change": "/bin/echo direct"}]"#), exec: exec)
        #expect(result.changedOutputs == ["direct"])
    }

    @Test func sudoPrefixesOnlyWhenNotRoot() throws {
        var exec = ResolvedExec.shell
        exec.sudo = true
        let argv = try StepRunner.arguments(for: "id", exec: exec)
        #expect(argv == (getuid() == 0 ? ["/bin/sh", "-c", "id"] : ["sudo", "-E", "/bin/sh", "-c", "id"]))
    }

    @Test(.enabled(if: getuid() == 0)) func userAndGroupRunTheCommandAsThem() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "id -u; id -g", "exec": {"user": "nobody", "group": "nogroup"}}]
                """))
        let nobody = try #require(getpwnam("nobody"))
        let nogroup = try #require(getgrnam("nogroup"))
        #expect(result.changedOutputs == ["\(nobody.pointee.pw_uid)\n\(nogroup.pointee.gr_gid)"])
    }

    @Test func unknownUserIsAnError() async throws {
        let result = await run(
            try commands(#"[{"id": "a", "always": true, "change": "true", "exec": {"user": "no-such-user-x"}}]"#))
        #expect(result.errors.count == 1)
        #expect(result.changedIDs.isEmpty)
    }
}
