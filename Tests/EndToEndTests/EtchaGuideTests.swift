import Foundation
import Testing

/// Etcha's guides that run listen mode, step by step with the same keys, `-x` overrides and verbs,
/// at both of Etcha's versions (``EtchaTutorialTests/Version``). Patterns and files are this
/// test's own.
@Suite struct EtchaGuideTests {
    typealias Version = EtchaTutorialTests.Version

    /// "Running commands": static source commands (at startup, periodically, with `checkOnly` and
    /// `triggerOnly`), then ad-hoc pushed commands to a source with `noRemove` and `noRestore`.
    @Test(arguments: Version.allCases)
    func runCommandsWithoutAPatternAsTheGuideDoes(version: Version) throws {
        let scratch = Scratch()
        let work = scratch.path
        scratch.write("README.md", "read me\n")
        let signer = try Binary.generateKeys(kid: "guide")
        let every = version == .v2024 ? #""runFrequencySec": 1"# : #""runFrequency": "1s""#
        scratch.write(
            "etcha.json",
            """
            {"run": {"verifyKeys": ["\(signer.public)"], "stateDir": "\(work)/state"},
             "sources": {
               "100static": {\(every), "commands": [
                 {"id": "as written", "change": "touch \(work)/as-written"},
                 {"id": "tick", "always": true, "change": "echo tick >> \(work)/ticks"}]},
               "checked": {"checkOnly": true, "commands": [{"id": "c", "check": "false", "change": "touch \(work)/checked"}]},
               "triggered": {"triggerOnly": true, "commands": [{"id": "t", "change": "touch \(work)/triggered"}]},
               "mysource": {"allowPush": true, "noRemove": true, "noRestore": true}
             }}
            """)
        func listen() throws -> (Binary.Running, String) {
            let agent = try Binary.start(
                ["-x", "\(version.listenKey)=127.0.0.1:0", "run"], in: work, environment: [:])
            return (agent, Binary.port(of: agent))
        }
        var (agent, port) = try listen()
        defer { agent.stop() }
        try #require(!port.isEmpty, "\(agent.stderr)")

        // Static commands run at startup and then every second; check-only and trigger-only ones do
        // not change. The guide's example command has neither a check nor `always`: Etcha's code
        // never runs such a change (nothing says it must), and neither does this.
        #expect(
            Ecosystem.eventually(within: 15) { (scratch.read("ticks") ?? "").split(separator: "\n").count >= 2 },
            "\(agent.stderr)")
        #expect(scratch.read("as-written") == nil)
        #expect(scratch.read("checked") == nil && scratch.read("triggered") == nil)

        // A pattern pushed first, then an ad-hoc command replacing it: with noRemove, its remove never runs.
        scratch.write(
            "kept.jsonnet",
            "{run: [{id: 'keep', always: true, change: 'touch \(work)/kept', remove: 'rm \(work)/kept'}]}")
        let push = ["-x", "build_signingKey=\(signer.private)", "-x", "\(version.skipVerifyKey)=true", "push", "-h"]
        let kept = try Binary.run(push + ["127.0.0.1:\(port)", "mysource", "kept.jsonnet"], in: work)
        #expect(kept.status == 0 && scratch.read("kept") != nil, "\(kept.stderr)")
        let listed = try Binary.run(push + ["127.0.0.1:\(port)", "mysource", "ls"], in: work)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(
            listed.stdout.hasPrefix("127.0.0.1:\(port):\n") && listed.stdout.contains("README.md"), "\(listed.stdout)")
        #expect(scratch.read("kept") != nil)
        let appended = try Binary.run(push + ["127.0.0.1:\(port)", "mysource", "echo once >> \(work)/adhoc"], in: work)
        #expect(appended.status == 0 && scratch.read("adhoc") == "once\n", "\(appended.stderr)")

