import EtchaCore
import EtchaInstrumentation
import EtchaJSON
import Foundation
import Logging
import Prometheus
import Synchronization
import Testing

@testable import Agent

/// Sources: queueing, overlap, startup, events, and the system events `exit` and `stdout`.
@Suite struct SourceTests: Sendable {
    final class Exits: Sendable {
        let count = Atomic<Int>(0)
    }

    private func sources(_ json: String, dir: TemporaryDirectory, logs: LogRecorder? = nil) throws -> (SourceSet, Exits)
    {
        let loaded = try ConfigLoader(path: dir.write("etcha.json", json), environment: [:]).load()
        let exits = Exits()
        let logger = logs.map { recorder in Logger(label: "test") { _ in recorder } } ?? quietLogger
        let set = try SourceSet(
            loaded: loaded, metrics: EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "t"),
            logger: logger
        ) { exits.count.add(1, ordering: .relaxed) }
        return (set, exits)
    }

    private func lines(_ dir: TemporaryDirectory, _ name: String = "log") -> [String] {
        (dir.read(name) ?? "").split(separator: "\n").map(String.init)
    }

    private func stampSource(_ dir: TemporaryDirectory, runMulti: Bool, maxQueued: Int = 16) -> String {
        """
        {"exec": {"command": "/bin/sh -c"}, "run": {"maxQueuedRuns": \(maxQueued)},
         "sources": {"s": {"runMulti": \(runMulti), "commands": [{"id": "stamp", "always": true,
            "change": "echo start $TAG >> \(dir.path)/log; i=0; while [ $(grep -c start \(dir.path)/log) -lt 2 ] && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done; echo end $TAG >> \(dir.path)/log"}]}}}
        """
    }

    private func trigger(_ set: SourceSet, tag: String) async throws -> RunResult {
        try await set.trigger("s", RunRequest(trigger: .push, environment: ["TAG": tag]))
    }

    /// Two triggers at once: without `runMulti` one run ends before the other starts; with it they overlap.
    @Test(arguments: [(false, ["start", "end", "start", "end"]), (true, ["start", "start", "end", "end"])])
    func overlapFollowsRunMulti(runMulti: Bool, stamps: [String]) async throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources(stampSource(dir, runMulti: runMulti), dir: dir)
        async let first = trigger(set, tag: "1")
        async let second = trigger(set, tag: "2")
        _ = try await (first, second)
        let log = lines(dir)
        #expect(log.map { String($0.split(separator: " ")[0]) } == stamps)
        if !runMulti { #expect(log[0].split(separator: " ")[1] == log[1].split(separator: " ")[1]) }
    }

    @Test func queuedRunsGoInArrivalOrderAndAFullQueueRefuses() async throws {
        let dir = TemporaryDirectory()
        // Each run waits for a go file, so the queue's state does not depend on timing.
        let (set, _) = try sources(
            """
            {"exec": {"command": "/bin/sh -c"}, "run": {"maxQueuedRuns": 2}, "sources": {"s": {"commands": [
               {"id": "stamp", "always": true,
                "change": "echo start $TAG >> \(dir.path)/log; while [ ! -f \(dir.path)/go ]; do sleep 0.01; done"}]}}}
            """, dir: dir)
        let queue = try #require(set["s"]).queue
        let running = Task { try await trigger(set, tag: "A") }
        while lines(dir).isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        let second = Task { try await trigger(set, tag: "B") }
        while await queue.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
        let third = Task { try await trigger(set, tag: "C") }
        while await queue.waiting < 2 { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: SourceError(.queueFull, source: "s")) { try await trigger(set, tag: "D") }
        dir.write("go", "")
        _ = try await (running.value, second.value, third.value)
        #expect(lines(dir) == ["start A", "start B", "start C"])
    }

    @Test func unknownSourceIsRefused() async throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources("{}", dir: dir)
        await #expect(throws: SourceError(.unknownSource, source: "nope")) {
            try await set.trigger("nope", RunRequest(trigger: .push))
        }
    }

    private func eventConfig(_ dir: TemporaryDirectory, _ sendRule: String) -> String {
        """
        {"exec": {"command": "/bin/sh -c"}, "sources": {
          "a": {"eventsSend": "\(sendRule)", "eventsReceive": ["ping"], "commands": [
             {"id": "fire", "always": true, "change": "echo pong", "onChange": ["etcha:ping"]}]},
          "c": {"eventsReceive": ["ping"], "commands": [
             {"id": "c", "always": true, "change": "echo c $ETCHA_SOURCE_TRIGGER $ETCHA_EVENT_NAME $ETCHA_EVENT_ID $ETCHA_EVENT_OUTPUT $ETCHA_EVENT_PUBLIC_KEY $ETCHA_EVENT_SRC >> \(dir.path)/log"}]},
          "b": {"eventsReceive": ["ping"], "eventsSend": ".*", "commands": [
             {"id": "b", "always": true, "change": "echo b $ETCHA_SOURCE_NAME >> \(dir.path)/log", "onChange": ["etcha:ping"]}]},
          "d": {"eventsReceive": ["other"], "commands": [{"id": "d", "always": true, "change": "echo d >> \(dir.path)/log"}]}
        }}
        """
    }

    @Test func eventsReachReceiversAlphabeticallyButNotTheSenderNorChain() async throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources(eventConfig(dir, ".*"), dir: dir)
        let result = try await set.trigger("a", RunRequest(trigger: .push, publicKey: "kid1", remoteAddr: "10.0.0.9"))
        #expect(result.events == [FiredEvent(name: "ping", commandID: "fire", output: "pong\n")])
        // b runs before c; b's own etcha:ping (fired while handling an event) triggers nothing, so a and c run once.
        #expect(lines(dir) == ["b b", "c event ping fire pong kid1 10.0.0.9"])
    }

    @Test func eventsNeedEventsSend() async throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources(eventConfig(dir, "other"), dir: dir)
        _ = try await set.trigger("a", RunRequest(trigger: .push))
        #expect(lines(dir).isEmpty)
    }

    @Test func eventsFromWebhookRunsTriggerNothing() async throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources(eventConfig(dir, ".*"), dir: dir)
        _ = try await set.trigger("a", RunRequest(trigger: .webhook))
        #expect(lines(dir).isEmpty)
    }

    @Test func exitRunsItsReceiversThenStops() async throws {
        let dir = TemporaryDirectory()
        let (set, exits) = try sources(
            """
            {"exec": {"command": "/bin/sh -c"}, "sources": {
              "bye": {"eventsSend": "exit", "commands": [{"id": "bye", "always": true, "change": "true", "onChange": ["etcha:exit"]}]},
              "cleanup": {"eventsReceive": ["exit"], "triggerOnly": true,
                          "commands": [{"id": "c", "always": true, "change": "echo cleanup >> \(dir.path)/log"}]},
              "noisy": {"commands": [{"id": "n", "always": true, "change": "true", "onChange": ["etcha:exit"]}]}
            }}
            """, dir: dir)
        _ = try await set.trigger("noisy", RunRequest(trigger: .push))
        #expect(exits.count.load(ordering: .relaxed) == 0)  // not allowed by its eventsSend
        _ = try await set.trigger("bye", RunRequest(trigger: .push))
        #expect(lines(dir) == ["cleanup"])
        #expect(exits.count.load(ordering: .relaxed) == 1)
    }

    @Test func aReceiverWithEventsReceiveExitStopsTheAgentAfterItRuns() async throws {
        let dir = TemporaryDirectory()
        let (set, exits) = try sources(
            """
            {"exec": {"command": "/bin/sh -c"}, "sources": {
              "sender": {"eventsSend": "done", "commands": [{"id": "s", "always": true, "change": "true", "onChange": ["etcha:done"]}]},
              "last": {"eventsReceive": ["done"], "eventsReceiveExit": true, "triggerOnly": true,
                       "commands": [{"id": "l", "always": true, "change": "echo last >> \(dir.path)/log"}]},
              "other": {"eventsReceive": ["elsewhere"], "eventsReceiveExit": true, "triggerOnly": true}
            }}
            """, dir: dir)
        _ = try await set.trigger("last", RunRequest(trigger: .push))
        #expect(exits.count.load(ordering: .relaxed) == 0)  // run directly, not by an event
        _ = try await set.trigger("sender", RunRequest(trigger: .push))
        #expect(lines(dir) == ["last", "last"])
        #expect(exits.count.load(ordering: .relaxed) == 1)
    }

    @Test func stdoutEventIsLogged() async throws {
        let dir = TemporaryDirectory()
        let logs = LogRecorder()
        let (set, _) = try sources(
            """
            {"exec": {"command": "/bin/sh -c"}, "sources": {"s": {"commands": [
              {"id": "say", "always": true, "change": "echo hello-log", "onChange": ["etcha:stdout"]}]}}}
            """, dir: dir, logs: logs)
        _ = try await set.trigger("s", RunRequest(trigger: .push))
        #expect(logs.messages.contains("hello-log"))
    }

    @Test func startupRunsAllButTriggerOnlyAndCheckOnlyChecks() async throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources(
            """
            {"exec": {"command": "/bin/sh -c"}, "sources": {
              "runs": {"commands": [{"id": "r", "always": true, "change": "touch \(dir.path)/runs"}]},
              "waits": {"triggerOnly": true, "commands": [{"id": "w", "always": true, "change": "touch \(dir.path)/waits"}]},
              "checks": {"checkOnly": true, "commands": [{"id": "k", "check": "exit 1", "change": "touch \(dir.path)/checks"}]}
            }}
            """, dir: dir)
        let results = await set.runAtStartup()
        #expect(dir.exists("runs"))
        #expect(!dir.exists("waits"))
        #expect(!dir.exists("checks"))
        #expect(results["checks"]?.changedIDs == ["k"])
        #expect(results["waits"] == nil)
    }

    @Test func startupRunsSourcesAlphabeticallyOneAfterAnother() async throws {
        let dir = TemporaryDirectory()
        let log = "\(dir.path)/log"
        let (set, _) = try sources(
            """
            {"exec": {"command": "/bin/sh -c"}, "sources": {
              "c": {"commands": [{"id": "c", "always": true, "change": "echo c >> \(log)"}]},
              "a": {"commands": [{"id": "a", "always": true, "change": "echo a-start >> \(log); sleep 0.3; echo a-end >> \(log)"}]},
              "b": {"commands": [{"id": "b", "always": true, "change": "echo b >> \(log)"}]}
            }}
            """, dir: dir)
        await set.runAtStartup()
        #expect(lines(dir) == ["a-start", "a-end", "b", "c"])
    }

    @Test func runsAreCountedExactlyInTheMetrics() async throws {
        let dir = TemporaryDirectory()
        let loaded = try ConfigLoader(
            path: dir.write(
                "etcha.json",
                """
                {"exec": {"command": "/bin/sh -c"}, "sources": {"web": {"commands": [
                  {"id": "ok", "check": "exit 1", "change": "true"},
                  {"id": "group", "commands": [{"id": "inner", "always": true, "change": "true"}]},
                  {"id": "boom", "always": true, "change": "exit 1"}]}}}
                """), environment: [:]
        ).load()
        let metrics = EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "t")
        let set = try SourceSet(loaded: loaded, metrics: metrics, logger: quietLogger) {}
        _ = try await set.trigger("web", RunRequest(trigger: .push, publicKey: "k1", remoteAddr: "127.0.0.1"))
        _ = try await set.trigger("web", RunRequest(trigger: .webhook, remoteAddr: "::1"))
        let lines = String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n").map(String.init)
        let commands = lines.filter { $0.hasPrefix("etcha_commands_total{") }.sorted()
        let push = #"public_key="k1",remote_addr="127.0.0.1",source="web"}"#
        let hook = #"public_key="",remote_addr="::1",source="web"}"#
        #expect(
            commands == [
                #"etcha_commands_total{error="0",id="inner",mode="change",parent_id="group","# + hook + " 1",
                #"etcha_commands_total{error="0",id="inner",mode="change",parent_id="group","# + push + " 1",
                #"etcha_commands_total{error="0",id="ok",mode="change",parent_id="","# + hook + " 1",
                #"etcha_commands_total{error="0",id="ok",mode="change",parent_id="","# + push + " 1",
                #"etcha_commands_total{error="1",id="boom",mode="change",parent_id="","# + hook + " 1",
                #"etcha_commands_total{error="1",id="boom",mode="change",parent_id="","# + push + " 1",
                #"etcha_commands_total{error="1",id="ok",mode="check",parent_id="","# + hook + " 1",
                #"etcha_commands_total{error="1",id="ok",mode="check",parent_id="","# + push + " 1",
            ])
        #expect(
            lines.filter { $0.hasPrefix("etcha_sources_total{") }.sorted() == [
                #"etcha_sources_total{error="1",name="web",public_key="",remote_addr="::1",trigger="webhook"} 1"#,
                #"etcha_sources_total{error="1",name="web",public_key="k1",remote_addr="127.0.0.1",trigger="push"} 1"#,
            ])
        #expect(
            lines.contains(
                #"etcha_sources_commands{mode="change",name="web",public_key="k1",remote_addr="127.0.0.1",trigger="push"} 2.0"#
            ))
    }

    @Test func agentRepeatsRunsAndStopsOnExit() async throws {
        let dir = TemporaryDirectory()
        let loaded = try ConfigLoader(
            path: dir.write(
                "etcha.json",
                """
                {"exec": {"command": "/bin/sh -c"}, "sources": {
                  "tick": {"runFrequency": "100ms", "commands": [{"id": "t", "always": true, "change": "echo t >> \(dir.path)/log"}]},
                  "stop": {"triggerOnly": true, "runFrequency": "100ms", "eventsSend": "exit",
                           "commands": [{"id": "s", "always": true, "change": "true", "onChange": ["etcha:exit"]}]}
                }}
                """), environment: [:]
        ).load()
        let agent = try Agent(
            loaded: loaded, metrics: EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "t"),
            logger: quietLogger)
        let running = Task { try await agent.run() }
        while lines(dir).count < 4 { try await Task.sleep(for: .milliseconds(20)) }
        _ = try await agent.sources.trigger("stop", RunRequest(trigger: .push))
        try await running.value
        let count = lines(dir).count
        try await Task.sleep(for: .milliseconds(300))
        #expect(lines(dir).count == count)  // no more runs once stopped
    }

    /// The last render is reused only for the same files and configuration, and never when it read a
    /// file or ran a command.
    @Test func aRenderIsReusedOnlyForTheSameInputsAndWhenItReadNothingOutside() throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources(#"{"sources": {"s": {}}}"#, dir: dir)
        let source = try #require(set["s"])
        var renders = 0
        func pattern(_ main: String, vars: JSON = .object([:])) throws -> Pattern {
            let inputs = Source.RenderInputs(
                entrypoint: "/main.jsonnet", files: ["/main.jsonnet": main], configuration: .object(["vars": vars]))
            return try source.pattern(renderedFrom: inputs) { inputs throws(CommandError) in
                renders += 1
                return try PatternRenderer.render(
                    .files(entrypoint: inputs.entrypoint, files: inputs.files), configuration: inputs.configuration)
            }
        }
        let pure = "{run: [{id: std.native('getConfig')().vars.name, always: true, change: 'true'}]}"
        #expect(try pattern(pure, vars: .object(["name": "a"])).run.map(\.id) == ["a"])
        #expect(try pattern(pure, vars: .object(["name": "a"])).run.map(\.id) == ["a"])
        #expect(renders == 1)
        #expect(try pattern(pure, vars: .object(["name": "b"])).run.map(\.id) == ["b"])
        #expect(try pattern(pure + " // edited", vars: .object(["name": "b"])).run.map(\.id) == ["b"])
        #expect(renders == 3)

        let file = dir.write("id", "first")
        let reading = "{run: [{id: std.native('getFile')('\(file)', 'none'), always: true, change: 'true'}]}"
        #expect(try pattern(reading).run.map(\.id) == ["first"])
        _ = dir.write("id", "second")
        #expect(try pattern(reading).run.map(\.id) == ["second"])
        let running = "{run: [{id: std.native('getCmd')('cat \(file)', 'none'), always: true, change: 'true'}]}"
        #expect(try pattern(running).run.map(\.id) == ["second"])
        _ = dir.write("id", "third")
        #expect(try pattern(running).run.map(\.id) == ["third"])
        #expect(renders == 7)
    }

    /// A push leaves its render where the next push of the same token contents finds it.
    @Test func aPushKeepsItsRenderForTheNextPushOfTheSamePattern() async throws {
        let dir = TemporaryDirectory()
        let (set, _) = try sources(
            #"{"exec": {"command": "/bin/sh -c"}, "run": {"stateDir": "\#(dir.path)", "verifyKeys": ["\#(tutorialPublicKey)"]}, "sources": {"web": {"allowPush": true}}}"#,
            dir: dir)
        let source = try #require(set["web"])
        _ = try await set.push(
            "web", token: PushTests.token("[{id: 'a', always: true, change: 'true'}]"), checkOnly: false,
            remoteAddr: "127.0.0.1")
        let signed = try #require(source.signed)
        let pattern = try source.pattern(renderedFrom: set.renderInputs(signed, for: source)) {
            _ throws(CommandError) in
            Issue.record("rendered again")
            throw CommandError(.render, "rendered again")
        }
        #expect(pattern.run.map(\.id) == ["a"])
    }
}

/// A log handler keeping messages for assertions.
final class LogRecorder: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lock.withLock { stored.append(event.message.description) }
    }

    var messages: [String] { lock.withLock { stored } }
}
