import Foundation
import Testing

/// The README's walk-through, run as a newcomer runs it: the demo agent from `examples/demo/etcha`
/// (on a free port and a scratch state directory), then every trigger the README shows.
@Suite struct DemoTests {
    static let demo = Binary.repository + "/examples/demo/etcha"

    @Test func theReadmeWalkThroughWorks() throws {
        let scratch = Scratch()
        let environment = ["ETCHA_DEMO_STATE": scratch.path + "/state", "ETCHA_BINARY": Binary.path]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.demo)
        process.arguments = ["run", "-x", "httpServer_listenAddress=127.0.0.1:0"]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCHA_") }
            .merging(environment) { _, new in new }
        let log = scratch.write("agent.log", "")
        process.standardOutput = FileHandle(forWritingAtPath: log)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let port = Binary.port(inLog: { scratch.read("agent.log") ?? "" }, within: 60)
        try #require(!port.isEmpty, "\(scratch.read("agent.log") ?? "")")
        let state = scratch.path + "/state"
        let base = "https://127.0.0.1:\(port)"
        let curl = "curl -s --max-time 10 --cacert '\(state)/certs/ca.crt'"
        let prefix = environment.map { "\($0.key)='\($0.value)'" }.joined(separator: " ") + " '\(Self.demo)'"

        #expect(try Ecosystem.sh("\(curl) \(base)/etcha/v1/system/health").output == "ok\n")
        #expect(try Ecosystem.sh("\(curl) '\(base)/hello?name=you'").output.contains("you asked: GET /hello?name=you"))

        let examples = Binary.repository + "/examples/patterns"
        let first = try Ecosystem.sh("\(prefix) push -h 127.0.0.1:\(port) web '\(examples)/push/run.jsonnet'")
        #expect(first.output.contains("Changed 2: write a file, copy file"), "\(first.output)")
        let second = try Ecosystem.sh("\(prefix) push -h 127.0.0.1:\(port) web '\(examples)/push/newfile.jsonnet'")
        #expect(second.output.contains("Changed 1: write a new file"), "\(second.output)")
        #expect(second.output.contains("Removed 2: copy file, write a file"), "\(second.output)")
        let again = try Ecosystem.sh("\(prefix) push -h 127.0.0.1:\(port) web '\(examples)/push/newfile.jsonnet'")
        #expect(again.output.contains("No changes"), "\(again.output)")

        let shell = try Ecosystem.sh(
            "printf 'echo demo-$((40+2))\\nexit\\n' | \(prefix) shell -h 127.0.0.1:\(port) debug")
        #expect(shell.status == 0 && shell.output.contains("demo-42"), "\(shell.output)")

        // The pulled source applied the JWT made at first start, and applies a rebuilt one.
        let pulled = state + "/files/pulled"
        #expect(
            Ecosystem.eventually(within: 20) {
                (try? String(contentsOfFile: pulled, encoding: .utf8)) == "pulled by etcha\n"
            })
        let rebuilt = try Ecosystem.sh(
            "MESSAGE='second version' \(prefix) build '\(examples)/pull/main.jsonnet' '\(state)/pull.jwt'")
        #expect(rebuilt.status == 0, "\(rebuilt.output)")
        #expect(
            Ecosystem.eventually(within: 30) {
                (try? String(contentsOfFile: pulled, encoding: .utf8)) == "second version\n"
            })

        let metrics = try Ecosystem.sh("\(curl) '\(base)/etcha/v1/system/metrics?key=demo-metrics-key'").output
        #expect(
            metrics.contains(
                #"etcha_commands_total{error="0",id="write a new file",mode="change",parent_id="",public_key="demo",remote_addr="127.0.0.1",source="web"} 1"#
            ))
        #expect(
            metrics.contains(
                #"etcha_sources_total{error="0",name="hello",public_key="",remote_addr="127.0.0.1",trigger="webhook"} 1"#
            ))
        #expect(metrics.contains(#"etcha_sources_shells{name="debug",public_key="demo",remote_addr="127.0.0.1"} 0"#))
        #expect(scratch.read("state/audit.log")?.contains("shell from demo@127.0.0.1") == true)
    }

    @Test(arguments: [
        "push/run.jsonnet", "push/newfile.jsonnet", "pull/main.jsonnet", "webhook/handler.jsonnet",
        "event/trigger.jsonnet", "local/main.jsonnet",
    ])
    func everyExamplePatternRenders(pattern: String) throws {
        let out = try Binary.run(["render", Binary.repository + "/examples/patterns/" + pattern])
        #expect(out.status == 0, "\(out.stderr)")
        let rendered = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        let run = try #require(rendered?["run"] as? [[String: Any]])
        #expect(!run.isEmpty)
        #expect(run.allSatisfy { $0["id"] is String })
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func theSystemdUnitVerifies() throws {
        let unit = try String(contentsOfFile: Binary.repository + "/examples/systemd/etcha.service", encoding: .utf8)
        for setting in [
            "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=", "Restart=on-failure", "StateDirectory=etcha",
            "ETCHA_RUN_STATEDIR=/var/lib/etcha", "MemoryMax=", "TasksMax=",
        ] {
            #expect(unit.contains(setting), "the unit lacks \(setting)")
        }
        // systemd-analyze wants the ExecStart binary to exist: point it at the built one.
        let scratch = Scratch()
        let copy = scratch.write(
            "etcha.service", unit.replacingOccurrences(of: "/usr/local/bin/etcha", with: Binary.path))
        let verified = try Ecosystem.sh("systemd-analyze verify '\(copy)'")
        #expect(verified.status == 0 && verified.output.isEmpty, "\(verified.output)")
    }
}
