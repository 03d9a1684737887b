import Foundation
import Testing

/// `etcha push` as Etcha runs it: ad-hoc commands, `-c`, `-f`, `-n`, `-p`, targets with their
/// own patterns and `vars` (which reach the node in `etchaRunVars`), `pathPush`, `insecure` as
/// plain HTTP (through a real nginx that ends TLS) and `build.pushDomainSuffix`.
@Suite struct PushTargetTests {
    @Test func pushesReachTargetsAsEtchaAddressesThem() throws {
        let scratch = Scratch()
        let (privateKey, publicKey) = try Binary.generateKeys()
        let out = scratch.path + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        scratch.write(
            "agent.json",
            """
            {"run": {"verifyKeys": ["\(publicKey)"], "stateDir": "\(scratch.path)/state"},
             "httpServer": {"listenAddress": "127.0.0.1:0"},
             "sources": {"web": {"allowPush": true}, "adhoc": {"allowPush": true, "noRemove": true}}}
            """)
        let agent = try Binary.start(["-c", "agent.json", "run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        let sign = ["-x", "build_signingKey=\(privateKey)", "-x", "httpClient_tlsSkipVerify=true"]

        // An ad-hoc command: its output is printed; -c only checks, so nothing runs.
        let adHoc = try Binary.run(sign + ["push", "-h", "127.0.0.1", "-p", port, "adhoc", "echo", "hi  there"])
        #expect(adHoc.status == 0, "\(adHoc.stderr)")
        #expect(adHoc.stdout == "127.0.0.1:\n        hi there\n")
        let checked = try Binary.run(sign + ["push", "-c", "-h", "127.0.0.1:\(port)", "adhoc", "touch \(out)/ran"])
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(out)/ran"))

        // node1 is reached through nginx over plain HTTP at its own path; node2 directly.
        let nginxPort = Ecosystem.freePort()
        let nginx = try Ecosystem.nginx(
            server: """
                listen 127.0.0.1:\(nginxPort);
                location /node1/etcha/v1/ {
                  proxy_pass https://127.0.0.1:\(port)/etcha/v1/;
                  proxy_ssl_verify off;
                }
                """, in: scratch)
        defer { Ecosystem.stopNginx(nginx) }
        scratch.write(
            "patterns/mono.jsonnet",
            """
            local v = std.native('getConfig')().vars;
            {run: [{id: 'role', commands: [
              {id: v.target, always: true, change: 'echo %s %s %s > \(out)/%s' % [v.source, v.target, v.role, v.target]}]}]}
            """)
        scratch.write(
            "etcha.json",
            """
            {"build": {"pushDomainSuffix": ".0.1"},
             "targets": {
               "node1": {"hostname": "127.0", "port": \(nginxPort), "insecure": true, "pathPush": "/node1/etcha/v1/push",
                         "sourcePatterns": {"web": "patterns/mono.jsonnet"}, "vars": {"role": "db"}},
               "node2": {"hostname": "127.0", "port": "\(port)", "sourcePatterns": {"web": ""}, "vars": {"role": "cache"}}}}
            """)
        let one = try Binary.run(sign + ["push", "-n", "^node1$", "web"], in: scratch.path)
        #expect(one.stdout == "node1:\n        Changed 1: node1\n", "\(one.stdout) \(one.stderr)")
        #expect(try String(contentsOfFile: "\(out)/node1", encoding: .utf8) == "web node1 db\n")
        #expect(!FileManager.default.fileExists(atPath: "\(out)/node2"))

        // node2's sourcePatterns entry is empty, so it gets the pattern given here.
        let both = try Binary.run(sign + ["push", "web", "patterns/mono.jsonnet"], in: scratch.path)
        #expect(both.status == 0, "\(both.stdout) \(both.stderr)")
        #expect(both.stdout.contains("node1:\n        Changed 1: node1\n"))
        #expect(both.stdout.contains("node2:\n        Changed 1: node2\n"))
        #expect(try String(contentsOfFile: "\(out)/node2", encoding: .utf8) == "web node2 cache\n")

        // -f runs only commands under matching parents.
        try FileManager.default.removeItem(atPath: "\(out)/node2")
        let filtered = try Binary.run(
            sign + ["push", "-n", "node2", "-f", "> nothing$", "web", "patterns/mono.jsonnet"], in: scratch.path)
        #expect(filtered.stdout == "node2:\n        No changes\n", "\(filtered.stdout) \(filtered.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(out)/node2"))
        let matching = try Binary.run(
            sign + ["push", "-n", "node2", "-f", "web > role", "web", "patterns/mono.jsonnet"], in: scratch.path)
        #expect(matching.stdout == "node2:\n        Changed 1: node2\n", "\(matching.stdout) \(matching.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(out)/node2"))

        let noPattern = try Binary.run(sign + ["push", "-n", "node2", "web"], in: scratch.path)
        #expect(noPattern.status == 1)
        #expect(noPattern.stderr.contains("node2: no pattern or command to push"))
    }
}
