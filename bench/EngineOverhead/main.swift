import Agent
// Per-command overhead of the command engine over a bare spawn of the same command.
//
// In one run, on this machine: a 100-command pattern (`/bin/sh -c true` for each change) through
// `CommandEngine`, and 100 bare spawns of `/bin/sh -c true` (posix_spawn + waitpid, the least a
// runner can do). Each is repeated; the medians are compared. Prints one Markdown table row.
import EtchaCore
import EtchaInstrumentation
import Foundation
import Logging

let commandsPerRun = 100
let rounds = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 30

func bareSpawns() -> Duration {
    let clock = ContinuousClock()
    return clock.measure {
        for _ in 0..<commandsPerRun {
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup("true"), nil]
            defer { for arg in argv { free(arg) } }
            guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, nil) == 0 else { fatalError("spawn failed") }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

func enginePattern() -> [Command] {
    (0..<commandsPerRun).map { index in
        var command = Command(id: "command \(index)")
        command.always = true
        command.change = "true"
        return command
    }
}

func engineRun(_ engine: CommandEngine, _ pattern: [Command]) async -> Duration {
    let context = CommandEngine.Context(
        exec: ResolvedExec(topLevel: Exec(command: "/bin/sh -c")), environment: [:],
        origin: RunOrigin(source: "bench", trigger: .push), deadline: .now + .seconds(600))
    let clock = ContinuousClock()
    var result = RunResult()
    let elapsed = await clock.measure {
        result = await engine.run(pattern, mode: .change, context: context)
    }
    precondition(result.changedIDs.count == commandsPerRun && !result.failed, "bench run failed: \(result.errors)")
    return elapsed
}

func median(_ values: [Duration]) -> Double {
    let sorted = values.sorted()
    let middle = sorted[sorted.count / 2]
    return Double(middle.components.seconds) * 1000 + Double(middle.components.attoseconds) / 1e15
}

let engine = CommandEngine(
    metrics: EtchaMetrics(version: "bench"), logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
let pattern = enginePattern()
var bare: [Duration] = []
var engined: [Duration] = []
_ = bareSpawns()
_ = await engineRun(engine, pattern)
for _ in 0..<rounds {
    bare.append(bareSpawns())
    engined.append(await engineRun(engine, pattern))
}
let bareMs = median(bare)
let engineMs = median(engined)
let overhead = (engineMs - bareMs) / Double(commandsPerRun)
print(
    "| engine, 100 × `/bin/sh -c true` | \(String(format: "%.1f", engineMs)) ms | bare posix_spawn ×100: \(String(format: "%.1f", bareMs)) ms | \(String(format: "%.3f", overhead)) ms per command (target ≤ 0.3) | \(String(format: "%.2f", engineMs / bareMs))× |"
)
