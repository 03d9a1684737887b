import Agent
import ArgumentParser
import Dispatch
import Foundation
import Glibc

/// `etcha shell`: an interactive shell on a host, through its agent.
struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Open a shell on a host's source, authenticated by build.signingKey.",
        discussion: """
            The host is -h HOST[:PORT] (port 4000 unless given) or the name of a targets entry, also \
            accepted after SOURCE as in Etcha's guide; without it, the one target whose sourcePatterns has \
            SOURCE. On a terminal, the local terminal is put in raw mode (restored on exit) and resizes are \
            forwarded. With standard input from a pipe, it is forwarded as it comes and end of input is sent \
            as Ctrl-D. Exits 0 when the remote shell exits.
            """,
        helpNames: [.long])

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customShort("h"), help: ArgumentHelp("Host, HOST[:PORT], or a targets entry's name.", valueName: "host"))
    var host: String?
    @Argument(help: "Source name on the host (it must set shell).") var source: String
    @Argument(help: ArgumentHelp("The host, as -h, written after the source as Etcha's guide does.", valueName: "host"))
    var hostAfterSource: String?

    func run() async throws {
        let (loaded, _) = try global.load()
        let config = loaded.config
        let (address, insecure, path) = try destination(config)
        let client: ShellClient
        do {
            client = try ShellClient(config: config)
        } catch {
            throw CLIError(error.description)
        }
        let terminal = LocalTerminal()
        defer { terminal.restore() }
        let input = terminal.keystrokes()
        do {
            try await client.run(
                source: source, host: address, insecure: insecure, path: path, size: terminal.size, input: input,
                output: { bytes in writeAll(bytes, to: STDOUT_FILENO) })
        } catch let error as ShellClientError {
            throw CLIError(error.description)
        } catch {
            throw CLIError("\(address): \(error)")
        }
    }

    /// `-h` as a target name or an address, else the one target serving `source`: the address,
    /// whether it is plain HTTP, and the shell path.
    private func destination(_ config: Config) throws -> (String, Bool, String) {
        func endpoint(_ name: String, _ target: TargetConfig) -> (String, Bool, String) {
            let hostname = (target.hostname.isEmpty ? name : target.hostname) + config.build.pushDomainSuffix
            return (PushClient.address(hostname, port: target.port), target.insecure, target.pathShell)
        }
        if host != nil && hostAfterSource != nil { throw CLIError("give the host once: -h HOST or after SOURCE") }
        if let host = host ?? hostAfterSource {
            if let target = config.targets[host] { return endpoint(host, target) }
            return (host, false, "/etcha/v1/shell")
        }
        let serving = config.targets.filter { $0.value.sourcePatterns[source] != nil }
        guard serving.count == 1, let (name, target) = serving.first else {
            throw CLIError(
                serving.isEmpty
                    ? "no host: give -h HOST or a target with sourcePatterns.\(source)"
                    : "several targets serve \(source) (\(serving.keys.sorted().joined(separator: ", "))): pick one with -h"
            )
        }
        return endpoint(name, target)
    }
}

/// The local side: raw mode while a session runs (when standard input is a terminal), keystrokes and
/// resizes as they come.
private final class LocalTerminal: @unchecked Sendable {
    // Written once in init, read by restore (from the main task or a signal handler's queue).
    private var saved: termios?
    private var signalSources: [any DispatchSourceSignal] = []
    private let restored = NSLock()
    private var isRestored = false

    init() {
        guard isatty(STDIN_FILENO) == 1 else { return }
        var attributes = termios()
        guard tcgetattr(STDIN_FILENO, &attributes) == 0 else { return }
        saved = attributes
        var raw = attributes
        cfmakeraw(&raw)
        tcsetattr(STDIN_FILENO, TCSADRAIN, &raw)
        // Raw mode turns Ctrl-C into a byte for the remote shell; these still end us, tidily.
        for number in [SIGTERM, SIGHUP, SIGQUIT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                restore()
                exit(128 + number)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Puts the terminal back as it was (once).
    func restore() {
        restored.lock()
        defer { restored.unlock() }
        guard !isRestored, var saved else { return }
        isRestored = true
        tcsetattr(STDIN_FILENO, TCSADRAIN, &saved)
    }

    /// Columns and rows of the terminal, or 0 x 0 without one.
    var size: (columns: UInt16, rows: UInt16) {
        var size = winsize()
        guard saved != nil, ioctl(STDIN_FILENO, UInt(TIOCGWINSZ), &size) == 0 else { return (0, 0) }
        return (size.ws_col, size.ws_row)
    }

    /// What is typed, in reads of up to 4 KiB, and every resize (SIGWINCH); Ctrl-D at the end of a
    /// pipe's input.
    func keystrokes() -> AsyncStream<ShellClient.Keystrokes> {
        let (stream, continuation) = AsyncStream<ShellClient.Keystrokes>.makeStream()
        let isTerminal = saved != nil
        if isTerminal {
            signal(SIGWINCH, SIG_IGN)
            let resizes = DispatchSource.makeSignalSource(signal: SIGWINCH, queue: .global())
            resizes.setEventHandler { [self] in
                let size = self.size
                continuation.yield(.init(bytes: [], columns: size.columns, rows: size.rows))
            }
            resizes.resume()
            signalSources.append(resizes)
        }
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                let size = self.size
                guard count > 0 else {
                    if !isTerminal { continuation.yield(.init(bytes: [4], columns: size.columns, rows: size.rows)) }
                    continuation.finish()
                    return
                }
                continuation.yield(.init(bytes: Array(buffer.prefix(count)), columns: size.columns, rows: size.rows))
            }
        }
        return stream
    }
}

/// Writes every byte, retrying after partial writes and interruptions.
private func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}
