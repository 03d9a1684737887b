import EtchaInstrumentation
import Foundation
import Testing

@testable import Agent

/// `onChange`, `onFail` and `onRemove` targets: by id, by regex and as events; ordering and
/// no-self rules checked when the pattern is read.
@Suite struct CommandTargetTests {
    @Test func onChangeByIdRunsTheTarget() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "true", "onChange": ["c"]},
                 {"id": "b", "change": "true"},
                 {"id": "c", "change": "true"}]
                """))
        #expect(result.changedIDs == ["a", "c"])
    }

    @Test func onChangeByRegexRunsEveryMatchAfterIt() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "true", "onChange": ["restart .*"]},
                 {"id": "restart web", "change": "true"},
                 {"id": "other", "change": "true"},
                 {"id": "restart db", "change": "true"}]
                """))
        #expect(result.changedIDs == ["a", "restart web", "restart db"])
    }

    @Test func onChangeDoesNotFireWithoutAChange() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "check": "true", "change": "true", "onChange": ["b"]},
                 {"id": "b", "change": "true"}]
                """))
        #expect(result.changedIDs.isEmpty)
    }

    @Test func onFailRunsTheTargetAndTheRunGoesOn() async throws {
        let dir = TemporaryDirectory()
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "exit 1", "onFail": ["handle"]},
                 {"id": "b", "change": "touch \(dir.path)/b"},
                 {"id": "handle", "change": "touch \(dir.path)/handled"},
                 {"id": "after", "always": true, "change": "touch \(dir.path)/after"}]
                """))
        #expect(dir.exists("handled"))
        #expect(dir.exists("after"))
        #expect(!dir.exists("b"))
        #expect(result.changedIDs == ["handle", "after"])
        #expect(result.errors == ["a: change: exited 1"])
    }

    @Test func onRemoveTargetsCommandsBeforeIt() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "remove": "true"},
                 {"id": "b", "always": true, "remove": "true", "onRemove": ["a"]}]
                """), mode: .remove)
        #expect(result.removedIDs == ["b", "a"])
    }

    @Test func eventsAreCollectedWithIdAndOutput() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "echo hi", "onChange": ["etcha:notify"]},
                 {"id": "b", "always": true, "change": "exit 1", "onFail": ["etcha:broken"]}]
                """))
        #expect(
            result.events == [
                FiredEvent(name: "notify", commandID: "a", output: "hi\n"),
                FiredEvent(name: "broken", commandID: "b", output: ""),
            ])
    }

    @Test func onRemoveFiresEvents() async throws {
        let result = await run(
            try commands(#"[{"id": "a", "always": true, "remove": "echo gone", "onRemove": ["etcha:removed"]}]"#),
            mode: .remove)
        #expect(result.events == [FiredEvent(name: "removed", commandID: "a", output: "gone\n")])
    }

    @Test func checkModeFollowsTargetsButFiresNoEvents() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "check": "false", "change": "true", "onChange": ["b", "etcha:x"]},
                 {"id": "b", "check": "true", "change": "true"}]
                """), mode: .check)
        #expect(result.changedIDs == ["a"])
        #expect(result.events.isEmpty)
    }

    struct BadTarget: CustomTestStringConvertible, Sendable {
        var json: String
        var message: String
        var testDescription: String { message }
    }

    static let badTargets: [BadTarget] = [
        BadTarget(
            json: #"[{"id": "a", "onChange": ["a"]}]"#, message: "run[0] (a).onChange: a command cannot target itself"),
        BadTarget(
            json: #"[{"id": "b"}, {"id": "a", "onChange": ["b"]}]"#,
            message: "run[1] (a).onChange: target \"b\" must come after the command in the same list"),
        BadTarget(
            json: #"[{"id": "a", "onRemove": ["b"]}, {"id": "b"}]"#,
            message: "run[0] (a).onRemove: target \"b\" must come before the command in the same list"),
        BadTarget(
            json: #"[{"id": "a", "onFail": ["nothing.*"]}, {"id": "b"}]"#,
            message: "run[0] (a).onFail: \"nothing.*\" matches no command after it in the same list"),
        BadTarget(
            json: #"[{"id": "a", "onChange": ["(unclosed"]}]"#,
            message: "run[0] (a).onChange: \"(unclosed\" is neither an id in this list nor a valid regex"),
        BadTarget(
            json: #"[{"id": "a", "onChange": ["etcha:"]}]"#,
            message: "run[0] (a).onChange: \"etcha:\" needs an event name"),
        BadTarget(
            json: #"[{"id": "g", "commands": [{"id": "b", "onChange": ["d"]}]}, {"id": "d"}]"#,
            message: "run[0] (g).commands[0] (b).onChange: \"d\" matches no command after it in the same list"),
    ]

    @Test(arguments: badTargets)
    func badTargetsAreErrorsWhenRead(_ bad: BadTarget) throws {
        #expect(throws: CommandError(.invalid, bad.message)) { try commands(bad.json) }
    }

    @Test func malformedCommandsAreErrorsNamingThePath() throws {
        #expect(throws: CommandError(.invalid, "run[1].id: every command needs an id")) {
            try commands(#"[{"id": "a"}, {"change": "x"}]"#)
        }
        #expect(throws: CommandError(.invalid, "run[0].onchange: unknown command key (did you mean onChange?)")) {
            try commands(#"[{"id": "a", "onchange": ["b"]}]"#)
        }
        #expect(throws: CommandError(.invalid, "run[0].zzz: unknown command key")) {
            try commands(#"[{"id": "a", "zzz": 1}]"#)
        }
        #expect(throws: CommandError(.invalid, "runExce: unknown pattern key (did you mean runExec?)")) {
            try Pattern(json: .object(["runExce": .object([:])]))
        }
        #expect(throws: CommandError(.invalid, "run[0] (a).always: expected a boolean, got a string")) {
            try commands(#"[{"id": "a", "always": "yes"}]"#)
        }
        #expect(throws: CommandError(.invalid, "run[0] (a).envPrefix: \"1X\" is not a valid environment variable name"))
        {
            try commands(#"[{"id": "a", "envPrefix": "1X"}]"#)
        }
    }

    @Test func nestedListsFlattenInOrderAndNullsAreSkipped() throws {
        let list = try commands(#"[[{"id": "a"}, [{"id": "b"}]], null, {"id": "c"}]"#)
        #expect(list.map(\.id) == ["a", "b", "c"])
    }
}
