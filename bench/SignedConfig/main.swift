// Signed-config benchmarks (issue 4), one Markdown row each:
//   - token verifications per second on one core for EdDSA, ES256 and RS256 (best of three 1 s
//     windows after a warm-up);
//   - a push of a 100-command pattern through SourceSet.push (verify, render, diff, run, save),
//     minus 100 bare spawns of the same command measured in the same run: the same pattern pushed
//     again (its last render is reused), and an edited one (rendered again);
//   - rendering with the shared standard library against libjsonnet's own evaluation, for that
//     pattern and for one that imports three files.
import Agent
import Auth
import CJsonnet
import EtchaInstrumentation
import Foundation
import Logging

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

let clock = ContinuousClock()
for algorithm in KeyAlgorithm.allCases {
    let key = try PrivateKey.generate(algorithm, id: "bench")
    let token = try JWT.sign(["iat": .number(1), "iss": .string("bench")], with: key)
    let keys = [key.publicKey]
    /// Verifications per second over about `window` of verifying.
    func rate(over window: Duration) throws -> Double {
        var count = 0
        let started = clock.now
        while clock.now - started < window {
            for _ in 0..<50 { _ = try JWT.verify(token, keys: keys) }
            count += 50
        }
        return Double(count) / (milliseconds(clock.now - started) / 1000)
    }
    // A warm-up, then the best of three 1-second windows: the cost of a verification is fixed, and
    // the slower windows measured other work on this shared machine.
    _ = try rate(over: .milliseconds(500))
    let perSecond = try (0..<3).map { _ in try rate(over: .seconds(1)) }.max()!
    let target = algorithm == .ed25519 ? " (target ≥ 10,000)" : ""
    print("| verify \(algorithm.jwsAlgorithm) token, one core | \(Int(perSecond)) per second\(target) | | | |")
}

// Push of a 100-command pattern.
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("etcha-bench-\(UUID().uuidString)").path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
let key = try PrivateKey.generate(.ed25519, id: "bench")
let loaded = try ConfigLoader(
    path: nil,
    overrides: [
        "exec_command=/bin/sh -c", "run_stateDir=\(directory)", #"run_verifyKeys=["\#(key.publicKey)"]"#,
        #"sources={"web": {"allowPush": true}}"#,
    ], environment: [:]
).load()
let sources = try SourceSet(
    loaded: loaded, metrics: EtchaMetrics(version: "bench"),
    logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
) {}
let pattern = "{run: [{id: 'c' + i, always: true, change: 'true'} for i in std.range(1, 100)]}"
func token(_ iat: Int, text: String) throws -> String {
    try JWT.sign(
        [
            "iat": .number(Double(iat)),
            "etchaPattern": .object([
                "entrypoint": .string("/main.jsonnet"), "files": .object(["/main.jsonnet": .string(text)]),
            ]),
        ], with: key)
}
func spawnTrue100() -> Duration {
    clock.measure {
        for _ in 0..<100 {
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup("true"), nil]
            defer { for arg in argv { free(arg) } }
            posix_spawn(&pid, "/bin/sh", nil, nil, argv, nil)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}
/// Median push time and median time of 100 bare spawns over 15 rounds; `edited` gives each round's
/// pattern a different comment, so it is rendered again (the same text reuses the last render).
func pushes(edited: Bool, from iat: Int) async throws -> (push: Double, spawn: Double) {
    var pushes: [Duration] = []
    var spawns: [Duration] = []
    for round in 0..<15 {
        let signed = try token(iat + round, text: edited ? pattern + "\n// round \(round)" : pattern)
        let started = clock.now
        let result = try await sources.push("web", token: signed, checkOnly: false, remoteAddr: "127.0.0.1")
        pushes.append(clock.now - started)
        precondition(result.changedIDs.count == 100 && !result.failed)
        spawns.append(spawnTrue100())
    }
    return (milliseconds(pushes.sorted()[pushes.count / 2]), milliseconds(spawns.sorted()[spawns.count / 2]))
}
for (edited, label) in [(false, "the same pattern again"), (true, "an edited pattern (rendered again)")] {
    let (push, spawn) = try await pushes(edited: edited, from: edited ? 2000 : 1000)
    print(
        "| push of a 100-command pattern (in process), \(label) | \(String(format: "%.1f", push)) ms | 100 bare spawns: \(String(format: "%.1f", spawn)) ms | \(String(format: "%.1f", push - spawn)) ms beyond the spawns (target ≤ 30) | |"
    )
}
/// The files an evaluation imports from, for `importFromFiles`.
final class Files {
    let files: [String: String]
    init(_ files: [String: String]) { self.files = files }
}
/// libjsonnet's import callback for `evaluation`: `context` is a `Files`.
func importFromFiles(
    context: UnsafeMutableRawPointer?, base: UnsafePointer<CChar>?, relative: UnsafePointer<CChar>?,
    foundHere: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, success: UnsafeMutablePointer<Int32>?
) -> UnsafeMutablePointer<CChar>? {
    let files = Unmanaged<Files>.fromOpaque(context!).takeUnretainedValue().files
    let path = String(cString: base!) + String(cString: relative!)
    guard let text = files[path] else {
        success!.pointee = 0
        return strdup("no such file")
    }
    foundHere!.pointee = strdup(path)
    success!.pointee = 1
    return strdup(text)
}
/// Median of 20 evaluations of `files` (entrypoint /main.jsonnet) through libjsonnet's C API, with the
/// shared standard library or libjsonnet's own evaluation.
func evaluation(_ files: [String: String], shared: Bool) -> Double {
    let context = Files(files)
    var times: [Duration] = []
    for _ in 0..<20 {
        let vm = jsonnet_make()!
        if !shared { etcha_jsonnet_own_stdlib(vm) }
        jsonnet_import_callback(vm, importFromFiles, Unmanaged.passUnretained(context).toOpaque())
        var failed: Int32 = 0
        var output: UnsafeMutablePointer<CChar>?
        times.append(
            clock.measure { output = jsonnet_evaluate_snippet(vm, "/main.jsonnet", files["/main.jsonnet"]!, &failed) })
        precondition(failed == 0, String(cString: output!))
        _ = jsonnet_realloc(vm, output, 0)
        jsonnet_destroy(vm)
    }
    return milliseconds(times.sorted()[times.count / 2])
}
precondition(etcha_jsonnet_shares_stdlib() == 1, "the shared standard library is not in use")
let library = "{cmd(name):: {id: name, change: 'echo ' + std.asciiLower(name)}}"
let withImports = [
    "/main.jsonnet": "local a = import 'a.libsonnet'; local b = import 'b.libsonnet'; local c = import 'c.libsonnet';\n"
        + "{run: [a.cmd('A' + i) for i in std.range(1, 30)] + [b.cmd('B'), c.cmd('C')]}",
    "/a.libsonnet": library, "/b.libsonnet": library, "/c.libsonnet": library,
]
for (label, files) in [
    ("that pattern", ["/main.jsonnet": pattern]), ("a pattern importing three files", withImports),
] {
    let shared = evaluation(files, shared: true)
    let own = evaluation(files, shared: false)
    print(
        "| of which: rendering \(label) (shared standard library) | \(String(format: "%.1f", shared)) ms | libjsonnet's own evaluation: \(String(format: "%.1f", own)) ms | | \(String(format: "%.1f", own / shared))× faster |"
    )
}
