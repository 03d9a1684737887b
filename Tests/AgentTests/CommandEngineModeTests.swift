import EtchaCore
import EtchaInstrumentation
import Foundation
import Testing

@testable import Agent

/// Which steps run in each mode (docs/behaviour.md#4-patterns-and-commands), table-driven: every
/// command writes a marker per step.
@Suite struct CommandEngineModeTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var mode: CommandMode
        var check: String?  // nil: no check
        var always = false
        var expected: [String]  // steps that ran, in order
        var changed = false
        var removed = false
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "change: check fails → change runs", mode: .change, check: "exit 1", expected: ["check", "change"],
            changed: true),
        Case(name: "change: check passes → no change", mode: .change, check: "exit 0", expected: ["check"]),
        Case(name: "change: no check → nothing", mode: .change, check: nil, expected: []),
        Case(
            name: "change: always with passing check", mode: .change, check: "exit 0", always: true,
            expected: ["check", "change"], changed: true),
        Case(
            name: "change: always without check", mode: .change, check: nil, always: true, expected: ["change"],
            changed: true),
        Case(
            name: "check: failing check reported, no change", mode: .check, check: "exit 1", expected: ["check"],
            changed: true),
        Case(name: "check: passing check", mode: .check, check: "exit 0", expected: ["check"]),
        Case(name: "check: no check", mode: .check, check: nil, expected: []),
        Case(
            name: "remove: check passes → remove", mode: .remove, check: "exit 0", expected: ["check", "remove"],
            removed: true),
        Case(name: "remove: check fails → no remove", mode: .remove, check: "exit 1", expected: ["check"]),
        Case(name: "remove: no check → nothing", mode: .remove, check: nil, expected: []),
        Case(
            name: "remove: always with failing check", mode: .remove, check: "exit 1", always: true,
            expected: ["check", "remove"], removed: true),
    ]

    @Test(arguments: cases)
    func stepsRunPerMode(_ testCase: Case) async throws {
        let dir = TemporaryDirectory()
        var command = Command(id: "a")
        if let check = testCase.check { command.check = "echo check >> \(dir.path)/log; \(check)" }
        command.change = "echo change >> \(dir.path)/log"
        command.remove = "echo remove >> \(dir.path)/log"
        command.always = testCase.always
        let result = await run([command], mode: testCase.mode)
        let steps = (dir.read("log") ?? "").split(separator: "\n").map(String.init)
        #expect(steps == testCase.expected)
        #expect(result.changedIDs == (testCase.changed ? ["a"] : []))
        #expect(result.removedIDs == (testCase.removed ? ["a"] : []))
        #expect(result.errors.isEmpty)
    }

    @Test func removeModeWalksTheListBackwards() async throws {
        let dir = TemporaryDirectory()
        let list = try commands(
            """
            [{"id": "a", "check": "true", "remove": "echo a >> \(dir.path)/log"},
             {"id": "b", "check": "true", "remove": "echo b >> \(dir.path)/log"}]
            """)
        let result = await run(list, mode: .remove)
        #expect(dir.read("log") == "b\na\n")
        #expect(result.removedIDs == ["b", "a"])
    }

    @Test func changeOutputIsReturned() async throws {
        let result = await run(try commands(#"[{"id": "a", "always": true, "change": "echo out; echo err >&2"}]"#))
        #expect(result.changedOutputs == ["out\nerr"])
    }

    @Test func failedChangeStopsTheRunWithoutOnFail() async throws {
        let dir = TemporaryDirectory()
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "exit 3"},
                 {"id": "b", "always": true, "change": "touch \(dir.path)/b"}]
                """))
        #expect(result.errors == ["a: change: exited 3"])
        #expect(!dir.exists("b"))
        #expect(result.changedIDs.isEmpty)
    }

    @Test func failedRemoveIsAnError() async throws {
        let result = await run(try commands(#"[{"id": "a", "always": true, "remove": "exit 2"}]"#), mode: .remove)
        #expect(result.errors == ["a: remove: exited 2"])
        #expect(result.removedIDs.isEmpty)
    }

    @Test func stdinReachesEveryStep() async throws {
        let dir = TemporaryDirectory()
        let list = try commands(
            """
            [{"id": "a", "stdin": "hello", "check": "cat > \(dir.path)/check; exit 1", "change": "cat > \(dir.path)/change"}]
            """)
        _ = await run(list)
        #expect(dir.read("check") == "hello")
        #expect(dir.read("change") == "hello")
    }

    @Test func emptyStdinIsEndOfFile() async throws {
        let result = await run(try commands(#"[{"id": "a", "always": true, "change": "cat; echo done"}]"#))
        #expect(result.changedOutputs == ["done"])
    }
}
