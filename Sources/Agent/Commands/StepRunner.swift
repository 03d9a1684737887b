import Foundation

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

    /// The failure of a step killed at its deadline.
    public static let timedOut = "timed out"
}

/// Runs one script under an exec: in a process group of its own (so the whole group can be killed),
/// as the exec's user and group, with its environment and working directory, until it exits or
/// the deadline passes (see ``ChildProcess``).
///
///     let result = await StepRunner.run("echo hi", exec: .defaults, environment: [:], stdin: "", deadline: .now + .seconds(5))
enum StepRunner {
    /// Output kept per step; the rest is counted and dropped.
    static let outputLimit = 1 << 20

    static func run(
        _ script: String, exec: ResolvedExec, environment: [String: String], stdin: String,
        deadline: ContinuousClock.Instant, abort: StepAbort? = nil
    ) async -> StepResult {
        let argv: [String]
        do {
            argv = try arguments(for: script, exec: exec)
        } catch {
            return StepResult(status: nil, output: "", failure: error.description)
        }
        let process = ChildProcess(
            command: argv, environment: environment, workDir: exec.workDir, stdin: stdin,
            credentials: { () throws(CommandError) in try credentials(for: exec) })
        return await process.run(deadline: deadline, outputLimit: outputLimit, abort: abort)
    }

    /// The exec command split into words, then the script as one more argument (or the script
    /// split into words when the exec has no command), behind `sudo -E` when asked and not root.
    /// Without a script (a shell), the command alone.
    static func arguments(for script: String?, exec: ResolvedExec) throws(CommandError) -> [String] {
        var argv = try splitCommandLine(exec.command)
        if let script {
            if argv.isEmpty {
                argv = try splitCommandLine(script)
            } else {
                argv.append(script)
            }
        }
        guard !argv.isEmpty else { throw CommandError(.invalid, "exec.command: nothing to run") }
        if exec.sudo, getuid() != 0 { argv = ["sudo", "-E"] + argv }
        return argv
    }

    /// The user, group and supplementary groups to run as, or nil to run as the agent.
    static func credentials(for exec: ResolvedExec) throws(CommandError) -> (
        uid: uid_t, gid: gid_t, groups: [gid_t]
    )? {
        guard !exec.user.isEmpty || !exec.group.isEmpty else { return nil }
        guard getuid() == 0 else {
            throw CommandError(
                .spawnFailed, "exec.user/exec.group: running as another user needs the agent to run as root")
        }
        var result: (uid: uid_t, gid: gid_t, groups: [gid_t]) = (getuid(), getgid(), [])
        if !exec.user.isEmpty {
            guard let account = UserAccount(exec.user) else {
                throw CommandError(.spawnFailed, "exec.user: no user \"\(exec.user)\"")
            }
            result = (account.uid, account.gid, account.groups)
        }
        if !exec.group.isEmpty {
            guard let gid = UserAccount.groupID(exec.group) else {
                throw CommandError(.spawnFailed, "exec.group: no group \"\(exec.group)\"")
            }
            result.gid = gid
            if exec.user.isEmpty { result.groups = [gid] }
        }
        return result
    }

    /// `name` itself when it holds a slash, else the first executable file of that name on the
    /// agent's `PATH`.
    static func resolveExecutable(_ name: String) -> String? {
        if name.utf8.contains(UInt8(ascii: "/")) { return name }
        // getenv, not ProcessInfo's environment: that builds a dictionary of every variable on each call.
        let path =
            getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
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
