import Foundation
import Testing

/// The real `etcha` binary: verbs, global options, configuration errors and listen-mode lifecycle.
@Suite struct CLITests {
    @Test func localRunsTheExamplePatternThatImportsALibrary() throws {
        let scratch = Scratch()
        let pattern = "\(Binary.repository)/examples/patterns/local/main.jsonnet"
        let env = ["ETCHA_EXAMPLE_DIR": "\(scratch.path)/out"]
        let check = try Binary.run(["local", "--check", pattern], environment: env)
        #expect(check.status == 0)
        #expect(
            check.stdout.contains(
                "Changed 3: directory, file \(scratch.path)/out/hostname, file \(scratch.path)/out/greeting"))
        #expect(scratch.read("out/greeting") == nil)

        let change = try Binary.run(["local", pattern], environment: env)
        #expect(change.status == 0, "\(change.stderr)")
        #expect(change.stdout.contains("files updated in \(scratch.path)/out\n"))
        #expect(
            change.stdout.contains(
                "Changed 4: directory, file \(scratch.path)/out/hostname, file \(scratch.path)/out/greeting, report"))
        #expect(scratch.read("out/greeting") == "hello from etcha")

        let again = try Binary.run(["local", pattern], environment: env)
        #expect(again.stdout == "No changes\n")

        let remove = try Binary.run(["local", "--remove", pattern], environment: env)
        #expect(remove.status == 0, "\(remove.stderr)")
        #expect(remove.stdout.contains("Removed 3:"))
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/out"))
    }

    @Test func localSnippetAndFailureStatus() throws {
        let ok = try Binary.run(["local", "{id: 'hi', always: true, change: 'echo hi'}"])
        #expect(ok.status == 0)
        #expect(ok.stdout == "Changed 1: hi\n")
        let bad = try Binary.run(["local", "{id: 'bad', always: true, change: 'exit 7'}"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("error: bad: change: exited 7"))
    }

    @Test func renderPrintsJSON() throws {
        let out = try Binary.run(["render", "{id: 'a', change: 'echo ' + (1 + 1)}"])
        #expect(out.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        let run = json?["run"] as? [[String: Any]]
        #expect(run?.first?["change"] as? String == "echo 2")
    }

    /// `getPath` and `getFile` read URLs too, with `#Header:value` suffixes, from a real nginx that
    /// answers only requests carrying the header; anything but 200 is the fallback.
    @Test func getPathReadsAURLWithHeaders() throws {
        let scratch = Scratch()
        scratch.write("www/secret.txt", "from nginx")
        let port = Ecosystem.freePort()
        let nginx = try Ecosystem.nginx(
            server: """
                listen 127.0.0.1:\(port);
                root \(scratch.path)/www;
                location / { if ($http_x_token != "t0k") { return 403; } }
                """, in: scratch)
        defer { Ecosystem.stopNginx(nginx) }
        let url = "http://127.0.0.1:\(port)/secret.txt"
        let snippet = """
            {id: std.native('getPath')('\(url)#X-Token:t0k', 'fallback')
                 + '|' + std.native('getFile')('\(url)', 'refused')
                 + '|' + std.native('getPath')('http://127.0.0.1:\(port)/missing#X-Token:t0k', 'missing')}
            """
        let out = try Binary.run(["render", snippet])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains(#""id" : "from nginx|refused|missing""#), "\(out.stdout)")
    }

    @Test func configurationErrorsNameTheKeyAndStopStartup() throws {
        let scratch = Scratch()
        let marker = "\(scratch.path)/ran"
        scratch.write(
            "etcha.json",
            """
            {"sources": {"web": {"runFrequency": "5x", "commands": [{"id": "a", "always": true, "change": "touch \(marker)"}]}}}
            """)
        let out = try Binary.run(["run", "--once"], in: scratch.path)
        #expect(out.status != 0)
        #expect(
            out.stderr
                == "error: sources.web.runFrequency: \"5x\" is not a duration (use Go syntax such as 90s, 10m, 1h30m)\n"
        )
        #expect(!FileManager.default.fileExists(atPath: marker))

        let unknown = try Binary.run(["-x", "run_stateDirr=/x", "version"])
        #expect(unknown.status == 0)  // version reads no configuration
        let badKey = try Binary.run(["-x", "run_stateDirr=/x", "run", "--once"], in: scratch.path)
        #expect(badKey.stderr == "error: -x run_stateDirr: no such configuration key\n")
    }

    @Test func globalOptionsWorkBeforeAndAfterTheVerb() throws {
        let scratch = Scratch()
        let config = scratch.write("c.json", #"{"vars": {"who": "file"}}"#)
        let snippet = "{id: std.native('getConfig')().vars.who}"
        for arguments in [
            ["-c", config, "render", snippet], ["render", "--config", config, snippet],
            ["--c=\(config)", "render", snippet],
            ["-c", config, "-x", "vars_who=flag", "render", snippet],
            ["-c", config, "-f", "kv", "-l", "error", "-n", "render", "--set", "vars_who=flag", snippet],
        ] {
            let out = try Binary.run(arguments)
            #expect(out.status == 0, "\(arguments): \(out.stderr)")
            #expect(out.stdout.contains(arguments.contains("vars_who=flag") ? "\"flag\"" : "\"file\""))
        }
        let env = try Binary.run(["-c", config, "render", snippet], environment: ["ETCHA_VARS_WHO": "env"])
        #expect(env.stdout.contains("\"env\""))
    }

    @Test(arguments: [
        [], ["run"], ["local"], ["render"], ["version"], ["build"], ["push"], ["jwt"], ["compare"], ["generate-keys"],
        ["shell"], ["show-config"], ["jq"],
    ])
    func everyVerbHasHelp(verb: [String]) throws {
        let out = try Binary.run(verb + ["--help"])
        #expect(out.status == 0)
        #expect(out.stdout.contains("USAGE: etcha"))
        #expect(out.stdout.contains("OVERVIEW: "))
        if verb.isEmpty {
            for name in [
                "run", "local", "build", "push", "render", "jwt", "shell", "compare", "generate-keys", "show-config",
                "jq", "version",
            ] {
                let listed = out.stdout.contains("\n  \(name) ") || out.stdout.contains("\n  \(name), ")
                #expect(listed, "etcha --help does not list \(name)")
            }
        }
    }

    /// `show-config`: the file, `ETCHA_*` and `-x` merged, defaults filled, secrets hidden.
    @Test func showConfigPrintsTheMergedConfigurationWithSecretsHidden() throws {
        let scratch = Scratch()
        let key = try Binary.generateKeys(kid: "k")
        scratch.write(
            "etcha.json",
            #"{"build": {"signingKey": ""# + key.private + #""}, "sources": {"web": {"webhookSecret": "hook-s3cret"}}}"#
        )
        let out = try Binary.run(
            ["-x", "run_systemMetricsKey=metrics-s3cret", "show-config"], in: scratch.path,
            environment: ["ETCHA_RUN_STATEDIR": "/var/lib/from-env"])
        #expect(out.status == 0, "\(out.stderr)")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let run = config["run"] as? [String: Any] ?? [:]
        #expect(run["stateDir"] as? String == "/var/lib/from-env")
        #expect(run["systemMetricsKey"] as? String == "(hidden)")
        #expect((config["build"] as? [String: Any])?["signingKey"] as? String == "(hidden)")
        let web = (config["sources"] as? [String: Any])?["web"] as? [String: Any]
        #expect(web?["webhookSecret"] as? String == "(hidden)")
        #expect((config["exec"] as? [String: Any])?["command"] as? String == "/usr/bin/bash -e -o pipefail -c")
        for secret in [key.private, "hook-s3cret", "metrics-s3cret"] { #expect(!out.stdout.contains(secret)) }
    }

    /// `jq`: Etcha's query verb, through Debian's jq; a bad query is one error line.
    @Test func jqQueriesStandardInput() throws {
        let scratch = Scratch()
        let query = try Ecosystem.sh(
            #"printf '{"a": {"b": "x"}}' | '\#(Binary.path)' jq -r .a.b && printf '[1]' | '\#(Binary.path)' jq"#,
            in: scratch.path)
        #expect(query.status == 0 && query.output == "x\n[\n  1\n]\n", "\(query.output)")
        let bad = try Ecosystem.sh(#"printf '{}' | '\#(Binary.path)' jq '.a |' 2>&1"#, in: scratch.path)
        #expect(bad.status == 1 && bad.output.hasPrefix("error: jq: "), "\(bad.output)")
        let missing = try Ecosystem.sh(
            #"printf '{}' | PATH=/nonexistent '\#(Binary.path)' jq . 2>&1"#, in: scratch.path)
        #expect(missing.status == 1 && missing.output.contains("jq is not installed"), "\(missing.output)")
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsCoverTheVerbs(shell: String) throws {
        let out = try Binary.run(["--generate-completion-script", shell])
        #expect(out.status == 0, "\(out.stderr)")
        for name in ["run", "push", "shell", "generate-keys"] { #expect(out.stdout.contains(name)) }
        // The script is valid for its shell, where that shell is installed.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("etcha-completion-\(UUID())").path
        try out.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        if shell == "bash" { #expect(try Ecosystem.sh("bash -n '\(path)'").status == 0) }
    }

    @Test func versionPrintsVersionAndBuildDate() throws {
        let out = try Binary.run(["version"])
        #expect(out.stdout.hasPrefix("etcha 0.1.0 (built 20"))
        // The build date is the executable's, not the moment it runs.
        let built = try FileManager.default.attributesOfItem(atPath: Binary.path)[.modificationDate] as? Date
        #expect(out.stdout.contains(ISO8601DateFormatter().string(from: try #require(built))))
    }

    @Test func runOnceRunsStaticCommandsAndReportsFailure() throws {
        let scratch = Scratch()
        scratch.write(
            "etcha.json",
            """
            {"sources": {"a": {"commands": [{"id": "a", "always": true, "change": "echo a > \(scratch.path)/a"}]},
                         "t": {"triggerOnly": true, "commands": [{"id": "t", "always": true, "change": "touch \(scratch.path)/t"}]}}}
            """)
        let out = try Binary.run(["run", "--once"], in: scratch.path)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(scratch.read("a") == "a\n")
        #expect(scratch.read("t") == nil)
        let failing = try Binary.run(
            ["-x", #"sources_a_commands=[{"id": "x", "always": true, "change": "exit 1"}]"#, "run", "--once"],
            in: scratch.path)
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("level=error"))
    }

    @Test func exitEventStopsTheAgentWithStatusZero() throws {
        let scratch = Scratch()
        scratch.write(
            "etcha.json",
            """
            {"sources": {"bye": {"eventsSend": "exit", "commands": [
                {"id": "bye", "always": true, "change": "echo bye", "onChange": ["etcha:exit"]}]}}}
            """)
        let out = try Binary.run(["-x", "httpServer_listenAddress=127.0.0.1:0", "run"], in: scratch.path, timeout: 20)
        #expect(out.status == 0)
        #expect(out.stderr.contains("exit event: stopping"))
        #expect(out.stderr.contains("level=info msg=stopped"))
    }

    @Test func sigtermStopsTheAgentWithStatusZero() throws {
        let scratch = Scratch()
        scratch.write(
            "etcha.json",
            """
            {"sources": {"tick": {"runFrequency": "1s", "commands": [{"id": "t", "always": true, "change": "true"}]}}}
            """)
        let running = try Binary.start(
            ["-x", "httpServer_listenAddress=127.0.0.1:0", "run"], in: scratch.path, environment: [:])
        defer { running.stop() }
        let deadline = Date().addingTimeInterval(10)
        // "listening" comes once the service group runs, so its SIGTERM handler is in place.
        while !running.stderr.contains("listening on") && Date() < deadline { usleep(20_000) }
        kill(running.process.processIdentifier, SIGTERM)
        let out = Binary.wait(for: running, timeout: 15)
        #expect(out.status == 0)
        #expect(out.stderr.contains("msg=stopped"))
    }

    @Test func shutdownKillsCommandsStillRunningAfterTheBound() throws {
        let scratch = Scratch()
        scratch.write(
            "etcha.json",
            """
            {"run": {"shutdownTimeout": "1s"}, "httpServer": {"listenAddress": "127.0.0.1:0"},
             "sources": {"slow": {"commands": [{"id": "slow", "always": true, "change": "echo $$ > \(scratch.path)/pid; sleep 60"}]}}}
            """)
        let running = try Binary.start(["run"], in: scratch.path, environment: [:])
        defer { running.stop() }
        let deadline = Date().addingTimeInterval(10)
        // The shell creates the file before it writes the pid into it.
        func written() -> Int32? { Int32(scratch.read("pid")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") }
        while written() == nil && Date() < deadline { usleep(20_000) }
        let pid = try #require(written())
        let started = Date()
        kill(running.process.processIdentifier, SIGTERM)
        let out = Binary.wait(for: running, timeout: 15)
        #expect(out.status == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(out.stderr.contains("killed: the agent is shutting down"))
        #expect(
            kill(pid, 0) != 0
                || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true)
    }

    @Test func logsCanBeJSON() throws {
        let out = try Binary.run(["--log-format", "json", "local", "{id: 'j', always: true, change: 'true'}"])
        let line = try #require(out.stderr.split(separator: "\n").first)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["msg"] == "changed")
        #expect(object?["commandID"] == "j")
    }

    /// Etcha's `cli` keys set logging as its `-f` and `-l` flags do, from `-x`, `ETCHA_CLI_*` or the file.
    @Test func cliKeysSetTheLogFormatAndLevel() throws {
        let local = ["local", "{id: 'j', always: true, change: 'true'}"]
        let raw = try Binary.run(["-x", "cli_logFormat=raw", "-x", "licenseKey=x"] + local)
        #expect(raw.stderr.hasPrefix("licenseKey is ignored: no license is needed\nchanged\n"), "\(raw.stderr)")
        let quiet = try Binary.run(["-x", "licenseKey=x"] + local, environment: ["ETCHA_CLI_LOGLEVEL": "error"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        let none = try Binary.run(["--log-level", "none"] + local)
        #expect(none.status == 0 && none.stderr.isEmpty && none.stdout.contains("Changed 1: j"))
        let bad = try Binary.run(["-x", "cli_logLevel=loud"] + local)
        #expect(bad.status == 1 && bad.stderr.contains("cli.logLevel: \"loud\" is not none, debug, info, error"))
    }

    /// Etcha's `-f` and `-l` before the verb; `-f` after `local` is the verb's own filter.
    @Test func etchasShortGlobalFlagsStandBeforeTheVerb() throws {
        let local = ["local", "{id: 'j', always: true, change: 'true'}"]
        let raw = try Binary.run(["-f", "raw", "-l", "debug", "-n"] + local)
        #expect(raw.status == 0 && raw.stderr.contains("changed\n"), "\(raw.stderr)")
        let quiet = try Binary.run(["-l", "error"] + local)
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        let once = try Binary.run([
            "-l", "none", "-x", #"sources_a_commands=[{"id": "x", "always": true, "change": "true"}]"#, "run", "-o",
        ])
        #expect(once.status == 0, "\(once.stderr)")
    }

    /// `local -s SOURCE -f REGEX -r`, with the build commands run first and their run variables
    /// rendered in, as Etcha's local does.
    @Test func localTakesASourceAFilterAndRemoveAndRunsTheBuild() throws {
        let scratch = Scratch()
        scratch.write(
            "p.jsonnet",
            """
            local v = std.native('getConfig')().vars;
            {
              build: [{id: 'color', always: true, change: 'echo blue', onChange: ['etcha:runVar_color']}],
              run: [
                {id: 'top', always: true, change: 'echo top >> log'},
                {id: 'grp', commands: [
                  {id: 'f', check: 'test -f file', change: 'echo %s %s %s > file' % [v.source, v.who, std.get(v, 'color', 'none')],
                   remove: 'rm file'}]}],
            }
            """)
        let config = #"sources={"mine": {"vars": {"who": "me"}}}"#
        let out = try Binary.run(
            ["-x", config, "local", "-s", "mine", "-f", "^mine > grp$", "p.jsonnet"], in: scratch.path)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("Changed 1: f"))
        #expect(scratch.read("file") == "mine me blue\n")
        #expect(scratch.read("log") == nil)
        let removed = try Binary.run(["-x", config, "local", "-s", "mine", "-r", "p.jsonnet"], in: scratch.path)
        #expect(removed.stdout.contains("Removed 1: f"), "\(removed.stdout) \(removed.stderr)")
        #expect(scratch.read("file") == nil)
        let badFilter = try Binary.run(["local", "-f", "(", "p.jsonnet"], in: scratch.path)
        #expect(badFilter.status == 1 && badFilter.stderr.contains("-f: not a regular expression"))
    }

    @Test func aLogLineThatCannotBeWrittenIsDropped() throws {
        // Standard error is a pipe nobody reads any more (a log collector that went away): the
        // command still runs and the program ends normally. FileHandle's write trapped here.
        let errors = Pipe()
        try errors.fileHandleForReading.close()
        let running = try Binary.start(
            ["local", "{id: 'j', always: true, change: 'echo ran'}"], in: nil, environment: [:],
            standardError: errors.fileHandleForWriting)
        let out = Binary.wait(for: running, timeout: 30)
        #expect(running.process.terminationReason == .exit)
        #expect(out.status == 0)
        #expect(out.stdout.contains("Changed 1: j"))
    }

    @Test func theAgentOutlivesItsLogReader() throws {
        // Standard error is a pipe nobody reads: the startup lines and the webhook's "changed" line
        // fail, the agent serves on (Binary.start leaves SIGPIPE at its default, as a shell does).
        let scratch = Scratch()
        let port = Ecosystem.freePort()
        scratch.write(
            "etcha.json",
            """
            {"httpServer": {"listenAddress": "127.0.0.1:\(port)"},
             "sources": {"s": {"triggerOnly": true, "webhookPaths": ["/h"], "commands": [
               {"id": "a", "always": true, "change": "echo hi", "onChange": ["etcha:webhookBody"]}]}}}
            """)
        let errors = Pipe()
        try errors.fileHandleForReading.close()
        let running = try Binary.start(
            ["run"], in: scratch.path, environment: [:], standardError: errors.fileHandleForWriting)
        defer { running.stop() }
        var answered = false
        _ = Ecosystem.eventually(within: 30) {
            answered = (try? Ecosystem.sh("curl -sk --max-time 2 https://127.0.0.1:\(port)/h"))?.1 == "hi\n"
            return answered || !running.process.isRunning
        }
        #expect(answered)
        #expect(running.process.isRunning)
    }
}

/// The development certificate script makes a CA, a server certificate with the loopback SANs and
/// a client certificate, all verifying against the CA.
@Suite struct CertificateScriptTests {
    @Test func generatesVerifiableCertificates() throws {
        let scratch = Scratch()
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "\(Binary.repository)/certs/generate.sh")
        script.environment = ProcessInfo.processInfo.environment.merging(["OUT": scratch.path]) { _, new in new }
        script.standardOutput = FileHandle.nullDevice
        try script.run()
        script.waitUntilExit()
        #expect(script.terminationStatus == 0)
        func openssl(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text
        }
        let verified = try openssl([
            "verify", "-CAfile", "\(scratch.path)/ca.crt", "\(scratch.path)/server.crt", "\(scratch.path)/client.crt",
        ])
        #expect(verified.contains("server.crt: OK"))
        #expect(verified.contains("client.crt: OK"))
        let san = try openssl(["x509", "-in", "\(scratch.path)/server.crt", "-noout", "-ext", "subjectAltName"])
        #expect(san.contains("DNS:localhost"))
        #expect(san.contains("IP Address:127.0.0.1"))
        #expect(san.contains("IP Address:0:0:0:0:0:0:0:1"))
    }
}

/// `etcha run` serves its listener: health, metrics with the key, and a webhook, seen with curl.
@Suite struct ListenModeTests {
    @Test func theBinaryServesMetricsHealthAndWebhooksOverTLS() throws {
        let scratch = Scratch()
        scratch.write(
            "etcha.json",
            """
            {"run": {"systemMetricsSecret": "demo-key"}, "httpServer": {"listenAddress": "127.0.0.1:0"},
             "sources": {"hook": {"triggerOnly": true, "webhookPaths": ["/hello"], "commands": [
               {"id": "answer", "always": true, "change": "printf 'hi %s' \\"$ETCHA_WEBHOOK_QUERY\\"", "onChange": ["etcha:webhookBody"]}]}}}
            """)
        let running = try Binary.start(["run"], in: scratch.path, environment: [:])
        defer { running.stop() }
        let port = Binary.port(of: running)
        #expect(!port.isEmpty, "\(running.stderr)")
        func curl(_ arguments: String) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "curl -sk --max-time 10 \(arguments)"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text
        }
        let base = "https://127.0.0.1:\(port)"
        #expect(try curl("\(base)/etcha/v1/system/health") == "ok\n")
        #expect(try curl("-o /dev/null -w '%{http_code}' '\(base)/etcha/v1/system/metrics?key=nope'") == "403")
        #expect(try curl("'\(base)/hello?name=ops'") == "hi name=ops")
        let metrics = try curl("'\(base)/etcha/v1/system/metrics?key=demo-key'")
        #expect(
            metrics.contains(
                #"etcha_sources_total{error="0",name="hook",public_key="",remote_addr="127.0.0.1",trigger="webhook"} 1"#
            ))
        #expect(metrics.contains("process_resident_memory_bytes "))
        #expect(FileManager.default.fileExists(atPath: "\(scratch.path)/etcha.crt"))
    }

    /// A command's exit must not wake the agent's idle main thread: the SIGCHLD it sends was queued
    /// (libdispatch's threads block every signal) and delivered there just to be discarded, twice
    /// the wake-ups per webhook. Measured as the main thread's voluntary context switches.
    @Test func commandExitsDoNotWakeTheMainThread() throws {
        let scratch = Scratch()
        scratch.write(
            "etcha.json",
            """
            {"httpServer": {"listenAddress": "127.0.0.1:0"},
             "sources": {"hook": {"triggerOnly": true, "webhookPaths": ["/hook"], "commands": [
               {"id": "ok", "always": true, "change": "echo ok", "onChange": ["etcha:webhookBody"]}]}}}
            """)
        let running = try Binary.start(["run"], in: scratch.path, environment: [:])
        defer { running.stop() }
        let port = Binary.port(of: running)
        try #require(!port.isEmpty, "\(running.stderr)")
        let pid = running.process.processIdentifier
        func mainThreadSwitches() throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(pid)/task/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") })
            return try #require(Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
        }
        let urls = Array(repeating: "https://127.0.0.1:\(port)/hook", count: 30).joined(separator: " ")
        #expect(try Ecosystem.sh("curl -sk --max-time 10 https://127.0.0.1:\(port)/hook").output == "ok\n")
        let before = try mainThreadSwitches()
        let answers = try Ecosystem.sh("curl -sk --max-time 30 \(urls)").output
        let after = try mainThreadSwitches()
        #expect(answers == String(repeating: "ok\n", count: 30))
        // With each exit signalled there, 30 runs gave 30 switches; without, 0 to 1.
        #expect(after - before < 10, "main thread woke \(after - before) times for 30 commands")
    }
}

/// The signed-config verbs through the real binary: generate-keys, build (with imports, build
/// commands, manifest and run vars), jwt, render of a JWT, compare, and push to a live agent.
@Suite struct SignedConfigCLITests {
    private func keys(_ type: String = "ed25519", kid: String = "k1") throws -> (private: String, public: String) {
        try Binary.generateKeys(type, kid: kid)
    }

    @Test(arguments: ["ed25519", "ecp256", "rsa2048"])
    func generateKeysMakesAMatchingPair(type: String) throws {
        let (privateKey, publicKey) = try keys(type, kid: "kid-\(type)")
        #expect(privateKey.hasPrefix("\(type)private:") && privateKey.hasSuffix(":kid-\(type)"))
        #expect(publicKey.hasPrefix("\(type)public:") && publicKey.hasSuffix(":kid-\(type)"))
    }

    @Test func genKeysIsEtcha2024sNameForGenerateKeys() throws {
        let out = try Binary.run(["gen-keys", "--type", "ecp256", "old"])
        #expect(out.status == 0 && out.stdout.contains(#""privateKey":"ecp256private:"#), "\(out.stderr)")
    }

    @Test func buildJWTRenderCompareAndPush() throws {
        let scratch = Scratch()
        let (privateKey, publicKey) = try keys()
        try FileManager.default.createDirectory(
            atPath: "\(scratch.path)/patterns/lib", withIntermediateDirectories: true)
        scratch.write(
            "patterns/lib/file.libsonnet",
            """
            { file(dir, name):: {id: name, check: "test -f " + dir + "/" + name, change: "touch " + dir + "/" + name,
                                 remove: "rm " + dir + "/" + name} }
            """)
        let out = "\(scratch.path)/out"
        scratch.write(
            "patterns/web.jsonnet",
            """
            local f = import 'lib/file.libsonnet';
            {
              build: [{id: 'manifest', always: true, change: 'echo built-here', onChange: ['etcha:buildManifest', 'etcha:runVar_color', 'etcha:runEnv_COLOR']},
                      {id: 'more', always: true, change: 'printf "  line1\\nline2\\n\\n"', onChange: ['etcha:buildManifest']}],
              local vars = std.native('getConfig')().vars,
              // runVar_color exists when the agent renders the token, not yet while it is built.
              run: [f.file('\(out)', 'a'), f.file('\(out)', if std.objectHas(vars, 'color') then vars.color else 'unset')],
              runExec: {command: '/bin/sh -c'},
              issuer: 'ci', expiresIn: '1h',
            }
            """)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let sign = ["-x", "build_signingKey=\(privateKey)"]
        let verify = ["-x", "run_verifyKeys=[\"\(publicKey)\"]"]
        let built = try Binary.run(sign + ["build", "patterns/web.jsonnet", "web.jwt"], in: scratch.path)
        #expect(built.status == 0, "\(built.stderr)")
        let inspected = try Binary.run(verify + ["jwt", "web.jwt"], in: scratch.path)
        #expect(inspected.status == 0)
        #expect(inspected.stdout.contains(#""etchaBuildManifest":"built-here\nline1\nline2\n""#), "\(inspected.stdout)")
        #expect(inspected.stdout.contains(#""etchaRunVars":{"color":"built-here"}"#))
        #expect(inspected.stdout.contains(#""etchaRunEnv":{"COLOR":"built-here"}"#))
        #expect(inspected.stdout.contains(#""entrypoint":"/web.jsonnet""#))
        #expect(inspected.stdout.contains(#""/lib/file.libsonnet""#))
        #expect(inspected.stdout.contains(#""iss":"ci""#))
        #expect(inspected.stderr.contains("verified by key k1"))
        #expect(inspected.stderr.contains(#"header: {"alg":"EdDSA","kid":"k1","typ":"JWT"}"#), "\(inspected.stderr)")
        #expect(inspected.stdout.hasPrefix(#"{"etchaBuildManifest":"#), "only the claims, as Etcha prints them")
        let stranger = try keys(kid: "other")
        #expect(
            try Binary.run(["-x", "run_verifyKeys=[\"\(stranger.public)\"]", "jwt", "web.jwt"], in: scratch.path).status
                == 1)
        let rendered = try Binary.run(verify + ["render", "web.jwt"], in: scratch.path)
        #expect(rendered.stdout.contains("\(out)/built-here"))
        #expect(try Binary.run(["render", "web.jwt"], in: scratch.path).status != 0)  // unverified: not rendered
        // The same key from a file (build.signingKeyPath) makes a token with the same contents.
        let keyFile = scratch.write("signing.key", privateKey + "\n")
        let again = try Binary.run(
            ["-x", "build_signingKeyPath=\(keyFile)", "build", "patterns/web.jsonnet", "again.jwt"], in: scratch.path)
        #expect(again.status == 0)
        #expect(try Binary.run(["compare", "web.jwt", "again.jwt"], in: scratch.path).status == 0)
        // A different manifest: the lines that differ, old as -, new as +; also from a URL.
        scratch.write(
            "patterns/other.jsonnet",
            """
            {build: [{id: 'm', always: true, change: 'printf "built-here\\nline1\\nchanged\\n"', onChange: ['etcha:buildManifest']}],
             run: [{id: 'a', always: true, change: 'true'}]}
            """)
        try FileManager.default.createDirectory(atPath: scratch.path + "/www", withIntermediateDirectories: true)
        let other = try Binary.run(sign + ["build", "patterns/other.jsonnet", "www/other.jwt"], in: scratch.path)
        #expect(other.status == 0, "\(other.stderr)")
        let wwwPort = Ecosystem.freePort()
        let www = try Ecosystem.nginx(server: "listen 127.0.0.1:\(wwwPort);\nroot \(scratch.path)/www;", in: scratch)
        defer { Ecosystem.stopNginx(www) }
        for new in ["www/other.jwt", "http://127.0.0.1:\(wwwPort)/other.jwt"] {
            let differs = try Binary.run(["compare", "-i", new, "web.jwt"], in: scratch.path)
            #expect(differs.status == 1, "\(differs.stderr)")
            #expect(
                differs.stdout == "different: etchaBuildManifest\n  built-here\n  line1\n- line2\n+ changed\n  \n",
                "\(differs.stdout)")
        }

        // Push to a live agent, twice, then a pattern without a command.
        scratch.write(
            "agent.json",
            """
            {"run": {"verifyKeys": ["\(publicKey)"], "stateDir": "\(scratch.path)/state"},
             "httpServer": {"listenAddress": "127.0.0.1:0"}, "sources": {"web": {"allowPush": true, "exec": {"allowOverride": true}}}}
            """)
        let agent = try Binary.start(["-c", "agent.json", "run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        // libjsonnet is loaded by the first render, not at startup (its configuration here is JSON).
        // Read to end of file: String(contentsOfFile:) stops after the first 4 KiB of a /proc file.
        func mapsJsonnet() throws -> Bool {
            let maps = try FileHandle(
                forReadingFrom: URL(fileURLWithPath: "/proc/\(agent.process.processIdentifier)/maps"))
            defer { try? maps.close() }
            return String(decoding: try maps.readToEnd() ?? Data(), as: UTF8.self).contains("libjsonnet")
        }
        #expect(try !mapsJsonnet())
        let push = sign + ["-x", "httpClient_tlsSkipVerify=true", "push", "-h", "127.0.0.1:\(port)", "web"]
        let first = try Binary.run(push + ["web.jwt"], in: scratch.path)
        #expect(first.stdout == "127.0.0.1:\(port):\n        Changed 2: a, built-here\n", "\(first.stderr)")
        #expect(try mapsJsonnet())
        #expect(FileManager.default.fileExists(atPath: "\(out)/a"))
        let second = try Binary.run(push + ["patterns/web.jsonnet"], in: scratch.path)
        #expect(second.stdout == "127.0.0.1:\(port):\n        No changes\n")
        scratch.write(
            "patterns/web.jsonnet",
            """
            local f = import 'lib/file.libsonnet';
            { run: [f.file('\(out)', 'a')], runExec: {command: '/bin/sh -c'} }
            """)
        let third = try Binary.run(push + ["patterns/web.jsonnet"], in: scratch.path)
        #expect(third.stdout == "127.0.0.1:\(port):\n        Removed 1: built-here\n")
        #expect(!FileManager.default.fileExists(atPath: "\(out)/built-here"))
        // Without -h, every target whose sourcePatterns names the source.
        let node =
            #""node1": {"hostname": "127.0.0.1", "port": "\#(port)", "#
            + #""sourcePatterns": {"web": ""}}"#
        let targets = "targets={\(node), \"other\": {\"sourcePatterns\": {\"db\": \"y\"}}}"
        let viaTargets = try Binary.run(
            sign + [
                "-x", targets, "-x", "httpClient_tlsSkipVerify=true", "push", "--check", "web", "patterns/web.jsonnet",
            ],
            in: scratch.path)
        #expect(viaTargets.stdout == "node1:\n        No changes\n", "\(viaTargets.stderr)")
        let refused = try Binary.run(
            [
                "-x", "build_signingKey=\(stranger.private)", "-x", "httpClient_tlsSkipVerify=true", "push", "-h",
                "127.0.0.1:\(port)",
                "web", "patterns/web.jsonnet",
            ], in: scratch.path)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("error: 404"))
    }
}
