import Foundation
import Testing

/// The README's quick start, run as a newcomer runs it: the demo agent from `examples/demo/etcha`
/// and a Prometheus on the example configuration (on free ports and a scratch state directory),
/// then every line of the README's quick-start block as written.
@Suite struct DemoTests {
    static let demo = Binary.repository + "/examples/demo/etcha"

    /// The commands of the README's quick-start block (the first `sh` block under "Quick start"),
    /// each with the text its `# →` comment says it prints. Variable assignments are kept as a
    /// prefix for the lines after them.
    static func quickStart() throws -> [(command: String, prints: String?)] {
        let readme = try String(contentsOfFile: Binary.repository + "/README.md", encoding: .utf8)
        guard let section = readme.range(of: "## Quick start"),
            let open = readme.range(of: "```sh\n", range: section.upperBound..<readme.endIndex),
            let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex)
        else { return [] }
        var prefix = ""
        var commands: [(String, String?)] = []
        for line in readme[open.upperBound..<close.lowerBound].split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if text.wholeMatch(of: /[a-z_]+=[^ ]+/) != nil {
                prefix += text + "; "
                continue
            }
            let parts = text.components(separatedBy: "# →")
            let prints = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
            commands.append((prefix + parts[0].trimmingCharacters(in: .whitespaces), prints))
        }
        return commands
    }

    @Test func theReadmeQuickStartRunsAsWritten() throws {
        let commands = try Self.quickStart()
        try #require(commands.count >= 10, "the README's quick start was not found")
        let scratch = Scratch()
        let state = scratch.path + "/state"
        let environment = ["ETCHA_DEMO_STATE": state, "ETCHA_BINARY": Binary.path]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.demo)
        process.arguments = ["-x", "httpServer_listenAddress=127.0.0.1:0", "run"]
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
        let (prometheus, prometheusPort) = try Ecosystem.prometheus(
            replacing: [
                ("127.0.0.1:4000", "127.0.0.1:\(port)"), ("localhost:4000", "localhost:\(port)"),
                ("../demo/state/", state + "/"),
            ], in: scratch)
        defer {
            prometheus.terminate()
            prometheus.waitUntilExit()
        }

        // The pulled source applied the JWT the demo made at first start, before the walk-through
        // publishes a new one.
        #expect(
            Ecosystem.eventually(within: 20) {
                (try? String(contentsOfFile: state + "/files/pulled", encoding: .utf8)) == "pulled by etcha\n"
            })

        // Each line as written, pointed at this run's ports and state; a line that says what it
        // prints may take a while (a pull every 15 s, a scrape every second) to print it.
        let variables = environment.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        for (command, prints) in commands {
            var line = command
            for (from, to) in [
                ("127.0.0.1:4000", "127.0.0.1:\(port)"), ("-h 127.0.0.1 ", "-h 127.0.0.1:\(port) "),
                ("127.0.0.1:9090", "127.0.0.1:\(prometheusPort)"), ("examples/demo/state", state),
            ] {
                line = line.replacingOccurrences(of: from, with: to)
            }
            var last = (status: Int32(-1), output: "")
            let printed = try Ecosystem.eventually(within: prints == nil ? 0 : 40) {
                last = try Ecosystem.sh("export \(variables); \(line)", in: Binary.repository)
                return last.status == 0 && prints.map(last.output.contains) != false
            }
            #expect(printed, "\(command)\nprinted (status \(last.status)): \(last.output)")
        }

        // What the walk-through left behind: the same push again changes nothing, the runs are
        // counted with their origin, and the shell was audited.
        let prefix = "\(variables) '\(Self.demo)'"
        let again = try Ecosystem.sh(
            "\(prefix) push -h 127.0.0.1:\(port) web examples/patterns/push/newfile.jsonnet", in: Binary.repository)
        #expect(again.output.contains("No changes"), "\(again.output)")
        let curl = "curl -s --max-time 10 --cacert '\(state)/certs/ca.crt'"
        let metrics = try Ecosystem.sh(
            "\(curl) 'https://127.0.0.1:\(port)/etcha/v1/system/metrics?key=demo-metrics-key'"
        ).output
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
