import CJsonnet
import Foundation
import Testing

@testable import Agent

/// Evaluations share one parsed standard library (CJsonnet's shared_stdlib.cpp); each case must
/// give what libjsonnet gives by itself, output or error, and the shared path must be in use here.
/// Evaluations run on GCD threads, not Swift's cooperative pool: libjsonnet's own path takes tens of
/// milliseconds per evaluation, and the in-process agents of other suites answer on that pool.
@Suite struct SharedStdlibTests {
    static let natives = NativeFunctions(config: .object(["vars": .object(["name": .string("web")])]))

    /// Each case: the entrypoint's text and the other files, by absolute path.
    static let cases: [(name: String, main: String, files: [String: String])] = [
        (
            "std functions with named and default arguments",
            """
            {
              sorted: std.sort([3, 1, 2], keyF=function(x) -x),
              yaml: std.manifestYamlDoc({a: [1, {b: 2}]}, indent_array_in_object=true, quote_keys=false),
              json: std.manifestJsonEx({a: [1, 2]}, indent='  ', newline='\\n', key_val_sep=': '),
              ini: std.manifestIni({main: {a: 1}, sections: {s: {b: true}}}),
              formatted: std.format('%s-%03d %5.2f', ['a', 7, 3.14159]),
              folded: std.foldl(function(acc, x) acc + x, std.range(1, 10), 0),
              filtered: std.filter(function(x) x % 2 == 0, std.range(1, 10)),
              fields: std.objectFields({b: 1, a: 2, h:: 3}),
              merged: std.mergePatch({a: {b: 1, c: 2}}, {a: {c: null, d: 3}}),
              parsed: std.parseJson('{"x": [1, "y"]}'),
              text: [std.base64('etcha'), std.md5('etcha'), std.split('a,b,c', ','), std.strReplace('aXbX', 'X', '-')],
              sets: std.setUnion([1, 3], [2, 3]),
              uniq: std.uniq(std.sort(['b', 'a', 'b'])),
              escaped: std.escapeStringBash("it's"),
            }
            """,
            [:]
        ),
        (
            "imports see their own std.thisFile",
            """
            local a = import 'lib/a.libsonnet';
            local text = importstr 'lib/text.txt';
            {main: std.thisFile, a: a, text: text, b: (import 'lib/b.libsonnet').file}
            """,
            [
                "/p/lib/a.libsonnet":
                    "{file: std.thisFile, nested: (import 'b.libsonnet'), upper: std.asciiUpper('x')}",
                "/p/lib/b.libsonnet": "{file: std.thisFile, len: std.length([1, 2])}",
                "/p/lib/text.txt": "plain text\n",
            ]
        ),
        (
            "natives, shadowing and objects",
            """
            local config = std.native('getConfig')();
            local inner(std) = std.a;
            {
              name: config.vars.name,
              env: std.native('getEnv')('ETCHA_TEST_SURELY_UNSET', 'fallback'),
              shadowed: inner({a: 'own'}),
              local_std: local std = {b: 2}; std.b,
              field: {std: 1, x: self.std + $.base},
              base:: 10,
              overridden: {a: 1} + {a: super.a + 1},
              comprehension: {[k]: std.length(k) for k in ['ab', 'c']},
            }
            """,
            [:]
        ),
        (
            "a pattern's own std.jsonnet is read as it is",
            "(import 'std.jsonnet') + {len: std.length('abc')}", ["/p/std.jsonnet": "{mine: true}"]
        ),
        ("a top-level function is called with its defaults", "function(x=1, y='b') {x: x, y: y}", [:]),
        ("a runtime error inside std", "std.map(function(x) error 'bad ' + x, ['one'])", [:]),
        ("an assertion", "{assert self.a > 1 : 'a too small', a: 1}", [:]),
        ("an unknown variable", "{a: b}", [:]),
        ("a parse error", "{a: }", [:]),
        ("an error in an import", "(import 'lib/bad.libsonnet').x", ["/p/lib/bad.libsonnet": "{x: std.nosuch()}"]),
        ("a static error in an import", "import 'lib/bad.libsonnet'", ["/p/lib/bad.libsonnet": "{x: y}"]),
        ("a missing import", "import 'lib/none.libsonnet'", [:]),
        ("an undefined external variable", "std.extVar('x')", [:]),
        ("too deep", "local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(2000)", [:]),
    ]

