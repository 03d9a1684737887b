import Auth
import CSpawn
import Foundation
import Glibc
import NIOConcurrencyHelpers

/// What a session's stream carries to its client.
enum ShellOutput: Sendable {
    /// Bytes the terminal wrote.
    case output([UInt8])
    /// Time for a keep-alive line.
    case keepAlive
    /// The session is over, and why.
    case ended(String)
}

/// One open shell (docs/behaviour.md#7-shell-sessions): a process on a terminal of its own, the
/// thread that moves bytes between that terminal and the client, and how it ends.
///
/// The thread owns the terminal. It polls the controlling side for output — read only while the
/// client keeps up (at most ``readAhead`` chunks ahead of it), so a client that stops reading stops
/// the shell instead of growing a buffer — the shell's pidfd for its exit, and an eventfd through
/// which input, resizes, the client's progress and the end are handed over. When the session ends
/// (the shell exited, `run.timeoutShell` passed, the client went away, the agent stops) every
/// process of the shell's session is killed, the shell reaped and the descriptors closed.
final class ShellSession: Sendable {
    /// The session id: 128 random bits in hex, sent only to the client that opened it.
    let id: String
    /// The source the shell belongs to.
    let source: String
    /// The key that signed the opening request; every later request must be signed by it.
    let key: PublicKey
    /// The client that opened it.
    let remoteAddr: String
    /// The client's stream, read by one consumer.
    let output: AsyncStream<ShellOutput>
    private let continuation: AsyncStream<ShellOutput>.Continuation
    private let wake = Wake()
    // Shared by the terminal thread and the stream's task.
    private let control = NIOLockedValueBox(Control())

    /// What other threads ask of the terminal thread.
    private struct Control {
        var input: [UInt8] = []
        var size: (columns: UInt16, rows: UInt16)?
        /// Chunks the client has written out since the thread last looked.
        var credit = 0
        var endReason: String?
    }

    /// Chunks read from the terminal before the client has written them out.
    static let readAhead = 4
    /// Bytes read from the terminal at once.
    static let chunkSize = 16 * 1024
    /// Input waiting for the terminal to take it; past this a request is refused (503).
    static let inputLimit = 256 * 1024

    init(source: String, key: PublicKey, remoteAddr: String) {
        var random = SystemRandomNumberGenerator()
        id = (0..<2).map { _ in String(random.next() as UInt64, radix: 16) }
            .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
        self.source = source
        self.key = key
        self.remoteAddr = remoteAddr
        (output, continuation) = AsyncStream.makeStream()
    }

    /// The first characters of the id, enough to tell sessions apart in a log without handing out
    /// the capability.
    var logID: String { String(id.prefix(8)) }

    /// Starts the terminal thread; `onEnd` runs on it once everything is cleaned up.
    func start(
        _ process: TerminalProcess, deadline: ContinuousClock.Instant, onEnd: @escaping @Sendable (String) -> Void
    ) {
        Thread.detachNewThread {
            let reason = self.pump(process, deadline: deadline)
            Self.terminate(process)
            self.continuation.yield(.ended(reason))
            self.continuation.finish()
            onEnd(reason)
        }
    }

    /// Queues `input` for the terminal and, when both are non-zero, resizes it to `columns` x `rows`.
    func send(_ input: [UInt8], columns: UInt16, rows: UInt16) throws(ShellRefusal) {
        let accepted = control.withLockedValue { control in
            guard control.endReason == nil, control.input.count + input.count <= Self.inputLimit else { return false }
            control.input += input
            if columns > 0 && rows > 0 { control.size = (columns, rows) }
            return true
        }
        guard accepted else { throw ShellRefusal(.unavailable, "the terminal is not taking input") }
        wake.signal()
    }

    /// The client has written out one output chunk.
    func consumed() {
        control.withLockedValue { $0.credit += 1 }
        wake.signal()
    }

    /// Ends the session (the first reason given is the one logged).
    func end(_ reason: String) {
        control.withLockedValue { control in
            if control.endReason == nil { control.endReason = reason }
        }
        wake.signal()
    }

    /// Asks the stream for a keep-alive line.
    func keepAlive() {
        continuation.yield(.keepAlive)
    }

    /// Moves bytes until the session ends; returns why it ended.
    private func pump(_ process: TerminalProcess, deadline: ContinuousClock.Instant) -> String {
        let controller = process.controller
        let pidfd = etcha_pidfd_open(process.pid)
        defer { if pidfd >= 0 { close(pidfd) } }
        var credit = Self.readAhead
        var pending: ArraySlice<UInt8> = []
        var exited = false
        var hungUp = false
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)

