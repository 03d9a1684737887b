import CSpawn
import Foundation
import Glibc

/// A shell started on a pseudo-terminal of its own: the leader of a new session with the terminal
/// as its controlling terminal (so job control, `stty` and SIGWINCH work as over SSH), under the
/// exec's user, group, environment and working directory.
struct TerminalProcess: Sendable {
    /// The shell's process id, which is also its session and process group id.
    let pid: pid_t
    /// The controlling side of the terminal (non-blocking); the session owns and closes it.
    let controller: Int32

    /// Starts `exec.command` (split as for a step, nothing appended) sized `columns` x `rows`.
    static func start(exec: ResolvedExec, environment: [String: String], columns: UInt16, rows: UInt16)
        throws(ShellRefusal) -> TerminalProcess
    {
        let words: [String]
        let credentials: (uid: uid_t, gid: gid_t, groups: [gid_t])?
        do {
            words = try StepRunner.arguments(for: nil, exec: exec)
            credentials = try StepRunner.credentials(for: exec)
        } catch {
            throw ShellRefusal(.failed, "shell: \(error)")
        }
        guard let executable = StepRunner.resolveExecutable(words[0]) else {
            throw ShellRefusal(.failed, "shell: \(words[0]): command not found")
        }
        var pid: pid_t = 0
        var controller: Int32 = -1
        let error = withCStrings([executable] + words.dropFirst()) { argv in
            withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                let groups = credentials?.groups ?? []
                return groups.withUnsafeBufferPointer { groupPointer in
                    etcha_spawn_terminal(
                        &pid, &controller, executable, argv, envp, exec.workDir.isEmpty ? nil : exec.workDir,
                        credentials == nil ? 0 : 1, credentials?.uid ?? 0, credentials?.gid ?? 0,
                        groupPointer.baseAddress, Int32(groups.count), columns == 0 ? 80 : columns,
                        rows == 0 ? 24 : rows)
                }
            }
        }
        guard error == 0 else {
            if pid > 0 {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            if controller >= 0 { close(controller) }
            throw ShellRefusal(.failed, "shell: cannot run \(executable): \(String(cString: strerror(error)))")
        }
        return TerminalProcess(pid: pid, controller: controller)
    }

    /// The shell's environment: the agent's when `envInherit`, else a login-like minimum (`PATH`,
    /// `TERM`, and `HOME`, `USER`, `LOGNAME`, `SHELL` of the account it runs as); then the exec's `env`.
    static func environment(for exec: ResolvedExec, source: String) -> [String: String] {
        var environment = exec.envInherit ? ProcessInfo.processInfo.environment : [:]
        var defaults = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "xterm-256color",
        ]
        let uid = exec.user.isEmpty ? getuid() : UserAccount(exec.user)?.uid
        if let uid, let entry = getpwuid(uid) {
            defaults["HOME"] = String(cString: entry.pointee.pw_dir)
            defaults["USER"] = String(cString: entry.pointee.pw_name)
            defaults["LOGNAME"] = String(cString: entry.pointee.pw_name)
            defaults["SHELL"] = String(cString: entry.pointee.pw_shell)
        }
        environment.merge(defaults) { current, _ in current }
        environment.merge(exec.env) { _, new in new }
        environment["ETCHA_SOURCE_NAME"] = source
        environment["ETCHA_SOURCE_TRIGGER"] = "shell"
        return environment
    }
}
