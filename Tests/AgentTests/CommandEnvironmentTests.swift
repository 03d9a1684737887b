import EtchaCore
import EtchaInstrumentation
import Foundation
import Testing

@testable import Agent

/// The environment each step sees: exec env, trigger variables, and what earlier commands left.
@Suite struct CommandEnvironmentTests {
    /// Runs `list` and returns the `env` dump a final command wrote.
    private func environment(after list: String, mode: CommandMode = .change) async throws -> [String: String] {
        let dir = TemporaryDirectory()
        let all = try commands(
            """
            [\(list), {"id": "dump", "always": true, "change": "env > \(dir.path)/env", "remove": "env > \(dir.path)/env"}]
            """)
        _ = await run(mode == .remove ? Array(all.reversed()) : all, mode: mode)
        var result: [String: String] = [:]
        for line in (dir.read("env") ?? "").split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    @Test func unprefixedVariablesDescribeThePreviousCommand() async throws {
        let env = try await environment(after: #"{"id": "a", "check": "echo no; exit 1", "change": "echo yes"}"#)
        #expect(env["_CHECK"] == "1")
        #expect(env["_CHECK_OUT"] == "no")
        #expect(env["_CHANGE"] == "0")
        #expect(env["_CHANGE_OUT"] == "yes")
    }

    @Test func unprefixedVariablesAreClearedByTheNextCommand() async throws {
        let env = try await environment(
            after: """
                {"id": "a", "always": true, "change": "true"}, {"id": "b", "check": "true", "change": "true"}
                """)
        #expect(env["_CHECK"] == "0")
        #expect(env["_CHECK_OUT"] == "")
        #expect(env["_CHANGE"] == nil)
        #expect(env["_CHANGE_OUT"] == nil)
    }

    @Test func prefixedVariablesPersistWithOutputs() async throws {
        let env = try await environment(
            after: """
                {"id": "a", "envPrefix": "PKG", "check": "echo checked; exit 1", "change": "echo installed"},
                {"id": "b", "always": true, "change": "exit 0"}
                """)
        #expect(env["PKG"] == "checked")
        #expect(env["PKG_CHECK"] == "1")
        #expect(env["PKG_CHECK_OUT"] == "checked")
        #expect(env["PKG_CHANGE"] == "0")
        #expect(env["PKG_CHANGE_OUT"] == "installed")
        #expect(env["_CHANGE"] == "0")
    }

    @Test func outputsAreTrimmedAsEtchaTrimsThem() async throws {
        let dir = TemporaryDirectory()
        let list = try commands(
            """
            [{"id": "a", "envPrefix": "PKG", "check": "printf '  checked \\n\\n'; exit 1", "change": "printf '\\tdone\\n'"},
             {"id": "b", "always": true, "change": "[ \\"$PKG\\" = checked ] && [ \\"$PKG_CHANGE_OUT\\" = done ] && touch \(dir.path)/same"}]
            """)
        let result = await run(list, mode: .change)
        #expect(result.changedIDs == ["a", "b"], "\(result.errors)")
        #expect(result.changedOutputs.first == "done")
        #expect(dir.read("same") != nil)
    }

    @Test func failedChangeIsOne() async throws {
        let env = try await environment(
            after: #"{"id": "a", "envPrefix": "A", "always": true, "change": "echo bad; exit 4", "onFail": ["dump"]}"#)
        #expect(env["A_CHANGE"] == "1")
        #expect(env["A_CHANGE_OUT"] == "bad")
    }

    @Test func removeVariables() async throws {
        let dir = TemporaryDirectory()
        let list = try commands(
            """
            [{"id": "dump", "always": true, "remove": "env > \(dir.path)/env"},
             {"id": "a", "envPrefix": "A", "check": "true", "remove": "echo removed"}]
            """)
        _ = await run(list, mode: .remove)
        let env = dir.read("env") ?? ""
        #expect(env.contains("A_CHECK=0\n"))
        #expect(env.contains("A_REMOVE=0\n"))
        #expect(env.contains("A_REMOVE_OUT=removed\n"))
    }

    @Test func execEnvAndTriggerVariablesReachCommands() async throws {
        let dir = TemporaryDirectory()
        var exec = ResolvedExec.shell
        exec.env = ["FROM_EXEC": "1", "SHARED": "exec"]
        _ = await run(
            try commands(#"[{"id": "a", "always": true, "change": "env > \#(dir.path)/env"}]"#), exec: exec,
            environment: ["ETCHA_SOURCE_NAME": "web", "SHARED": "trigger"])
        let env = dir.read("env") ?? ""
        #expect(env.contains("FROM_EXEC=1\n"))
        #expect(env.contains("ETCHA_SOURCE_NAME=web\n"))
        #expect(env.contains("SHARED=trigger\n"))
    }

    @Test func theAgentsEnvironmentIsInheritedOnlyWhenAsked() async throws {
        setenv("AGENT_TEST_INHERITED", "yes", 1)
        let dir = TemporaryDirectory()
        let list = try commands(#"[{"id": "a", "always": true, "change": "echo \"[$AGENT_TEST_INHERITED]\""}]"#)
        var exec = ResolvedExec.shell
        exec.envInherit = false
        #expect(await run(list, exec: exec).changedOutputs == ["[]"])
        exec.envInherit = true
        #expect(await run(list, exec: exec).changedOutputs == ["[yes]"])
        _ = dir
    }
}
