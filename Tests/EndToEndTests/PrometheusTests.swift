import Auth
import Foundation
import Testing

/// The agent as operators meet it through their monitoring: a real Prometheus (Debian's) scraping
/// it over TLS with the example configuration, the example alert rules and their unit tests, the
/// Grafana dashboard; and a real nginx serving the JWT a source pulls.
@Suite struct PrometheusTests {
    static let examples = Binary.repository + "/examples"

    /// A scratch directory with development certificates, a key pair and a config for the agent.
    final class Node {
        let scratch = Scratch()
        let key = try! PrivateKey.generate(.ed25519, id: "ops")
        let metricsKey = "m-\(UUID().uuidString)"
        var certs: String { scratch.path + "/certs" }

        init(sources: String) throws {
            let generated = try Ecosystem.sh("OUT='\(certs)' '\(Binary.repository)/certs/generate.sh'")
            precondition(generated.status == 0, generated.output)
            scratch.write("metrics.key", metricsKey)
            scratch.write(
                "etcha.json",
                """
                {"build": {"signingKey": "\(key.keyString)"},
                 "run": {"verifyKeys": ["\(key.publicKey)"], "systemMetricsKey": "\(metricsKey)", "stateDir": "\(scratch.path)"},
                 "httpServer": {"listenAddress": "127.0.0.1:0", "tlsCertificatePath": "\(certs)/server.crt",
                                "tlsKeyPath": "\(certs)/server.key"},
                 "httpClient": {"tlsCAPath": "\(certs)/ca.crt"}, "exec": {"command": "/bin/sh -c"},
                 "vars": {"exampleDir": "\(scratch.path)/files"},
                 "sources": {\(sources)}}
                """)
        }
    }

