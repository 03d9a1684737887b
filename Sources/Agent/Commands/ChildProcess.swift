import CSpawn
import Dispatch
import Foundation
import Glibc
import NIOConcurrencyHelpers

/// One child process run to its end: started in a process group of its own by `CSpawn` (vfork and
/// exec, or fork for another user), fed its standard input, its combined output read up to a limit,
/// reaped.
///
/// The waiting happens on a thread of its own blocked in `poll(2)` on the output pipe and a pidfd
/// that becomes readable when the child exits. A step ends when its process exits: output still
/// buffered is read, and a background child that keeps the pipe open is not waited for. The
/// deadline and cancellation kill the whole process group (cancellation from the cancelling
/// thread, and the exit wakes the poll), from the spawn to the reap.
struct ChildProcess {
    /// The program (found on `PATH` unless it holds a slash) and its arguments.
    var command: [String]
    var environment: [String: String]
    var workDir: String
    var stdin: String
    /// Whom the child runs as, or nil for the agent's user. Called on the step's own thread, as the
    /// `PATH` search is: a user lookup may ask a directory server, and the caller may be an event loop.
    var credentials: @Sendable () throws(CommandError) -> (uid: uid_t, gid: gid_t, groups: [gid_t])?

    /// Writing to a pipe whose reader has exited must be an error, not a signal that ends the agent.
    private static let pipeSignalIgnored: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Standard input of a step with none: one descriptor for the agent's life (close-on-exec; the
    /// child's dup2 to 0 keeps its copy), rather than an open and a close of /dev/null per step.
    private static let nullInput = open("/dev/null", O_RDONLY | O_CLOEXEC)

