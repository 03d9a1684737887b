import Foundation

/// The built `etcha` executable, run as an operator would run it.
enum Binary {
    /// `etcha`, next to this test bundle in the build directory.
    static let path: String = {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("etcha").path
    }()

    /// The repository root (for `examples/`).
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `etcha arguments…` in `directory` and waits for it (killing it after `timeout`).
    static func run(
        _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
        timeout: TimeInterval = 60
    ) throws -> Outcome {
        let process = try start(arguments, in: directory, environment: environment)
        return wait(for: process, timeout: timeout)
    }

    /// A new key pair from `etcha generate-keys`.
    static func generateKeys(_ type: String = "ed25519", kid: String = "k1") throws -> (private: String, public: String)
    {
        let out = try run(["generate-keys", "--type", type, kid])
        let json = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: String]
        guard let privateKey = json?["privateKey"], let publicKey = json?["publicKey"] else {
            throw CocoaError(.coderReadCorrupt)
        }
        return (privateKey, publicKey)
    }

    /// A started `etcha` whose output is collected in files (so nothing blocks on a full pipe).
    final class Running: @unchecked Sendable {
        let process: Process
        let stdoutFile: String
        let stderrFile: String

        init(process: Process, stdoutFile: String, stderrFile: String) {
            self.process = process
            self.stdoutFile = stdoutFile
            self.stderrFile = stderrFile
        }

        var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }
        var stdout: String { (try? String(contentsOfFile: stdoutFile, encoding: .utf8)) ?? "" }

        /// SIGTERM and wait (SIGKILL after 15 s), unless it has exited already: for a `defer`, so
        /// that no way out of a test, a failed requirement included, leaves an agent running.
        func stop() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGTERM)
            _ = Binary.wait(for: self, timeout: 15)
        }
    }

    /// Starts `etcha arguments…`; its standard error goes to a file (``Running/stderr``) unless
    /// `standardError` is given.
    static func start(
        _ arguments: [String], in directory: String?, environment: [String: String], stdin: Pipe? = nil,
        standardError: FileHandle? = nil
    ) throws -> Running {
        let process = Process()
        // Started as from a shell: no signal blocked and SIGPIPE at its default. Foundation's
        // Process passes on the mask of the thread that calls it (a test's thread blocks every
        // signal), which hid wake-ups that an operator's agent would have, and the test process may
        // ignore SIGPIPE (perl-base is part of every Debian).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments =
            [
                "-e",
                #"use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; $SIG{PIPE} = "DEFAULT"; exec {$ARGV[0]} @ARGV or die"#,
                path,
            ]
            + arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCHA_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("etcha-e2e-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: base + ".out")
        process.standardError = standardError ?? FileHandle(forWritingAtPath: base + ".err")
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
        return Running(process: process, stdoutFile: base + ".out", stderrFile: base + ".err")
    }

    /// The port a started `etcha run` listens on, read from its log (it listens on port 0 in tests).
    static func port(of running: Running, within seconds: TimeInterval = 20) -> String {
        port(inLog: { running.stderr }, within: seconds)
    }

    /// The port an `etcha run` logs as listening on, read from `log` (its stderr as it grows).
    static func port(inLog log: () -> String, within seconds: TimeInterval = 20) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let text = log()
            if let range = text.range(of: #"listening on 127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                return String(text[range].split(separator: ":").last!)
            }
            usleep(10_000)
        }
        return ""
    }

    static func wait(for running: Running, timeout: TimeInterval) -> Outcome {
        let deadline = Date().addingTimeInterval(timeout)
        while running.process.isRunning && Date() < deadline { usleep(20_000) }
        if running.process.isRunning {
            running.process.terminate()
            kill(running.process.processIdentifier, SIGKILL)
        }
        running.process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(atPath: running.stdoutFile)
            try? FileManager.default.removeItem(atPath: running.stderrFile)
        }
        return Outcome(status: running.process.terminationStatus, stdout: running.stdout, stderr: running.stderr)
    }
}

/// A fresh directory removed when done.
final class Scratch {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("etcha-e2e-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let file = "\(path)/\(name)"
        try! FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func read(_ name: String) -> String? { try? String(contentsOfFile: "\(path)/\(name)", encoding: .utf8) }
}
