import Agent
import EtchaInstrumentation
import Foundation
import Logging


let n = 500
let loaded = try ConfigLoader(path: nil, overrides: ["exec_command=/bin/sh -c", #"sources={"hook": {"triggerOnly": true, "runMulti": true, "commands": [{"id": "ok", "always": true, "change": "echo ok", "onChange": ["etcha:webhookBody"]}]}}"#], environment: [:]).load()
let metrics = EtchaMetrics(version: "x")
let logger = Logger(label: "x") { _ in SwiftLogNoOpLogHandler() }
let set = try SourceSet(loaded: loaded, metrics: metrics, logger: logger) {}
let clock = ContinuousClock()
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
for _ in 0..<50 { _ = try await set.trigger("hook", RunRequest(trigger: .webhook)) }
var t = clock.measure { }
t = await clock.measure { for _ in 0..<n { _ = try! await set.trigger("hook", RunRequest(trigger: .webhook)) } }
print("trigger", ms(t) / Double(n))
let engine = CommandEngine(metrics: metrics, logger: logger)
var c = Command(id: "ok"); c.always = true; c.change = "echo ok"
let ctx = CommandEngine.Context(exec: ResolvedExec(topLevel: Exec(command: "/bin/sh -c")), environment: [:], origin: RunOrigin(source: "x", trigger: .push), deadline: .now + .seconds(600))
t = await clock.measure { for _ in 0..<n { _ = await engine.run([c], mode: .change, context: ctx) } }
print("engine", ms(t) / Double(n))
t = clock.measure { for _ in 0..<n {
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup("echo ok >/dev/null"), nil]
    posix_spawn(&pid, "/bin/sh", nil, nil, argv, nil); var st: Int32 = 0; waitpid(pid, &st, 0)
} }
print("posix_spawn", ms(t) / Double(n))
