import EtchaCore
import EtchaInstrumentation
import EtchaJSON
import Foundation
import Logging
import Testing

@testable import Agent

/// A fresh directory under the system temp dir, removed when the test is done with it.
final class TemporaryDirectory: Sendable {
    let path: String

    init() {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("etcha-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `text` to `name` inside the directory and returns the file's path.
    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let file = "\(path)/\(name)"
        try! FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The text of `name`, or nil.
    func read(_ name: String) -> String? {
        try? String(contentsOfFile: "\(path)/\(name)", encoding: .utf8)
    }

    func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(path)/\(name)")
    }
}

/// A logger that drops everything (tests assert on results, not logs).
let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// Parses commands from Jsonnet-free JSON text, checking targets as a render would.
func commands(_ json: String) throws -> [Command] {
    let list = try Command.list(from: JSON(parsing: json), path: "run")
    try CommandTargets.validate(list, path: "run")
    return list
}

/// Runs `list` with `/bin/sh -c` in `mode` and returns the result.
func run(
    _ list: [Command], mode: CommandMode = .change, exec: ResolvedExec = .shell, environment: [String: String] = [:],
    metrics: EtchaMetrics? = nil, timeout: Duration = .seconds(30), source: String = "test"
) async -> RunResult {
    let engine = CommandEngine(metrics: metrics, logger: quietLogger)
    let context = CommandEngine.Context(
        exec: exec, environment: environment, origin: RunOrigin(source: source, trigger: .push),
        deadline: .now + timeout)
    return await engine.run(list, mode: mode, context: context)
}

extension ResolvedExec {
    /// `/bin/sh -c`, overrides allowed, nothing inherited.
    static var shell: ResolvedExec {
        ResolvedExec(topLevel: Exec(command: "/bin/sh -c"))
    }
}

/// Whether the process `pid` is gone or only a zombie (not ours to reap).
func isNotRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    guard let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state == "Z" || state == "X"
}

/// Zombie children of this process.
func zombieChildren() -> [Int32] {
    let me = getpid()
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
        guard let pid = Int32(entry),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 1, fields[0] == "Z", Int32(fields[1]) == me else { return nil }
        return pid
    }
}