        // With noRestore, the last pushed command does not run again when the agent starts.
        agent.stop()
        (agent, port) = try listen()
        try #require(!port.isEmpty, "\(agent.stderr)")
        let ticks = (scratch.read("ticks") ?? "").split(separator: "\n").count
        #expect(Ecosystem.eventually(within: 15) { (scratch.read("ticks") ?? "").split(separator: "\n").count > ticks })
        #expect(scratch.read("adhoc") == "once\n")
    }

    /// "Monitoring": a real Prometheus scrapes the agent with the guide's scrape config (the key as
    /// a query parameter, TLS verification off for the self-signed certificate), and the guide's
    /// "a source is pushed" rule fires with the labels its annotations name.
    @Test(arguments: Version.allCases)
    func monitorAnAgentAsTheGuideDoes(version: Version) throws {
        let scratch = Scratch()
        let work = scratch.path
        let signer = try Binary.generateKeys(kid: "pusher")
        let metricsKey = version == .v2024 ? "run_systemMetricsSecret" : "run_systemMetricsKey"
        let agent = try Binary.start(
            [
                "-x", "\(metricsKey)=secret", "-x", "\(version.listenKey)=127.0.0.1:0",
                "-x", #"run_verifyKeys=[""# + signer.public + #""]"#, "-x", "run_stateDir=\(work)/state",
                "-x", #"sources_web={"allowPush": true}"#, "run",
            ],
            in: work, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")

        scratch.write(
            "etcha.rules.yml",
            """
            groups:
              - name: etcha
                rules:
                  - alert: EtchaShellActive
                    expr: 'etcha_sources_shells == 1'
                    annotations:
                      summary: '{{ $labels.instance }} has an active Etcha shell session'
                  - alert: EtchaSourcePushed
                    expr: 'changes(etcha_sources_total[2m]) != 0'
                    annotations:
                      public_key: '{{ $labels.public_key }}'
                      remote_addr: '{{ $labels.remote_addr }}'
                      source: '{{ $labels.name }}'
                      trigger: '{{ $labels.trigger }}'
            """)
        let (prometheus, webPort) = try Ecosystem.prometheus(
            config: """
                global: {scrape_interval: 1s, evaluation_interval: 1s}
                rule_files: ['\(work)/etcha.rules.yml']
                scrape_configs:
                  - job_name: etcha
                    metrics_path: /etcha/v1/system/metrics
                    params:
                      key:
                        - secret
                    scheme: https
                    static_configs:
                      - targets: ['127.0.0.1:\(port)']
                    tls_config:
                      insecure_skip_verify: true
                """, in: scratch)
        defer {
            prometheus.terminate()
            prometheus.waitUntilExit()
        }
        let api = "http://127.0.0.1:\(webPort)/api/v1"
        func query(_ promQL: String) -> [[String: Any]] {
            let encoded = promQL.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let data = (Ecosystem.json(api + "/query?query=" + encoded) as? [String: Any])?["data"] as? [String: Any]
            return data?["result"] as? [[String: Any]] ?? []
        }
        #expect(
            Ecosystem.eventually(within: 60) { !query(#"up{job="etcha"} == 1"#).isEmpty },
            "\(scratch.read("prometheus.log") ?? "")")

        // Two pushes, scraped apart, so that the counter changes inside the rule's window.
        scratch.write("pattern.jsonnet", "{run: [{id: 'pushed', always: true, change: 'true'}]}")
        let push = [
            "-x", "build_signingKey=\(signer.private)", "-x", "\(version.skipVerifyKey)=true", "push", "-h",
            "127.0.0.1:\(port)", "web", "pattern.jsonnet",
        ]
        #expect(try Binary.run(push, in: work).status == 0)
        #expect(Ecosystem.eventually(within: 30) { !query(#"etcha_sources_total{name="web",trigger="push"}"#).isEmpty })
        #expect(try Binary.run(push, in: work).status == 0)
        func pushedAlerts() -> [[String: String]] {
            let data = (Ecosystem.json(api + "/alerts") as? [String: Any])?["data"] as? [String: Any]
            let alerts = data?["alerts"] as? [[String: Any]] ?? []
            return alerts.compactMap { $0["labels"] as? [String: String] }.filter {
                $0["alertname"] == "EtchaSourcePushed"
            }
        }
        #expect(Ecosystem.eventually(within: 30) { !pushedAlerts().isEmpty })
        let labels = pushedAlerts().first ?? [:]
        #expect(labels["name"] == "web" && labels["trigger"] == "push" && labels["public_key"] == "pusher", "\(labels)")
        #expect(labels["remote_addr"]?.hasPrefix("127.0.0.1") == true, "\(labels)")

        // The metric families and labels the guide lists.
        for labelled in [
            #"etcha_commands_total{id="pushed",mode="change",error="0",source="web",public_key="pusher"}"#,
            #"etcha_sources_commands{name="web",mode="change",trigger="push"}"#,
        ] {
            #expect(!query(labelled).isEmpty, "\(labelled)")
        }
        #expect(query("etcha_sources_shells == 1").isEmpty)
    }
}

extension EtchaGuideTests {
    /// "Shell access" (current docs only): a source with a `shell` and an `exec` user, written as the
    /// guide writes it (trailing commas in `etcha.json`), opened with `etcha shell SOURCE HOST`
    /// by address and by target name.
    @Test func openAShellAsTheGuideDoes() throws {
        let scratch = Scratch()
        let work = scratch.path
        let signer = try Binary.generateKeys(kid: "operator")
        let root = getuid() == 0
        let user = root ? "nobody" : String(cString: getpwuid(getuid())!.pointee.pw_name)
        scratch.write(
            "etcha.json",
            """
            {
              "run": {"verifyKeys": ["\(signer.public)"], "stateDir": "\(work)/state"},
              "sources": {
                "debug": {
                  "exec": {
                    \(root ? #""group": "nogroup", "user": "nobody","# : "")
                  },
                  "shell": "/bin/bash",
                },
              }
            }
            """)
        let agent = try Binary.start(
            ["-x", "httpServer_listenAddress=127.0.0.1:0", "run"], in: work, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")

        scratch.write("client.json", "{}")
        let client = [
            "-c", "client.json", "-x", "build_signingKey=\(signer.private)", "-x", "httpClient_tlsSkipVerify=true",
            "-x", #"targets_myhost={"hostname": "127.0.0.1", "port": "# + port + "}",
        ]
        for host in ["127.0.0.1:\(port)", "myhost"] {
            let keyboard = Pipe()
            let shell = try Binary.start(
                client + ["shell", "debug", host], in: work, environment: [:], stdin: keyboard)
            try keyboard.fileHandleForWriting.write(contentsOf: Data("id -un; echo $0\nexit\n".utf8))
            let outcome = Binary.wait(for: shell, timeout: 30)
            #expect(outcome.status == 0, "\(host): \(outcome.stderr)")
            let lines = outcome.stdout.split(whereSeparator: \.isNewline).map(String.init)
            #expect(lines.contains { $0.hasSuffix(user) }, "\(host): \(outcome.stdout)")
            #expect(lines.contains { $0.hasSuffix("/bin/bash") || $0.hasSuffix("bash") }, "\(host): \(outcome.stdout)")
        }
        #expect(try Binary.run(client + ["shell", "-h", "myhost", "debug", "myhost"], in: work).status != 0)
    }
}

extension EtchaGuideTests {
    /// "Building patterns": the signing key read from a Vault-like HTTP API by the configuration
    /// itself (a URL with an `#x-vault-token:` header, the token from the environment), then
    /// `build PATTERN OUT SOURCE` with the source's exec, `buildManifest`, `runEnv_myapp` and
    /// `subject` in the token. The Vault stand-in is nginx on loopback, answering only with the token.
    @Test(arguments: Version.allCases)
    func buildWithAKeyFromVaultAsTheGuideDoes(version: Version) throws {
        let scratch = Scratch()
        let work = scratch.path
        let signer = try Binary.generateKeys(kid: "vault")
        let port = Ecosystem.freePort()
        scratch.write("www/secret.json", #"{"data": {"private_key": ""# + signer.private + #""}}"#)
        let vault = try Ecosystem.nginx(
            server: """
                listen 127.0.0.1:\(port);
                location = /v1/kv/secret/etcha {
                  if ($http_x_vault_token != "s3cret") { return 403; }
                  alias \(work)/www/secret.json;
                }
                """, in: scratch)
        defer { Ecosystem.stopNginx(vault) }
        // Etcha 2024 reads URLs with getFile (its getPath took no argument); its current docs use getPath.
        let fetch = version == .v2024 ? "getFile" : "getPath"
        scratch.write(
            "config.jsonnet",
            """
            local getEnv(key) = std.native('getEnv')(key, null);
            local fetch(path, fallback=null) = std.native('\(fetch)')(path, fallback);
            {
              build: {
                signingKey: std.parseJson(fetch('http://127.0.0.1:\(port)/v1/kv/secret/etcha#x-vault-token:%s' % getEnv('VAULT_TOKEN'))).data.private_key,
              },
              run: {verifyKeys: ['\(signer.public)']},
              sources: {myapp: {exec: {command: '/bin/sh -c', env: {FLAVOR: 'guide'}}}},
            }
            """)
        scratch.write(
            "patterns/myapp.jsonnet",
            """
            local app_name = 'myapp';
            local restart(name) = {change: 'systemctl restart %s' % name, id: 'restart %s' % name};
            {
              build: [
                {always: true, change: 'echo built-${FLAVOR:-plain}', id: 'build %s' % app_name,
                 onChange: ['etcha:buildManifest', 'etcha:runEnv_myapp']},
                {always: true, change: 'echo %s' % std.native('getConfig')().vars.dstPath, id: 'where',
                 onChange: ['etcha:runVar_dst']},
              ],
              subject: app_name,
              run: [
                {change: 'curl -L https://s3.example.com/myapp_v2 -o /myapp', check: 'myapp --version | grep v2',
                 id: 'copy %s v2' % app_name, onChange: ['restart myapp']},
                restart(app_name),
              ],
            }
            """)
        let environment = ["VAULT_TOKEN": "s3cret"]
        let source = version == .v2024 ? [] : ["myapp"]
        let built = try Binary.run(
            ["-c", "config.jsonnet", "build", "patterns/myapp.jsonnet", "myapp.jwt"] + source, in: work,
            environment: environment)
        #expect(built.status == 0, "\(built.stderr)")
        let shown = try Binary.run(["-c", "config.jsonnet", "jwt", "myapp.jwt"], in: work, environment: environment)
        #expect(shown.status == 0, "\(shown.stderr)")
        let claims = EtchaTutorialTests.object(shown.stdout)
        let flavor = version == .v2024 ? "plain" : "guide"
        #expect(claims["etchaBuildManifest"] as? String == "built-\(flavor)\n", "\(shown.stdout)")
        #expect(claims["etchaRunEnv"] as? [String: String] == ["myapp": "built-\(flavor)"])
        #expect((claims["etchaRunVars"] as? [String: String])?["dst"] == "\(work)/myapp.jwt")
        #expect(claims["sub"] as? String == "myapp")

        // Without the token, Vault refuses, and the configuration cannot get its key.
        let refused = try Binary.run(
            ["-c", "config.jsonnet", "build", "patterns/myapp.jsonnet", "other.jwt"], in: work,
            environment: ["VAULT_TOKEN": "wrong"])
        #expect(refused.status != 0 && scratch.read("other.jwt") == nil, "\(refused.stderr)")
    }
}

extension EtchaGuideTests {
    /// "Running patterns", remote run: a configuration with trailing commas and two verify keys;
    /// a push answered with the result object; events dispatched to sources alphabetically, never
    /// to the sender, and never again from a handler's own events; a webhook path shared by two
    /// sources, tried alphabetically until one answers, and a path nobody answers (404); and
    /// `etcha run -o`, pulling once as from a cron job.
    @Test(arguments: Version.allCases)
    func runPatternsRemotelyAsTheGuideDoes(version: Version) throws {
        let scratch = Scratch()
        let work = scratch.path
        let signer = try Binary.generateKeys(kid: "ops")
        let spare = try Binary.generateKeys(kid: "spare")
        func log(_ name: String) -> String { "echo \(name) >> \(work)/log" }
        scratch.write(
            "etcha.json",
            """
            {
              "run": {
                "verifyKeys": ["\(spare.public)", "\(signer.public)",],
                "stateDir": "\(work)/state",
              },
              "exec": {"command": "/bin/sh -c"},
              "sources": {
                "emitter": {"allowPush": true, "eventsSend": ".*", "eventsReceive": ["deploy"]},
                "zhandler": {"eventsReceive": ["deploy"], "triggerOnly": true,
                             "commands": [{"id": "z", "always": true, "change": "\(log("zhandler"))"}]},
                "ahandler": {"eventsReceive": ["deploy"], "eventsSend": ".*", "triggerOnly": true,
                             "commands": [{"id": "a", "always": true, "change": "\(log("ahandler"))",
                                           "onChange": ["etcha:deploy"]}]},
                "pattern2": {"webhookPaths": ["/mypath"], "triggerOnly": true,
                             "commands": [{"id": "answer", "always": true, "change": "\(log("pattern2")); echo from pattern2",
                                           "onChange": ["etcha:webhookBody"]}]},
                "pattern1": {"webhookPaths": ["/mypath"], "triggerOnly": true,
                             "commands": [{"id": "quiet", "always": true, "change": "\(log("pattern1"))"}]},
                "silent": {"webhookPaths": ["/nobody"], "triggerOnly": true,
                           "commands": [{"id": "quiet", "always": true, "change": "true"}]},
              },
            }
            """)
        let agent = try Binary.start(["-x", "\(version.listenKey)=127.0.0.1:0", "run"], in: work, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")

        // A push, answered with the result object; its event reaches the handlers in name order.
        scratch.write(
            "emit.jsonnet",
            "{run: [{id: 'emit', always: true, change: '\(log("emitter"))', onChange: ['etcha:deploy']}]}")
        let built = try Binary.run(
            ["-x", "build_signingKey=\(signer.private)", "build", "emit.jsonnet", "emit.jwt"], in: work)
        #expect(built.status == 0, "\(built.stderr)")
        let pushed = try Ecosystem.sh(
            "curl -sk -X POST --data-binary @emit.jwt https://127.0.0.1:\(port)/etcha/v1/push/emitter", in: work)
        let answer = EtchaTutorialTests.object(pushed.output)
        #expect(answer["changedIDs"] as? [String] == ["emit"], "\(pushed.output)")
        #expect(
            answer["removedIDs"] as? [String] == [] && answer["err"] as? String == ""
                && answer["exit"] as? Bool == false)
        #expect(Ecosystem.eventually(within: 10) { scratch.read("log") == "emitter\nahandler\nzhandler\n" })
        usleep(500_000)
        #expect(scratch.read("log") == "emitter\nahandler\nzhandler\n", "each once, in name order")

        // One webhook path, two sources: pattern1 answers nothing, so pattern2 answers.
        try FileManager.default.removeItem(atPath: "\(work)/log")
        let hook = try Ecosystem.sh("curl -sk https://127.0.0.1:\(port)/mypath")
        #expect(hook.output == "from pattern2\n", "\(hook.output)")
        #expect(scratch.read("log") == "pattern1\npattern2\n")
        let nobody = try Ecosystem.sh("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:\(port)/nobody")
        #expect(nobody.output == "404")
        agent.stop()

        // Pulling once, as from a cron job or a timer: `run -o` runs the pulled pattern and exits.
        try FileManager.default.removeItem(atPath: "\(work)/log")
        let every = version == .v2024 ? #""runFrequencySec": 60"# : #""runFrequency": "60s""#
        let once = try Binary.run(
            [
                "-x", #"sources={"myapp1": {"pullPaths": [""# + "\(work)/emit.jwt" + #""], "# + every + "}}",
                "-x", "\(version.listenKey)=127.0.0.1:0", "run", "-o",
            ], in: work, timeout: 30)
        #expect(once.status == 0, "\(once.stderr)")
        #expect(scratch.read("log") == "emitter\n")
    }
}

extension EtchaGuideTests {
    /// "Writing patterns": command libraries under `lib/`, a pattern reusing another pattern's
    /// `run`, and lists nested in `build` and `run`, which render flattened and in order. (The
    /// guide is the same at both versions.)
    @Test func writePatternsAsTheGuideDoes() throws {
        let scratch = Scratch()
        let work = scratch.path
        scratch.write(
            "lib/myorg/systemdRestart.libsonnet",
            "function(name) {always: true, change: 'systemctl restart %s' % name, id: 'restart service %s' % name}")
        scratch.write(
            "lib/myorg/makeApp.libsonnet",
            "function(name) {change: 'make %s' % name, check: '[ -e %s ]' % name, id: 'build %s' % name}")
        scratch.write(
            "lib/myorg/runApp.libsonnet",
            """
            local restart = import './systemdRestart.libsonnet';
            function(name) [
              {change: 'curl -L https://s3.example.com/%s_v2 -o /%s' % [name, name], check: '%s --version | grep v2' % name,
               id: 'copy %s v2' % name, onChange: ['restart service %s' % name]},
              restart(name),
            ]
            """)
        scratch.write("patterns/core.jsonnet", "{run: [{id: 'core', always: true, change: 'true'}]}")
        scratch.write(
            "patterns/apps.jsonnet",
            """
            local corePattern = import './core.jsonnet';
            local makeApp = import '../lib/myorg/makeApp.libsonnet';
            local runApp = import '../lib/myorg/runApp.libsonnet';
            {
              build: [[[[makeApp('myapp1'), makeApp('myapp2')]]]],
              run: [corePattern.run, runApp('myapp1'), runApp('myapp2')],
            }
            """)
        let rendered = try Binary.run(["render", "patterns/apps.jsonnet"], in: work)
        #expect(rendered.status == 0, "\(rendered.stderr)")
        let pattern = EtchaTutorialTests.object(rendered.stdout)
        let ids = { (key: String) in (pattern[key] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } }
        #expect(ids("build") == ["build myapp1", "build myapp2"], "\(rendered.stdout)")
        #expect(
            ids("run") == [
                "core", "copy myapp1 v2", "restart service myapp1", "copy myapp2 v2", "restart service myapp2",
            ])
    }
}
