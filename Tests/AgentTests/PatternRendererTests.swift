import EtchaJSON
import Foundation
import Testing

@testable import Agent

/// Rendering patterns with libjsonnet: files, in-memory files, snippets, native functions, vars.
@Suite struct PatternRendererTests {
    @Test func fileWithRelativeImportsRecordsEveryFile() throws {
        let dir = TemporaryDirectory()
        dir.write("lib/util.libsonnet", "{ cmd(name):: { id: name, change: 'echo ' + name } }")
        dir.write("lib/data.json", #"{"name": "from-json"}"#)
        let main = dir.write(
            "main.jsonnet",
            """
            local util = import 'lib/util.libsonnet';
            local data = import 'lib/data.json';
            { run: [util.cmd('a'), util.cmd(data.name)] }
            """)
        let rendered = try PatternRenderer.render(.file(main), configuration: .object([:]))
        #expect(rendered.pattern.run.map(\.id) == ["a", "from-json"])
        #expect(
            Set(rendered.files.keys) == [
                "\(dir.path)/main.jsonnet", "\(dir.path)/lib/util.libsonnet", "\(dir.path)/lib/data.json",
            ])
        #expect(rendered.entrypoint == "\(dir.path)/main.jsonnet")
    }

    @Test func inMemoryFilesAsAJWTCarriesThem() throws {
        let rendered = try PatternRenderer.render(
            .files(
                entrypoint: "/main.jsonnet",
                files: [
                    "/main.jsonnet": "local l = import 'lib/l.libsonnet'; { run: [l.c] }",
                    "/lib/l.libsonnet": "{ c: { id: 'x', change: (import '../other.libsonnet').text } }",
                    "/other.libsonnet": "{ text: 'echo mem' }",
                ]), configuration: .object([:]))
        #expect(rendered.pattern.run.first?.change == "echo mem")
    }