    /// Runs the process until it exits, the deadline passes, the task is cancelled or `abort` ends
    /// every step.
    func run(deadline: ContinuousClock.Instant, outputLimit: Int, abort: StepAbort?) async -> StepResult {
        Self.pipeSignalIgnored
        let cancellation = Cancellation()
        abort?.register(cancellation)
        defer { abort?.unregister(cancellation) }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // A queue of its own: its thread blocks in poll(2), which must not hold up an event
                // loop or one of the global pool's threads, where Swift concurrency runs. It spawns
                // the child too: a spawn from the caller's thread holds that pool thread or event
                // loop and answers webhooks later (docs/decisions.md, "Not kept: spawning on the
                // request's pool thread" and "Not kept: spawning on the event loop").
                DispatchQueue(label: "etcha.step").async {
                    var descriptors: [Int32] = []
                    let result = self.runBlocking(
                        deadline: deadline, outputLimit: outputLimit, cancellation: cancellation,
                        descriptors: &descriptors)
                    continuation.resume(returning: result)
                    // Closed once the result is on its way, so the kernel's work on each close does
                    // not delay the answer (docs/decisions.md, "Cancellation kills from the
                    // cancelling thread").
                    for descriptor in descriptors { close(descriptor) }
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    /// Cancellation as both threads see it: a run cancelled before its child started never starts
    /// it, and one cancelled while the child runs kills the child's process group at once. The pid
    /// is forgotten before the child is reaped, so a late cancellation cannot kill a reused pid.
    /// The kill wakes the poll through the child's exit, so the poll loop needs no eventfd of its
    /// own to learn of cancellation (docs/decisions.md, "Cancellation kills from the cancelling
    /// thread").
    final class Cancellation: Sendable {
        private struct State {
            var cancelled = false
            var killed = false
            var pid: pid_t = 0
        }
        private let state = NIOLockedValueBox(State())

        func cancel() {
            state.withLockedValue { state in
                state.cancelled = true
                if state.pid > 0 {
                    kill(-state.pid, SIGKILL)
                    state.killed = true
                }
            }
        }

        var isCancelled: Bool { state.withLockedValue { $0.cancelled } }

        /// Records the started child; false when the run was cancelled first (the caller kills it).
        func started(_ pid: pid_t) -> Bool {
            state.withLockedValue { state in
                guard !state.cancelled else { return false }
                state.pid = pid
                return true
            }
        }

        /// Forgets the child before it is reaped; whether cancellation killed it.
        func ended() -> Bool {
            state.withLockedValue { state in
                state.pid = 0
                return state.killed
            }
        }
    }

    /// Runs the child; the descriptors still open when it returns are left in `descriptors` to close.
    private func runBlocking(
        deadline: ContinuousClock.Instant, outputLimit: Int, cancellation: Cancellation, descriptors: inout [Int32]
    ) -> StepResult {
        guard !cancellation.isCancelled else { return failure(Self.shutdownKill) }
        let credentials: (uid: uid_t, gid: gid_t, groups: [gid_t])?
        do {
            credentials = try self.credentials()
        } catch {
            return failure(error.description)
        }
        guard let executable = StepRunner.resolveExecutable(command[0]) else {
            return failure("\(command[0]): command not found")
        }
        var output: [Int32] = [-1, -1]
        var input: [Int32] = [-1, -1]
        guard etcha_pipe(&output) == 0 else { return failure("cannot create a pipe: \(errnoText())") }
        defer { descriptors += (output + input).filter { $0 >= 0 } }
        let childInput: Int32
        if stdin.isEmpty && Self.nullInput >= 0 {
            childInput = Self.nullInput
        } else if stdin.isEmpty {
            // The shared descriptor could not be opened (descriptors ran out at the first step, say).
            input[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard input[0] >= 0 else { return failure("cannot open /dev/null: \(errnoText())") }
            childInput = input[0]
        } else if etcha_pipe(&input) == 0 {
            childInput = input[0]
        } else {
            return failure("cannot create a pipe: \(errnoText())")
        }

        var pid: pid_t = 0
        let spawnError = withCStrings([executable] + command.dropFirst()) { argv in
            withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                let groups = credentials?.groups ?? []
                return groups.withUnsafeBufferPointer { groupPointer in
                    etcha_spawn(
                        &pid, executable, argv, envp, childInput, output[1], workDir.isEmpty ? nil : workDir,
                        credentials == nil ? 0 : 1, credentials?.uid ?? 0, credentials?.gid ?? 0,
                        groupPointer.baseAddress, Int32(groups.count))
                }
            }
        }
        // The child holds its own copies now; closing ours lets end of file arrive when it exits.
        close(output[1])
        output[1] = -1
        if input[0] >= 0 {
            close(input[0])
            input[0] = -1
        }
        if spawnError != 0 {
            if pid > 0 { reap(pid) }
            return failure("cannot run \(executable): \(String(cString: strerror(spawnError)))")
        }

        var killedBecause: String?
        if !cancellation.started(pid) {
            kill(-pid, SIGKILL)
            killedBecause = Self.shutdownKill
        }
        let pidfd = etcha_pidfd_open(pid)
        defer { if pidfd >= 0 { descriptors.append(pidfd) } }
        let collected = Collected(limit: outputLimit)
        var pendingInput = Array(stdin.utf8)[...]
        if input[1] >= 0 { _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK) }
        var exited = false
        var outputOpen = true

        // The loop ends when the child has exited and the output already written is read, whatever
        // the child did with its descriptors: a script that closes or redirects its output is still
        // held to the deadline. Without a pidfd (kernels before 5.3, or no descriptor left), the exit
        // is looked for every 10 ms instead.
        while !exited || (outputOpen && hasData(output[0])) {
            var fds: [pollfd] = []
            if outputOpen { fds.append(pollfd(fd: output[0], events: Int16(POLLIN), revents: 0)) }
            if !exited && pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            if input[1] >= 0 { fds.append(pollfd(fd: input[1], events: Int16(POLLOUT), revents: 0)) }
            var timeout = killedBecause == nil ? milliseconds(until: deadline) : 100
            if pidfd < 0 { timeout = min(timeout, 10) }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 && errno != EINTR {
                // Nothing can be watched any more: end the child now rather than wait on it unbounded.
                killedBecause = killedBecause ?? "cannot watch the process: \(errnoText())"
                kill(-pid, SIGKILL)
                break
            }
            if pidfd < 0 && !exited && etcha_has_exited(pid) != 0 { exited = true }
            if killedBecause == nil && ContinuousClock.now >= deadline {
                killedBecause = StepResult.timedOut
                kill(-pid, SIGKILL)
                continue
            }
            for entry in fds where entry.revents != 0 {
                switch entry.fd {
                case output[0]:
                    if !collected.read(from: output[0]) { outputOpen = false }
                case pidfd:
                    exited = true
                case input[1]:
                    if !write(&pendingInput, to: input[1]) {
                        close(input[1])
                        input[1] = -1
                    }
                default:
                    break
                }
            }
        }
        if cancellation.ended() && killedBecause == nil { killedBecause = Self.shutdownKill }
        let status = reap(pid)
        var result = StepResult(status: nil, output: collected.text, failure: killedBecause)
        if killedBecause == nil {
            if WIFEXITED(status) {
                result.status = WEXITSTATUS(status)
            } else {
                result.failure = "killed by signal \(status & 0x7f)"
            }
        }
        return result
    }

    /// Output kept up to a limit; the rest is counted.
    private final class Collected {
        let limit: Int
        var kept: [UInt8] = []
        var dropped = 0
        /// Where each read lands: allocated once per run and never zeroed (a fresh zeroed array
        /// per read showed up in profiles of short commands).
        private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)

        init(limit: Int) { self.limit = limit }

        deinit { scratch.deallocate() }

        /// Reads what is there; false at end of file or error.
        func read(from fd: Int32) -> Bool {
            let count = Glibc.read(fd, scratch.baseAddress, scratch.count)
            if count < 0 { return errno == EINTR || errno == EAGAIN }
            if count == 0 { return false }
            let room = max(0, limit - kept.count)
            kept.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<min(room, count)]))
            dropped += max(0, count - room)
            return true
        }

        var text: String {
            var text = String(decoding: kept, as: UTF8.self)
            if dropped > 0 { text += "\n[etcha: output truncated, \(dropped) more bytes dropped]" }
            return text
        }
    }

    /// Whether `fd` has bytes to read now (after the child exited, only what is already there is read).
    private func hasData(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && entry.revents & Int16(POLLIN) != 0
    }

    /// Writes what it can of `pending`; false when done or the reader is gone.
    private func write(_ pending: inout ArraySlice<UInt8>, to fd: Int32) -> Bool {
        let written = pending.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written < 0 { return errno == EAGAIN || errno == EINTR }
        pending = pending.dropFirst(written)
        return !pending.isEmpty
    }

    @discardableResult
    private func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    private func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = deadline - .now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }

    private static let shutdownKill = "killed: the agent is shutting down"

    private func failure(_ text: String) -> StepResult {
        StepResult(status: nil, output: "", failure: text)
    }

    private func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Ends every step of an agent at once, at shutdown's deadline: running steps have their process
/// groups killed, and steps after that never start.
public final class StepAbort: Sendable {
    private struct State {
        var aborted = false
        var running: [ObjectIdentifier: ChildProcess.Cancellation] = [:]
    }
    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Kills every running step and refuses later ones.
    public func abort() {
        let running = state.withLockedValue { state in
            state.aborted = true
            return Array(state.running.values)
        }
        for cancellation in running { cancellation.cancel() }
    }

    /// Whether ``abort()`` was called.
    public var isAborted: Bool { state.withLockedValue { $0.aborted } }

    func register(_ cancellation: ChildProcess.Cancellation) {
        let aborted = state.withLockedValue { state in
            if !state.aborted { state.running[ObjectIdentifier(cancellation)] = cancellation }
            return state.aborted
        }
        if aborted { cancellation.cancel() }
    }

    func unregister(_ cancellation: ChildProcess.Cancellation) {
        state.withLockedValue { _ = $0.running.removeValue(forKey: ObjectIdentifier(cancellation)) }
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`.
func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

// WIFEXITED and friends are macros Swift does not import.
private func WIFEXITED(_ status: Int32) -> Bool { status & 0x7f == 0 }
private func WEXITSTATUS(_ status: Int32) -> Int32 { (status >> 8) & 0xff }
