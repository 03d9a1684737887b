import Foundation
import Subprocess
import Synchronization

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// What one step (a `check`, `change` or `remove` script) did.
public struct StepResult: Sendable, Equatable {
    /// The exit status, or nil when the process was killed or never started.
    public var status: Int32?
    /// Standard output and error interleaved as written, at most ``StepRunner/outputLimit`` bytes
    /// plus a mark saying how much was dropped.
    public var output: String
    /// Why the step did not finish on its own (could not start, timed out, killed by a signal).
    public var failure: String?

    /// Whether the script exited 0.
    public var succeeded: Bool { status == 0 && failure == nil }
}

/// Runs one script under an exec: in a new session (so its whole process group can be killed),
/// as the exec's user and group, with its environment and working directory, until it exits or
/// the deadline passes.
///
///     let result = await StepRunner.run("echo hi", exec: .defaults, environment: [:], stdin: "", deadline: .now + .seconds(5))
enum StepRunner {
    /// Output kept per step; the rest is counted and dropped.
    static let outputLimit = 1 << 20

    static func run(
        _ script: String, exec: ResolvedExec, environment: [String: String], stdin: String,
        deadline: ContinuousClock.Instant
    ) async -> StepResult {
        let argv: [String]
        let options: PlatformOptions
        do {
            argv = try arguments(for: script, exec: exec)
            options = try platformOptions(for: exec)
        } catch {
            return StepResult(status: nil, output: "", failure: error.description)
        }
        guard let executable = resolveExecutable(argv[0]) else {
            return StepResult(status: nil, output: "", failure: "\(argv[0]): command not found")
        }
        let process = RunningProcess()
        // Each entry is handed to execve as a C string, so it carries its terminating NUL.
        let environmentBytes = environment.map { Array("\($0.key)=\($0.value)".utf8) + [0] }
        return await withTaskGroup(of: StepResult?.self) { group in
            group.addTask {
                do {
                    let run = try await Subprocess.run(
                        .path(FilePath(executable)), arguments: Arguments(Array(argv.dropFirst())),
                        environment: .custom(environmentBytes),
                        workingDirectory: exec.workDir.isEmpty ? nil : FilePath(exec.workDir),
                        platformOptions: options, input: .string(stdin), output: .sequence, error: .combinedWithOutput
                    ) { execution in
                        process.started(execution.processIdentifier.value)
                        return try await collect(execution.standardOutput)
                    }
                    process.finished()
                    var result = StepResult(status: nil, output: run.closureResult, failure: nil)
                    switch run.terminationStatus {
                    case .exited(let code): result.status = code
                    case .signaled(let signal): result.failure = "killed by signal \(signal)"
                    }
                    if let reason = process.killedBecause {
                        result.status = nil
                        result.failure = reason
                    }
                    return result
                } catch {
                    process.finished()
                    return StepResult(status: nil, output: "", failure: "cannot run \(argv[0]): \(error)")
                }
            }
            group.addTask {
                // The deadline kills the whole group: the script, its children and anything they forked.
                // So does cancellation (the agent's shutdown bound ran out); once the step has ended on
                // its own there is no group left to kill.
                try? await Task.sleep(until: deadline, clock: .continuous)
                process.expire(because: Task.isCancelled ? "killed: the agent is shutting down" : "timed out")
                return nil
            }
            var outcome = StepResult(status: nil, output: "", failure: "did not run")
            while let next = await group.next() {
                if let result = next {
                    outcome = result
                    group.cancelAll()
                }
            }
            return outcome
        }
    }

    /// Reads the combined output to its end, keeping the first ``outputLimit`` bytes.
    private static func collect(_ output: SubprocessOutputSequence) async throws -> String {
        var kept: [UInt8] = []
        var dropped = 0
        for try await buffer in output {
            buffer.withUnsafeBytes { bytes in
                let room = outputLimit - kept.count
                if room > 0 { kept.append(contentsOf: bytes.prefix(room)) }
                dropped += max(0, bytes.count - max(room, 0))
            }
        }
        var text = String(decoding: kept, as: UTF8.self)
        if dropped > 0 { text += "\n[etcha: output truncated, \(dropped) more bytes dropped]" }
        return text
    }