        while true {
            let takesInput = pending.isEmpty
            let (input, size, taken, endReason) = control.withLockedValue { control in
                defer {
                    if takesInput { control.input = [] }
                    control.size = nil
                    control.credit = 0
                }
                return (takesInput ? control.input : [], control.size, control.credit, control.endReason)
            }
            if let endReason { return endReason }
            if !input.isEmpty { pending = input[...] }
            if let size { _ = etcha_terminal_resize(controller, size.columns, size.rows) }
            credit += taken
            if exited {
                drain(controller, into: &buffer)
                return "the shell exited"
            }

            var fds = [pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)]
            var wanted: Int16 = 0
            if !hungUp && credit > 0 { wanted |= Int16(POLLIN) }
            if !hungUp && !pending.isEmpty { wanted |= Int16(POLLOUT) }
            if wanted != 0 { fds.append(pollfd(fd: controller, events: wanted, revents: 0)) }
            if pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            // Without a pidfd (kernels before 5.3) the exit is looked for a few times a second.
            let wait = pidfd >= 0 ? milliseconds(until: deadline) : min(milliseconds(until: deadline), 200)
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 && errno != EINTR { return "poll failed: \(String(cString: strerror(errno)))" }
            if ContinuousClock.now >= deadline { return "timed out (run.timeoutShell)" }
            if pidfd < 0 && Self.hasExited(process.pid) { exited = true }
            for entry in fds where entry.revents != 0 {
                switch entry.fd {
                case wake.descriptor:
                    var count: UInt64 = 0
                    _ = read(wake.descriptor, &count, 8)
                case pidfd:
                    exited = true
                default:
                    if entry.revents & Int16(POLLIN) != 0 {
                        let count = buffer.withUnsafeMutableBytes { read(controller, $0.baseAddress, $0.count) }
                        if count > 0 {
                            continuation.yield(.output(Array(buffer.prefix(count))))
                            credit -= 1
                        } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                            hungUp = true
                        }
                    }
                    if entry.revents & Int16(POLLOUT) != 0 {
                        let written = pending.withUnsafeBytes { write(controller, $0.baseAddress, $0.count) }
                        if written > 0 {
                            pending = pending.dropFirst(written)
                        } else if written < 0 && errno != EAGAIN && errno != EINTR {
                            pending = []
                        }
                    }
                    // Every terminal descriptor is closed: nothing to read or write until the shell exits.
                    if entry.revents & Int16(POLLHUP | POLLERR) != 0 && entry.revents & Int16(POLLIN) == 0 {
                        hungUp = true
                        pending = []
                    }
                }
            }
        }
    }

    /// Reads what the shell left in the terminal when it exited, whether or not the client has
    /// caught up (bounded: a background process could keep writing).
    private func drain(_ controller: Int32, into buffer: inout [UInt8]) {
        for _ in 0..<16 {
            let count = buffer.withUnsafeMutableBytes { read(controller, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            continuation.yield(.output(Array(buffer.prefix(count))))
        }
    }

    /// Kills every process of the shell's session (its own group and the job groups an interactive
    /// shell makes), reaps the shell and closes the terminal.
    private static func terminate(_ process: TerminalProcess) {
        kill(-process.pid, SIGKILL)
        for _ in 0..<2 {
            for member in sessionMembers(process.pid) { kill(member, SIGKILL) }
        }
        var status: Int32 = 0
        while waitpid(process.pid, &status, 0) < 0 && errno == EINTR {}
        close(process.controller)
    }

    /// Processes whose session id is `session`, from `/proc/PID/stat` (field 6).
    static func sessionMembers(_ session: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var members: [pid_t] = []
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid(),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After the command name: state, ppid, pgrp, session, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 3, pid_t(fields[3]) == session { members.append(pid) }
        }
        return members
    }

    /// Whether `pid` has exited, without reaping it.
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0
            && info._sifields._sigchld.si_pid == pid
    }

    private func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = deadline - .now
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }
}

/// Wakes the terminal thread's poll from another thread (input, a resize, the end); closed with
/// the session.
private final class Wake: Sendable {
    let descriptor = etcha_eventfd()

    func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(descriptor, &one, 8)
    }

    deinit { if descriptor >= 0 { close(descriptor) } }
}
