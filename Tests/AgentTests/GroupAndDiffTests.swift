import EtchaCore
import EtchaInstrumentation
import Foundation
import Prometheus
import Testing

@testable import Agent

/// Nested `commands` groups, and the diff that turns a pattern change into removals.
@Suite struct GroupAndDiffTests {
    @Test func groupsRunInOrderAndScopeTheirTargets() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "group", "commands": [
                    {"id": "b", "always": true, "change": "true", "onChange": ["c"]},
                    {"id": "c", "change": "true"}]},
                 {"id": "c", "change": "true"}]
                """))
        #expect(result.changedIDs == ["b", "c"])
    }

    @Test func targetingAGroupRunsAllOfIt() async throws {
        let result = await run(
            try commands(
                """
                [{"id": "a", "always": true, "change": "true", "onChange": ["group"]},
                 {"id": "group", "commands": [{"id": "x", "change": "true"}, {"id": "y", "change": "true"}]}]
                """))
        #expect(result.changedIDs == ["a", "x", "y"])
    }

    @Test func nestedCommandsAreCountedWithTheirParentID() async throws {
        let metrics = EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "test")
        _ = await run(
            try commands(#"[{"id": "group", "commands": [{"id": "x", "always": true, "change": "true"}]}]"#),
            metrics: metrics)
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(
            text.contains(
                #"etcha_commands_total{error="0",id="x",mode="change",parent_id="group",public_key="",remote_addr="",source="test"} 1"#
            ))
    }

    @Test func diffRemovesWhatIsGoneAndWhatChanged() throws {
        let old = try commands(
            """
            [{"id": "kept", "change": "a"}, {"id": "gone", "change": "b"}, {"id": "edited", "change": "c"},
             {"id": "ignored", "change": "d"}, {"id": "late", "change": "e"}]
            """)
        let new = try commands(
            """
            [{"id": "kept", "change": "a"}, {"id": "edited", "change": "c2"},
             {"id": "ignored", "change": "d2", "changeIgnore": true}, {"id": "late", "change": "e2", "removeAfter": true}]
            """)
        let diff = PatternDiff(from: old, to: new)
        #expect(diff.removeBefore.map(\.id) == ["gone", "edited"])
        #expect(diff.removeAfter.map(\.id) == ["late"])
    }

    @Test func applyRemovesBeforeOrAfterTheChange() async throws {
        let dir = TemporaryDirectory()
        let log = "\(dir.path)/log"
        let old = try commands(
            """
            [{"id": "early", "check": "true", "change": "old", "remove": "echo remove-early >> \(log)"},
             {"id": "late", "check": "true", "change": "old", "remove": "echo remove-late >> \(log)"}]
            """)
        let new = try commands(
            """
            [{"id": "early", "always": true, "change": "echo change-early >> \(log)"},
             {"id": "late", "always": true, "change": "echo change-late >> \(log)", "removeAfter": true}]
            """)
        let engine = CommandEngine(metrics: nil, logger: quietLogger)
        let context = CommandEngine.Context(
            exec: .shell, environment: [:], origin: RunOrigin(source: "s", trigger: .push),
            deadline: .now + .seconds(30))
        let replacement = await engine.apply(new, replacing: old, context: context)
        let result = replacement.result
        #expect(replacement.removalsDone)
        #expect(dir.read("log") == "remove-early\nchange-early\nchange-late\nremove-late\n")
        #expect(result.removedIDs == ["early", "late"])
        #expect(result.changedIDs == ["early", "late"])
    }
}
