import Foundation
import Testing

@testable import Agent

/// Reading the configuration: files, overrides, defaults, and errors that name the key path.
@Suite struct ConfigLoaderTests {
    private func load(
        _ json: String? = nil, file name: String = "etcha.json", overrides: [String] = [],
        environment: [String: String] = [:]
    ) throws -> LoadedConfig {
        let dir = TemporaryDirectory()
        let path = json.map { dir.write(name, $0) }
        return try ConfigLoader(path: path, overrides: overrides, environment: environment).load()
    }

    private func error(_ json: String? = nil, file: String = "etcha.json", overrides: [String] = []) -> String? {
        do {
            _ = try load(json, file: file, overrides: overrides)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultsAreEtchas() throws {
        let config = try load().config
        #expect(config.exec.command == "/usr/bin/bash -e -o pipefail -c")
        #expect(config.exec.allowOverride == true)
        #expect(config.exec.envInherit == true)
        #expect(config.httpServer.listenAddress == ":4000")
        #expect(config.httpServer.rateLimitRate == "10-M")
        #expect(config.httpServer.maxBodyBytes == 4 * 1024 * 1024)
        #expect(config.run.timeoutPush.duration == .seconds(600))
        #expect(config.run.maxShells == 8)
        #expect(config.run.maxQueuedRuns == 16)
        #expect(config.sources.isEmpty)
    }

    @Test func sourceDefaultsAreFilled() throws {
        let source = try #require(try load(#"{"sources": {"web": {"allowPush": true}}}"#).config.sources["web"])
        #expect(source.allowPush)
        #expect(!source.runMulti)
        #expect(source.exec == nil)
        #expect(source.runFrequency.isZero)
        #expect(source.shell == .string(""))
    }

    @Test func jsonnetFilesAreRendered() throws {
        let config = try load(
            """
            local port = 4000 + 1;
            { httpServer: { listenAddress: ':%d' % port }, run: { stateDir: std.native('getEnv')('HOME', '/') } }
            """, file: "etcha.jsonnet"
        ).config
        #expect(config.httpServer.listenAddress == ":4001")
        #expect(config.run.stateDir == ProcessInfo.processInfo.environment["HOME"])
    }

    @Test func overridesParseJSONOrTakeStrings() throws {
        let config = try load(overrides: [
            #"sources={"db": {"checkOnly": true}}"#, "run_stateDir=/var/lib/etcha", "sources_web_allowPush=true",
            "sources_web_runFrequency=5m", "run_verifyKeys=[\"\(tutorialPublicKey)\"]", "httpServer_maxBodyBytes=1024",
        ]).config
        #expect(config.run.stateDir == "/var/lib/etcha")
        #expect(config.sources["web"]?.allowPush == true)
        #expect(config.sources["web"]?.runFrequency.duration == .seconds(300))
        #expect(config.sources["db"]?.checkOnly == true)
        #expect(config.run.verifyKeys == [tutorialPublicKey])
        #expect(config.httpServer.maxBodyBytes == 1024)
    }

    @Test func stringKeysTakeDigitsAsWrittenAndTypeErrorsNeverEchoTheValue() throws {
        let config = try load(
            #"{"sources": {"web": {}}}"#,
            overrides: ["run_systemMetricsKey=123456", "sources_web_exec_user=1000", #"run_stateDir="/quoted""#],
            environment: ["ETCHA_BUILD_SIGNINGKEYPATH": "42", "ETCHA_EXEC_GROUP": "27"]
        ).config
        #expect(config.run.systemMetricsKey == "123456")
        #expect(config.sources["web"]?.exec?.user == "1000")
        #expect(config.run.stateDir == "/quoted")
        #expect(config.build.signingKeyPath == "42")
        #expect(config.exec.group == "27")
        let message = try #require(error(#"{"run": {"systemMetricsKey": 987654}}"#))
        #expect(message.contains("run.systemMetricsKey") && message.contains("a number"))
        #expect(!message.contains("987654"))
    }

    @Test func environmentOverridesMatchWithoutCaseAndLoseToDashX() throws {
        let config = try load(
            #"{"sources": {"my_app": {}}}"#, overrides: ["run_timeoutPush=2m"],
            environment: [
                "ETCHA_RUN_SYSTEMMETRICSKEY": "from-env", "ETCHA_RUN_TIMEOUTPUSH": "1m",
                "ETCHA_SOURCES_MY_APP_ALLOWPUSH": "true", "ETCHA_SOURCE_NAME": "not config", "ETCHA_EVENT_ID": "x",
            ]
        ).config
        #expect(config.run.systemMetricsKey == "from-env")
        #expect(config.run.timeoutPush.duration == .seconds(120))
        #expect(config.sources["my_app"]?.allowPush == true)
    }

    @Test func systemMetricsSecretIsAnAlias() throws {
        #expect(try load(#"{"run": {"systemMetricsSecret": "s1"}}"#).config.run.systemMetricsKey == "s1")
        #expect(try load(overrides: ["run_systemMetricsSecret=s2"]).config.run.systemMetricsKey == "s2")
    }

    @Test func etchaKeysThatDoNothingHereAreOneWarningEach() throws {
        let loaded = try load(
            """
            {"licenseKey": "x", "targets": {"web": {"pathPush": "/p"}}, "lint": {"linters": {}},
             "jsonnet": {"x": 1}, "run": {"systemPprofSecret": "p"}, "sources": {"web": {}}}
            """, overrides: [#"sources_listen={"allowPush": true, "runExec": {"allowOverride": true}}"#])
        #expect(
            loaded.warnings.sorted() == [
                "jsonnet is ignored: Jsonnet settings are fixed",
                "licenseKey is ignored: no license is needed",
                "lint is ignored: linting is not part of the agent",
                "run.systemPprofSecret is ignored: there is no pprof endpoint",
                "sources.listen.runExec is ignored: a source has no runExec (Etcha ignores it too); set exec, "
                    + "or a pattern's runExec",
            ])
        #expect(loaded.config.sources["listen"]?.allowPush == true)
        #expect(loaded.config.targets["web"]?.pathPush == "/p")
        #expect(loaded.config.targets["web"]?.pathShell == "/etcha/v1/shell")
    }

    @Test func etcha2024KeysMoveToTheirCurrentPlace() throws {
        let config = try load(
            """
            {"run": {"listenAddress": ":4100", "rateLimiterRate": "5-S", "tlsCertificatePath": "/c.pem",
                     "tlsKeyPath": "/k.pem", "tlsCertificateBase64": "Yw==", "tlsKeyBase64": "aw=="},
             "build": {"pushTLSSkipVerify": true, "pushTargets": {"n1": {"hostname": "10.0.0.1", "port": 4001,
                       "path": "/edge/etcha/v1/push", "insecure": true, "sourcePatterns": {"web": "p.jsonnet"},
                       "vars": {"role": "edge"}}}},
             "sources": {"web": {"runFrequencySec": 30, "eventsReceiveExit": true}, "db": {"runFrequencySec": 0}}}
            """
        ).config
        #expect(config.httpServer.listenAddress == ":4100")
        #expect(config.httpServer.rateLimitRate == "5-S")
        #expect(config.httpServer.tlsCertificatePath == "/c.pem" && config.httpServer.tlsKeyPath == "/k.pem")
        #expect(config.httpServer.tlsCertificateBase64 == "Yw==" && config.httpServer.tlsKeyBase64 == "aw==")
        #expect(config.build.pushTLSSkipVerify)
        let target = try #require(config.targets["n1"])
        #expect(target.hostname == "10.0.0.1" && target.port == "4001" && target.insecure)
        #expect(target.sourcePatterns == ["web": "p.jsonnet"] && target.vars == ["role": .string("edge")])
        #expect(config.sources["web"]?.runFrequency.duration == .seconds(30))
        #expect(config.sources["web"]?.eventsReceiveExit == true)
        #expect(config.sources["db"]?.runFrequency.isZero == true)
    }

    @Test func etcha2024KeysWorkAsOverridesAndWinOverTheFile() throws {
        let config = try load(
            #"{"httpServer": {"listenAddress": ":1"}, "sources": {"web": {"runFrequency": "1h"}}}"#,
            overrides: [
                "run_listenAddress=:4200", "sources_web_runFrequencySec=5", "build_pushTargets_n2_port=4002",
                #"sources_pull={"runFrequencySec": 60}"#, "cli_logLevel=debug",
            ],
            environment: ["ETCHA_RUN_RATELIMITERRATE": "3-M", "ETCHA_CLI_LOGFORMAT": "kv"]
        ).config
        #expect(config.httpServer.listenAddress == ":4200")
        #expect(config.httpServer.rateLimitRate == "3-M")
        #expect(config.sources["web"]?.runFrequency.duration == .seconds(5))
        #expect(config.sources["pull"]?.runFrequency.duration == .seconds(60))
        #expect(config.targets["n2"]?.port == "4002")
        #expect(config.cli.logLevel == "debug" && config.cli.logFormat == "kv")
    }

    @Test func aTargetPortMayBeANumberAsEtchasDocsWriteIt() throws {
        let config = try load(#"{"targets": {"server1": {"port": 4001}}}"#, overrides: ["targets_s2_port=4002"]).config
        #expect(config.targets["server1"]?.port == "4001")
        #expect(config.targets["s2"]?.port == "4002")
    }

    @Test(arguments: [
        (
            #"{"sources": {"web": {"runFrequency": "5x"}}}"#,
            #"sources.web.runFrequency: "5x" is not a duration (use Go syntax such as 90s, 10m, 1h30m)"#
        ),
        (#"{"sources": {"web": {"allowpush": true}}}"#, "sources.web.allowpush: unknown key (did you mean allowPush?)"),
        (#"{"nope": 1}"#, "nope: unknown key"),
        (
            #"{"sources": {"web": {"webhookSecrt": "s"}}}"#,
            "sources.web.webhookSecrt: unknown key (did you mean webhookSecret?)"
        ),
        (
            #"{"httpServer": {"listenAdress": ":1"}}"#,
            "httpServer.listenAdress: unknown key (did you mean listenAddress?)"
        ),
        (#"{"sources": {"web": {"secret": "s"}}}"#, "sources.web.secret: unknown key"),
        (
            #"{"run": {"listenAddress": ":1"}, "httpServer": {"listenAddress": ":2"}}"#,
            "run.listenAddress: also set as httpServer.listenAddress; keep one"
        ),
        (
            #"{"sources": {"w": {"runFrequencySec": "5m"}}}"#,
            "sources.w.runFrequencySec: expected a whole number of seconds"
        ),
        (
            #"{"build": {"pushTargets": {"n": {"prot": 1}}}}"#,
            "build.pushTargets.n.prot: unknown key (did you mean port?)"
        ),
        (
            #"{"cli": {"logLevel": "loud"}}"#,
            #"cli.logLevel: "loud" is not none, debug, info, error (or trace, notice, warning, critical)"#
        ),
        (
            #"{"exec": {"containerImage": "alpine"}}"#,
            "exec.containerImage: containers are not supported, and a command meant for one is never run on the host"
        ),
        (
            #"{"sources": {"a": {"exec": {"containerPrivileged": true}}}}"#,
            "sources.a.exec.containerPrivileged: containers are not supported, and a command meant for one is never run on the host"
        ),
        (
            #"{"sources": {"web": {"allowPush": "yes"}}}"#,
            #"sources.web.allowPush: expected a boolean, got a string"#
        ),
        (#"{"run": {"verifyKeys": "k"}}"#, #"run.verifyKeys: expected a list or object, got a string"#),
        (#"{"sources": []}"#, "sources: expected an object, got a list"),
        (#"{"run": {"maxShells": 0}}"#, "run.maxShells: must be 1 or more"),
        (#"{"run": {"timeoutWebhook": "0s"}}"#, "run.timeoutWebhook: must be longer than zero"),
        (#"{"httpServer": {"rateLimitRate": "10/m"}}"#, #"httpServer.rateLimitRate: "10/m" is not N-S, N-M or N-H"#),
        (
            #"{"sources": {"a": {"eventsSend": "(x"}}}"#,
            #"sources.a.eventsSend: "(x" is not a valid regular expression"#
        ),
        (
            #"{"sources": {"a": {"webhookPaths": ["/etcha/v1/x"]}}}"#,
            #"sources.a.webhookPaths[0]: "/etcha/v1/x" is under /etcha/, which the agent reserves"#
        ),
        (
            #"{"sources": {"a": {"commands": [{"id": "x", "onChange": ["x"]}]}}}"#,
            "sources.a.commands[0] (x).onChange: a command cannot target itself"
        ),
        (
            #"{"sources": {"a": {"commands": [{"change": "x"}]}}}"#,
            "sources.a.commands[0].id: every command needs an id"
        ),
        (
            #"{"run": {"verifyCommands": [{"change": "x"}]}, "sources": {"a": {}}}"#,
            "run.verifyCommands[0].id: every command needs an id"
        ),
        (
            #"{"build": {"signingCommands": [{"id": "s", "chnage": "x"}]}}"#,
            "build.signingCommands[0].chnage: unknown command key (did you mean change?)"
        ),
    ])
    func badConfigurationNamesTheKeyPath(json: String, message: String) {
        #expect(error(json) == message)
    }

    @Test func aSourceExecTheTopLevelForbidsIsIgnoredWithAWarning() throws {
        let loaded = try load(#"{"exec": {"allowOverride": false}, "sources": {"a": {"exec": {"user": "x"}}}}"#)
        #expect(loaded.warnings == ["sources.a.exec is ignored: the parent exec sets allowOverride false"])
    }

    @Test func aParseErrorNamesThePositionNotAType() throws {
        let nested = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let deep = try #require(error("{\"sources\":\n \(nested)}"))
        #expect(deep.contains("etcha.json:2:"), "\(deep)")
        let broken = try #require(error("{\"run\": {\"stateDir\": }}"))
        #expect(broken.contains("etcha.json:1:22"), "\(broken)")
        #expect(broken.components(separatedBy: "etcha.json").count == 2, "the file named once: \(broken)")
    }

    /// An `etcha.json` is read as Jsonnet, as Etcha reads it: the trailing commas of Etcha's
    /// examples and comments load.
    @Test func aJSONFileWithTrailingCommasLoadsAsInEtcha() throws {
        let config = try load(
            """
            {
              // as in Etcha's shell guide
              "sources": {"debug": {"shell": "/bin/bash",},},
            }
            """
        ).config
        #expect(config.sources["debug"]?.shell == .string("/bin/bash"))
    }

    /// `-c a.json,b.jsonnet`: each file laid over the ones before it, as Etcha reads the list.
    @Test func aCommaSeparatedListOfFilesIsMergedInOrder() throws {
        let dir = TemporaryDirectory()
        let base = dir.write(
            "base.json",
            #"{"run": {"stateDir": "/base"}, "vars": {"list": ["a"]}, "sources": {"web": {"allowPush": true}}}"#)
        let site = dir.write(
            "site.jsonnet", "{vars: {list: ['b']}, sources: {db: {allowPush: false}}}")
        let config = try ConfigLoader(path: "\(base),\(site)").load().config
        #expect(config.run.stateDir == "/base")
        #expect(config.vars["list"] == .array(["b"]))
        #expect(config.sources.keys.sorted() == ["db", "web"])
        let named = try ConfigLoader(path: nil, environment: ["ETCHA_CLI_CONFIGPATH": "\(site),\(base)"]).load()
        #expect(named.config.vars["list"] == .array(["a"]))
        #expect(throws: ConfigError.self) { try ConfigLoader(path: "\(base),\(dir.path)/missing.json").load() }
    }

    @Test func badOverridesNameTheKey() {
        #expect(error(overrides: ["run_nope=1"]) == "-x run_nope: no such configuration key")
        #expect(error(overrides: ["run_stateDir"]) == "-x run_stateDir: expected KEY=VALUE")
    }

    @Test func unreadableFilesAndBadSyntaxAreErrors() throws {
        #expect(error(file: "x") == nil)
        let dir = TemporaryDirectory()
        #expect(throws: ConfigError.self) { try ConfigLoader(path: "\(dir.path)/missing.json").load() }
        let message = error("{ broken", file: "etcha.jsonnet") ?? ""
        #expect(message.contains("etcha.jsonnet:1"))
        #expect(error("[1]") == nil || error("[1]")!.contains("must be an object"))
    }

    @Test(arguments: [
        ("90s", Duration.seconds(90)), ("10m", .seconds(600)), ("1h30m", .seconds(5400)), ("1.5h", .seconds(5400)),
        ("250ms", .milliseconds(250)), ("", .zero), ("0", .zero), ("2us", .microseconds(2)),
    ])
    func goDurations(text: String, duration: Duration) {
        #expect(GoDuration(parsing: text)?.duration == duration)
    }

    @Test(arguments: ["5x", "m", "1.2.3s", "10", "h1"])
    func notDurations(text: String) {
        #expect(GoDuration(parsing: text) == nil)
    }
}
