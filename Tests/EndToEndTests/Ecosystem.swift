import Foundation
import Testing

/// Helpers for tests that run real peers (Prometheus, nginx, promtool) next to the binary.
enum Ecosystem {
    /// Runs `command` with `sh -c`; returns status and standard output (standard error is appended
    /// when the command fails, for the test's message).
    @discardableResult
    static func sh(_ command: String, in directory: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes at once so neither fills while the other is drained.
        let errorText = Locked("")
        let reader = Thread {
            errorText.set(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        reader.start()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        while reader.isExecuting { usleep(1000) }
        let status = process.terminationStatus
        return (status, status == 0 ? output : output + errorText.get())
    }

    /// Starts Debian's nginx in the foreground in `scratch`, with `server` as its one server
    /// block. Stop it with ``stopNginx(_:)``.
    static func nginx(server: String, in scratch: Scratch) throws -> Process {
        let config = scratch.write(
            "nginx.conf",
            """
            daemon off;
            master_process off;
            pid \(scratch.path)/nginx.pid;
            error_log \(scratch.path)/nginx.error.log;
            events { worker_connections 64; }
            http {
              access_log off;
              client_body_temp_path \(scratch.path)/nginx-body;
              proxy_temp_path \(scratch.path)/nginx-proxy;
              fastcgi_temp_path \(scratch.path)/nginx-fastcgi;
              uwsgi_temp_path \(scratch.path)/nginx-uwsgi;
              scgi_temp_path \(scratch.path)/nginx-scgi;
              server {
            \(server)
              }
            }
            """)
        let nginx = Process()
        nginx.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        nginx.arguments = ["-c", config, "-p", scratch.path]
        nginx.standardOutput = FileHandle.nullDevice
        nginx.standardError = FileHandle.nullDevice
        try nginx.run()
        return nginx
    }

    /// Stops an nginx from ``nginx(server:in:)``: SIGKILL, because nginx started from a test
    /// thread inherits a signal mask that blocks SIGTERM.
    static func stopNginx(_ nginx: Process) {
        kill(nginx.processIdentifier, SIGKILL)
        nginx.waitUntilExit()
    }

    /// A TCP port free on 127.0.0.1 now (for peers that cannot be told to pick one).
    static func freePort() -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length)
                return getsockname(socket, pointer, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts Debian's Prometheus on a free port with `examples/prometheus/prometheus.yml`, each
    /// `(from, to)` replaced (every `from` must still be in the example), scraping and evaluating every
    /// second, in `scratch`. Returns the process (terminate it) and the port of its web API.
    static func prometheus(replacing substitutions: [(String, String)], in scratch: Scratch) throws -> (Process, Int) {
        let examples = Binary.repository + "/examples/prometheus"
        var config = try String(contentsOfFile: examples + "/prometheus.yml", encoding: .utf8)
        for (from, to) in substitutions + [
            ("rules/etcha.rules.yml", examples + "/rules/etcha.rules.yml"),
            ("scrape_interval: 15s", "scrape_interval: 1s"), ("evaluation_interval: 15s", "evaluation_interval: 1s"),
        ] {
            #expect(config.contains(from), "the example no longer has \(from)")
            config = config.replacingOccurrences(of: from, with: to)
        }
        return try prometheus(config: config, in: scratch)
    }

    /// Starts Debian's Prometheus on a free port with `config` (checked by promtool first), in
    /// `scratch`. Returns the process (terminate it) and the port of its web API.
    static func prometheus(config: String, in scratch: Scratch) throws -> (Process, Int) {
        let configPath = scratch.write("prometheus.yml", config)
        let checked = try sh("promtool check config '\(configPath)'")
        #expect(checked.status == 0, "\(checked.output)")
        let port = freePort()
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prometheus.arguments = [
            "--config.file=\(configPath)", "--storage.tsdb.path=\(scratch.path)/tsdb",
            "--web.listen-address=127.0.0.1:\(port)",
        ]
        prometheus.standardOutput = FileHandle.nullDevice
        prometheus.standardError = FileHandle(forWritingAtPath: scratch.write("prometheus.log", ""))
        try prometheus.run()
        return (prometheus, port)
    }

    /// Polls `condition` every 250 ms until it holds or `seconds` pass.
    static func eventually(within seconds: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(250_000)
        }
        return try condition()
    }

    /// A JSON document from `url` (plain HTTP on loopback), or nil.
    static func json(_ url: String) -> Any? {
        guard let (status, body) = try? sh("curl -s --max-time 5 '\(url)'"), status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(body.utf8))
    }
}

/// A value shared with another thread.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}