    static func evaluate(_ main: String, files: [String: String], shared: Bool) -> Result<String, CommandError> {
        var all = files
        all["/p/main.jsonnet"] = main
        return Result { () throws(CommandError) in
            try Jsonnet.evaluate(
                snippet: main, filename: "/p/main.jsonnet", natives: natives, importer: Jsonnet.Importer(files: all),
                sharedStdlib: shared
            ).output
        }
    }

    /// The text of an evaluation, made on a GCD thread.
    static func text(_ main: String, files: [String: String], shared: Bool) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: "\(evaluate(main, files: files, shared: shared))")
            }
        }
    }

    /// Both ways really run where asked, so the comparisons below compare two different evaluations.
    @Test func theSharedStandardLibraryIsInUseAndLibjsonnetsOwnWayCanBeAskedFor() throws {
        #expect(etcha_jsonnet_shares_stdlib() == 1)
        for shared in [true, false] {
            let evaluation = try Jsonnet.evaluate(
                snippet: "{a: std.length('ab')}", filename: "/p/main.jsonnet", natives: Self.natives,
                importer: Jsonnet.Importer(files: [:]), sharedStdlib: shared)
            #expect(evaluation.sharedStdlib == shared)
        }
    }

    @Test(arguments: cases.indices)
    func eachCaseEvaluatesAsLibjsonnetDoesByItself(index: Int) async {
        let (name, main, files) = Self.cases[index]
        let shared = await Self.text(main, files: files, shared: true)
        let own = await Self.text(main, files: files, shared: false)
        #expect(shared == own, "\(name)")
        // Evaluating again on the shared library gives the same: nothing of one evaluation stays in it.
        #expect(await Self.text(main, files: files, shared: true) == own, "\(name)")
    }

    @Test func anUnusedLibraryIsReleasedAndMadeAgain() async throws {
        let (_, main, files) = Self.cases[1]
        let own = await Self.text(main, files: files, shared: false)
        #expect(await Self.text(main, files: files, shared: true) == own)
        let releases = etcha_jsonnet_stdlib_releases()
        etcha_jsonnet_release_stdlib_after(0)
        defer { etcha_jsonnet_release_stdlib_after(10) }
        let deadline = ContinuousClock.now + .seconds(10)
        while etcha_jsonnet_stdlib_releases() == releases && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(etcha_jsonnet_stdlib_releases() > releases)
        #expect(await Self.text(main, files: files, shared: true) == own)
    }

    @Test func concurrentEvaluationsShareTheLibrarySafely() async {
        let inputs = (0..<8).map { worker in
            "local lib = import 'lib/l.libsonnet'; {w: \(worker), sorted: std.sort([3, \(worker), 1]), lib: lib}"
        }
        let files = ["/p/lib/l.libsonnet": "{file: std.thisFile, yaml: std.manifestYamlDoc({a: [1]})}"]
        var expected: [String] = []
        for input in inputs { expected.append(await Self.text(input, files: files, shared: false)) }
        let results = await withTaskGroup(of: (Int, [String]).self) { group in
            for (worker, input) in inputs.enumerated() {
                group.addTask {
                    var outputs: [String] = []
                    for _ in 0..<10 { outputs.append(await Self.text(input, files: files, shared: true)) }
                    return (worker, outputs)
                }
            }
            var results: [Int: [String]] = [:]
            for await (worker, outputs) in group { results[worker] = outputs }
            return results
        }
        for (worker, outputs) in results {
            #expect(outputs.allSatisfy { $0 == expected[worker] }, "worker \(worker)")
        }
    }
}