    @Test func inMemoryImportsCannotReachTheDisk() throws {
        #expect(throws: CommandError.self) {
            try PatternRenderer.render(
                .files(entrypoint: "/main.jsonnet", files: ["/main.jsonnet": "import '/etc/hostname'"]),
                configuration: .object([:]))
        }
    }

    @Test func snippetsAreWrappedAsRun() throws {
        let rendered = try PatternRenderer.render(
            .snippet("{id: 'a', change: 'x'}, {id: 'b'}"), configuration: .object([:]))
        #expect(rendered.pattern.run.map(\.id) == ["a", "b"])
    }

    @Test func varsMergeInSpecOrderWithSourceAndSysinfo() throws {
        let dir = TemporaryDirectory()
        let config = try ConfigLoader(
            path: dir.write(
                "c.json",
                """
                {"vars": {"a": "top", "b": "top", "c": "top"},
                 "sources": {"web": {"vars": {"b": "source", "c": "source"}}},
                 "targets": {"t1": {"vars": {"c": "target"}}}}
                """)
        ).load().config
        let configuration = PatternRenderer.configuration(
            config: config, source: "web", exec: .shell, runVars: ["a": "jwt", "z": "jwt"], target: "t1")
        let vars = try #require(configuration.object?["vars"]?.object)
        #expect(vars["a"] == "top")
        #expect(vars["b"] == "source")
        #expect(vars["c"] == "target")
        #expect(vars["z"] == "jwt")
        #expect(vars["source"] == "web")
        #expect(vars["sysinfo"]?.object?["hostname"]?.string?.isEmpty == false)
        #expect(vars["sysinfo"]?.object?["cpuLogical"] != nil)
        #expect(configuration.object?["exec"]?.object?["command"] == "/bin/sh -c")
        #expect(configuration.object?["targets"]?.object?["t1"] != nil)
        let rendered = try PatternRenderer.render(
            .snippet("{id: std.native('getConfig')().vars.c + '-' + std.native('getConfig')().vars.source}"),
            configuration: configuration)
        #expect(rendered.pattern.run.first?.id == "target-web")
    }

    @Test func nativeLookupsFallBack() throws {
        let dir = TemporaryDirectory()
        let file = dir.write("value.txt", "  file-content\n\n")
        setenv("ETCHA_TEST_NATIVE", "env-value", 1)
        let rendered = try PatternRenderer.render(
            .snippet(
                """
                {id: std.native('getEnv')('ETCHA_TEST_NATIVE', 'no')},
                {id: std.native('getEnv')('ETCHA_TEST_MISSING', 'env-fallback')},
                {id: std.native('getFile')('\(file)', 'no')},
                {id: std.native('getFile')('\(dir.path)/missing', 'file-fallback')},
                {id: std.native('getCmd')('echo cmd-out', 'no')},
                {id: std.native('getCmd')('exit 3', 'cmd-fallback')},
                {id: 'n' + std.native('getEnv')('ETCHA_TEST_MISSING', 7)}
                """), configuration: .object([:]))
        #expect(
            rendered.pattern.run.map(\.id) == [
                "env-value", "env-fallback", "file-content", "file-fallback", "cmd-out", "cmd-fallback", "n7",
            ])
        setenv("ETCHA_TEST_EMPTY", "", 1)
        for call in [
            "std.native('getEnv')('ETCHA_TEST_MISSING', null)", "std.native('getEnv')('ETCHA_TEST_EMPTY', null)",
            "std.native('getFile')('\(dir.path)/missing', null)",
        ] {
            #expect(throws: CommandError.self) {
                try PatternRenderer.render(.snippet("{id: \(call)}"), configuration: .object([:]))
            }
        }
        do {
            _ = try PatternRenderer.render(
                .snippet("{id: std.native('getEnv')('ETCHA_TEST_MISSING', null)}"), configuration: .object([:]))
        } catch {
            #expect(error.description.contains("no value found for ETCHA_TEST_MISSING and no fallback provided"))
        }
    }

    /// `getRecord` answers A and AAAA from the system's resolver: numeric names need no DNS, and
    /// `localhost` comes from /etc/hosts.
    @Test func getRecordResolvesAddressesAndFallsBack() throws {
        func render(_ call: String) throws -> JSON {
            try PatternRenderer.render(
                .snippet("{id: 'x', change: std.manifestJson(\(call))}"), configuration: .object([:])
            ).pattern.run.first.map { try JSON(parsing: Data($0.change.utf8)) } ?? .null
        }
        #expect(try render("std.native('getRecord')('A', '192.0.2.7', null)") == .array(["192.0.2.7"]))
        #expect(try render("std.native('getRecord')('aaaa', '2001:db8::1', null)") == .array(["2001:db8::1"]))
        #expect(try render("std.native('getRecord')('A', 'localhost', null)") == .array(["127.0.0.1"]))
        #expect(try render("std.native('getRecord')('A', '2001:db8::1', 'none')") == .string("none"))
        for call in [
            "std.native('getRecord')('A', '2001:db8::1', null)", "std.native('getRecord')('MX', 'localhost', 'x')",
            "std.native('getRecord')('SRV', 'localhost', 'x')",
        ] {
            #expect(throws: CommandError.self) { try render(call) }
        }
    }

    @Test func renderErrorsNameFileAndLine() throws {
        let dir = TemporaryDirectory()
        dir.write("lib.libsonnet", "{\n  x: error 'broken here',\n}")
        let main = dir.write("main.jsonnet", "local l = import 'lib.libsonnet';\n{ run: [{id: l.x}] }")
        do {
            _ = try PatternRenderer.render(.file(main), configuration: .object([:]))
            Issue.record("rendered a broken pattern")
        } catch {
            #expect(error.code == .render)
            #expect(error.description.contains("\(dir.path)/lib.libsonnet:2"))
            #expect(error.description.contains("broken here"))
        }
        let syntax = dir.write("syntax.jsonnet", "{\n  run: [\n}")
        #expect(throws: CommandError.self) { try PatternRenderer.render(.file(syntax), configuration: .object([:])) }
    }

    @Test func patternKeysAreChecked() throws {
        #expect(throws: CommandError.self) {
            try PatternRenderer.render(
                .files(entrypoint: "/m.jsonnet", files: ["/m.jsonnet": "{runn: []}"]), configuration: .object([:]))
        }
        let rendered = try PatternRenderer.render(
            .files(
                entrypoint: "/m.jsonnet",
                files: [
                    "/m.jsonnet": """
                    {audience: 'a', expiresIn: '1h', id: 'j', issuer: 'i', subject: 's', runVars: {v: 1},
                     runExec: {command: '/bin/sh -c'}, build: [{id: 'b'}]}
                    """
                ]), configuration: .object([:]))
        #expect(rendered.pattern.audience == ["a"])
        #expect(rendered.pattern.expiresIn.duration == .seconds(3600))
        #expect(rendered.pattern.runExec?.command == "/bin/sh -c")
        #expect(rendered.pattern.runVars == ["v": .number(1)])
        #expect(rendered.pattern.build.map(\.id) == ["b"])
    }

    private func render(_ source: String) throws -> Pattern {
        try PatternRenderer.render(
            .files(entrypoint: "/m.jsonnet", files: ["/m.jsonnet": source]), configuration: .object([:])
        ).pattern
    }

    @Test func etcha2024ExpiresInSecSetsTheLifetime() throws {
        #expect(try render("{run: [], expiresInSec: 90}").expiresIn.duration == .seconds(90))
        #expect(try render("{run: [], expiresInSec: 0}").expiresIn.isZero)
        for bad in ["{expiresInSec: '90'}", "{expiresInSec: 1.5}", "{expiresInSec: 60, expiresIn: '1m'}"] {
            #expect(throws: CommandError.self) { try render(bad) }
        }
    }

    @Test func etchasOtherNativeFunctions() throws {
        let vars = try render(
            """
            local n(name) = std.native(name);
            {run: [], runVars: {
              arch: n('getArch')(), os: n('getOS')(),
              match: n('regexMatch')('^ab+c$', 'abbbc'), miss: n('regexMatch')('x[0-9]', 'xy'),
              short: n('randStr')(0), long: n('randString')(40), other: n('randStr')(40),
              rendered: n('render')("{a: 1 + 1, env: std.native('getEnv')('ETCHA_SURELY_UNSET', 'fb')}"),
            }}
            """
        ).runVars
        let machine = SystemInfo.current.values["machine"]?.string
        #expect(vars["arch"] == .string(machine == "x86_64" ? "amd64" : machine == "aarch64" ? "arm64" : machine ?? ""))
        #expect(vars["os"] == "linux")
        #expect(vars["match"] == .bool(true) && vars["miss"] == .bool(false))
        #expect(vars["short"] == "")
        let long = try #require(vars["long"]?.string)
        #expect(long.count == 40 && long.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(vars["other"] != vars["long"])
        #expect(vars["rendered"] == .object(["a": .number(2), "env": "fb"]))
        for bad in [
            "std.native('regexMatch')('(', 'x')", "std.native('randStr')(-1)", "std.native('render')('{')",
            "std.native('render')(1)",
        ] {
            #expect(throws: CommandError.self, "\(bad)") { try render("{run: [], runVars: {x: \(bad)}}") }
        }
    }

    /// A pattern whose exec asks for a container fails to render, naming the key: it is never run
    /// on the host instead.
    @Test(arguments: [
        ("{runExec: {containerImage: 'alpine'}, run: []}", "runExec.containerImage"),
        ("{run: [{id: 'x', change: 'id', exec: {containerVolumes: ['/:/host']}}]}", "containerVolumes"),
        ("{buildExec: {containerNetwork: 'host'}}", "buildExec.containerNetwork"),
    ])
    func aContainerExecIsRefused(source: String, key: String) throws {
        do {
            _ = try render(source)
            Issue.record("rendered: \(source)")
        } catch {
            #expect("\(error)".contains(key) && "\(error)".contains("never run on the host"))
        }
        #expect(
            try render("{runExec: {containerImage: '', command: '/bin/sh -c'}, run: []}").runExec?.command
                == "/bin/sh -c")
    }
}

extension JSON: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}