    @Test func aRealPrometheusScrapesBothJobsSeesPushedCommandsAndTheShellAlert() throws {
        let node = try Node(sources: #""web": {"allowPush": true}, "debug": {"shell": "/bin/sh"}"#)
        let agent = try Binary.start(["run"], in: node.scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")

        // The committed example, pointed at this agent and this run's files, scraping every second.
        let (prometheus, webPort) = try Ecosystem.prometheus(
            replacing: [
                ("127.0.0.1:4000", "127.0.0.1:\(port)"), ("localhost:4000", "localhost:\(port)"),
                ("../demo/state/certs/", node.certs + "/"),
                ("../demo/state/metrics.key", node.scratch.path + "/metrics.key"),
                ("demo-metrics-key", node.metricsKey),
            ], in: node.scratch)
        defer {
            prometheus.terminate()
            prometheus.waitUntilExit()
        }
        let api = "http://127.0.0.1:\(webPort)/api/v1"

        // Both jobs report the agent up over TLS.
        func health() -> [String: String] {
            let targets = (Ecosystem.json(api + "/targets") as? [String: Any])?["data"] as? [String: Any]
            let active = targets?["activeTargets"] as? [[String: Any]] ?? []
            var byJob: [String: String] = [:]
            for target in active {
                if let job = (target["labels"] as? [String: String])?["job"] {
                    byJob[job] = target["health"] as? String
                }
            }
            return byJob
        }
        #expect(
            Ecosystem.eventually(within: 60) { health() == ["etcha": "up", "etcha-bearer": "up"] },
            "targets: \(health()), prometheus log: \(node.scratch.read("prometheus.log") ?? "")")

        // A pushed command shows up in etcha_commands_total through Prometheus's query API.
        node.scratch.write("pattern.jsonnet", "{run: [{id: 'pushed-command', always: true, change: 'true'}]}")
        let pushed = try Ecosystem.sh(
            "'\(Binary.path)' -c etcha.json push -h 127.0.0.1:\(port) web pattern.jsonnet", in: node.scratch.path)
        #expect(pushed.status == 0 && pushed.output.contains("Changed 1: pushed-command"), "\(pushed.output)")
        func query(_ promQL: String) -> [[String: Any]] {
            let encoded = promQL.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let data = (Ecosystem.json(api + "/query?query=" + encoded) as? [String: Any])?["data"] as? [String: Any]
            return data?["result"] as? [[String: Any]] ?? []
        }
        #expect(
            Ecosystem.eventually(within: 30) {
                query(#"etcha_commands_total{id="pushed-command",mode="change",error="0",job="etcha"}"#).count == 1
            })

        // An open shell makes the shell rule's alert pending.
        let keyboard = Pipe()
        let shell = try Binary.start(
            ["-c", "etcha.json", "shell", "-h", "127.0.0.1:\(port)", "debug"], in: node.scratch.path, environment: [:],
            stdin: keyboard)
        func shellAlertStates() -> [String] {
            let data = (Ecosystem.json(api + "/alerts") as? [String: Any])?["data"] as? [String: Any]
            let alerts = data?["alerts"] as? [[String: Any]] ?? []
            return alerts.filter { ($0["labels"] as? [String: String])?["alertname"] == "EtchaShellOpen" }
                .compactMap { $0["state"] as? String }
        }
        #expect(Ecosystem.eventually(within: 30) { shellAlertStates().contains("pending") }, "\(shellAlertStates())")
        try keyboard.fileHandleForWriting.write(contentsOf: Data("exit\n".utf8))
        #expect(Binary.wait(for: shell, timeout: 15).status == 0)
        #expect(Ecosystem.eventually(within: 30) { shellAlertStates().isEmpty })
    }

    @Test func theAlertRulesPassTheirUnitTestsAndPromtoolChecks() throws {
        let rules = Self.examples + "/prometheus/rules"
        let check = try Ecosystem.sh("promtool check rules '\(rules)/etcha.rules.yml'")
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("SUCCESS"))
        let test = try Ecosystem.sh("promtool test rules '\(rules)/etcha.rules.test.yml'")
        #expect(test.status == 0, "\(test.output)")
        // Every alert of the rules file is exercised by the unit tests.
        let ruleText = try String(contentsOfFile: rules + "/etcha.rules.yml", encoding: .utf8)
        let testText = try String(contentsOfFile: rules + "/etcha.rules.test.yml", encoding: .utf8)
        let alerts = ruleText.matches(of: /alert:\s*(\w+)/).map { String($0.output.1) }
        #expect(alerts.count >= 6)
        for alert in alerts { #expect(testText.contains("alertname: \(alert)"), "no unit test for \(alert)") }
    }

    @Test func everyDashboardQueryNamesAMetricTheAgentExposes() throws {
        let path = Self.examples + "/grafana/etcha-dashboard.json"
        let dashboard = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect(
            !String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self).contains(
                #""uid": "prometheus""#))

        // The names a live agent exposes, after a run so that every family has a series.
        let node = try Node(
            sources:
                #""tick": {"commands": [{"id": "t", "always": true, "change": "true"}]}, "debug": {"shell": "/bin/sh"}, "web": {"allowPush": true}"#
        )
        let agent = try Binary.start(["run"], in: node.scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        try #require(!port.isEmpty, "\(agent.stderr)")
        let shell = try Ecosystem.sh(
            "printf 'exit\\n' | '\(Binary.path)' -c etcha.json shell -h 127.0.0.1:\(port) debug", in: node.scratch.path)
        #expect(shell.status == 0, "\(shell.output)")
        node.scratch.write("pattern.jsonnet", "{run: [{id: 'p', always: true, change: 'true'}], expiresIn: '1h'}")
        let pushed = try Ecosystem.sh(
            "'\(Binary.path)' -c etcha.json push -h 127.0.0.1:\(port) web pattern.jsonnet", in: node.scratch.path)
        #expect(pushed.status == 0, "\(pushed.output)")
        let exposition = try Ecosystem.sh(
            "curl -s --cacert '\(node.certs)/ca.crt' -H 'Authorization: Bearer \(node.metricsKey)' https://127.0.0.1:\(port)/etcha/v1/system/metrics"
        ).output
        let exposed = Set(
            exposition.matches(of: /^([a-z_]+)[{ ]/.anchorsMatchLineEndings()).map { String($0.output.1) })
        #expect(exposed.contains("etcha_sources_total"))

        var expressions: [String] = []
        func collect(_ panels: [[String: Any]]) {
            for panel in panels {
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    if let expr = target["expr"] as? String { expressions.append(expr) }
                }
                collect(panel["panels"] as? [[String: Any]] ?? [])
            }
        }
        collect(dashboard["panels"] as? [[String: Any]] ?? [])
        #expect(expressions.count >= 7)
        for expression in expressions {
            for match in expression.matches(of: /(?:etcha|process)_[a-z_]+/) {
                let name = String(match.output)
                #expect(exposed.contains(name), "\(name) in \(expression) is not exposed by the agent")
            }
        }
        let templating = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        #expect(templating.contains { $0["type"] as? String == "datasource" })
    }

    @Test func anAgentPullsItsJWTOverHTTPSFromNginx() throws {
        let node = try Node(sources: "")
        let www = node.scratch.path + "/www"
        try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
        let nginxPort = Ecosystem.freePort()
        let nginx = try Ecosystem.nginx(
            server: """
                listen 127.0.0.1:\(nginxPort) ssl;
                ssl_certificate \(node.certs)/server.crt;
                ssl_certificate_key \(node.certs)/server.key;
                root \(www);
                location / { if ($http_x_fleet != "blue") { return 403; } }
                """, in: node.scratch)
        defer { Ecosystem.stopNginx(nginx) }

        // The example pull pattern, built twice with different run vars, served by nginx.
        func build(_ message: String) throws {
            let built = try Ecosystem.sh(
                "MESSAGE='\(message)' '\(Binary.path)' -c etcha.json build '\(Self.examples)/patterns/pull/main.jsonnet' '\(www)/web.jwt'",
                in: node.scratch.path)
            #expect(built.status == 0, "\(built.output)")
        }
        try build("first version")
        // The header after # is sent with the request (nginx refuses requests without it).
        let config = try #require(node.scratch.read("etcha.json")).replacingOccurrences(
            of: #""sources": {}"#,
            with:
                #""sources": {"fleet": {"pullPaths": ["https://localhost:\#(nginxPort)/web.jwt#X-Fleet:blue"], "runFrequency": "1s"}}"#
        )
        node.scratch.write("etcha.json", config)
        let agent = try Binary.start(["run"], in: node.scratch.path, environment: [:])
        defer { agent.stop() }
        let pulled = node.scratch.path + "/files/pulled"
        #expect(
            Ecosystem.eventually(within: 20) {
                (try? String(contentsOfFile: pulled, encoding: .utf8)) == "first version\n"
            },
            "\(agent.stderr)")
        try build("second version")
        #expect(
            Ecosystem.eventually(within: 20) {
                (try? String(contentsOfFile: pulled, encoding: .utf8)) == "second version\n"
            },
            "\(agent.stderr)")
        #expect(agent.stderr.contains("msg=applied"))
    }
}