    /// The exec command split into words, then the script as one more argument (or the script
    /// split into words when the exec has no command), behind `sudo -E` when asked and not root.
    static func arguments(for script: String, exec: ResolvedExec) throws(CommandError) -> [String] {
        var argv = try splitCommandLine(exec.command)
        if argv.isEmpty {
            argv = try splitCommandLine(script)
        } else {
            argv.append(script)
        }
        guard !argv.isEmpty else { throw CommandError(.invalid, "exec.command: nothing to run") }
        if exec.sudo, getuid() != 0 { argv = ["sudo", "-E"] + argv }
        return argv
    }

    private static func platformOptions(for exec: ResolvedExec) throws(CommandError) -> PlatformOptions {
        var options = PlatformOptions()
        options.createSession = true
        guard !exec.user.isEmpty || !exec.group.isEmpty else { return options }
        guard getuid() == 0 else {
            throw CommandError(
                .spawnFailed, "exec.user/exec.group: running as another user needs the agent to run as root")
        }
        if !exec.user.isEmpty {
            guard let account = UserAccount(exec.user) else {
                throw CommandError(.spawnFailed, "exec.user: no user \"\(exec.user)\"")
            }
            options.userID = account.uid
            options.groupID = account.gid
            options.supplementaryGroups = account.groups
        }
        if !exec.group.isEmpty {
            guard let gid = UserAccount.groupID(exec.group) else {
                throw CommandError(.spawnFailed, "exec.group: no group \"\(exec.group)\"")
            }
            options.groupID = gid
            if exec.user.isEmpty { options.supplementaryGroups = [gid] }
        }
        return options
    }

    /// `name` itself when it holds a slash, else the first executable file of that name on the
    /// agent's `PATH`.
    static func resolveExecutable(_ name: String) -> String? {
        if name.contains("/") { return name }
        let path =
            ProcessInfo.processInfo.environment["PATH"]
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// The process group of a running step, shared by the task that runs it and the deadline that kills
/// it. Either may come first: a deadline that passes before the spawn finishes kills the group as
/// soon as it exists.
private final class RunningProcess: Sendable {
    private struct State {
        /// The group's id while the step runs; nil before it starts and once it is reaped.
        var group: pid_t?
        /// Why the group was killed, once the deadline passed or the step was cancelled.
        var killedBecause: String?
    }

    private let state = Mutex(State())

    /// Records the spawned group; kills it at once when the deadline already passed.
    func started(_ pid: pid_t) {
        state.withLock {
            $0.group = pid
            if $0.killedBecause != nil { kill(-pid, SIGKILL) }
        }
    }

    /// The step is over: the group id may be reused from now on, so it is forgotten.
    func finished() {
        state.withLock { $0.group = nil }
    }

    /// The deadline passed or the step was cancelled: kill the group if it runs.
    func expire(because reason: String) {
        state.withLock {
            guard $0.killedBecause == nil else { return }
            $0.killedBecause = reason
            if let pid = $0.group { kill(-pid, SIGKILL) }
        }
    }

    /// Why the group was killed, if it was.
    var killedBecause: String? {
        state.withLock { $0.killedBecause }
    }
}

/// A user looked up by name or UID, with its primary and supplementary groups.
struct UserAccount {
    var uid: uid_t
    var gid: gid_t
    var groups: [gid_t]

    init?(_ nameOrID: String) {
        guard let entry = nameOrID.withCString({ getpwnam($0) }) ?? UInt32(nameOrID).flatMap({ getpwuid($0) }) else {
            return nil
        }
        uid = entry.pointee.pw_uid
        gid = entry.pointee.pw_gid
        var count: Int32 = 64
        var list = Array(repeating: gid_t(0), count: Int(count))
        if getgrouplist(entry.pointee.pw_name, gid, &list, &count) >= 0 {
            groups = Array(list.prefix(Int(count)))
        } else {
            groups = [gid]
        }
    }

    static func groupID(_ nameOrID: String) -> gid_t? {
        if let entry = nameOrID.withCString({ getgrnam($0) }) { return entry.pointee.gr_gid }
        return UInt32(nameOrID).flatMap { getgrgid($0) }.map { $0.pointee.gr_gid }
    }
}
