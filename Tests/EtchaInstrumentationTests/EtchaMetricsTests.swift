import EtchaCore
import Foundation
import Prometheus
import Testing

@testable import EtchaInstrumentation

/// The exposition after a known sequence of runs holds exactly the expected series.
@Suite struct EtchaMetricsTests {
    /// The sample lines of `exposition` (no comments), sorted.
    private func samples(_ metrics: EtchaMetrics, prefix: String) -> [String] {
        String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix(prefix) }.map(String.init).sorted()
    }

    @Test func countersAndGaugesHoldExactlyWhatRan() {
        let metrics = EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "1.2.3")
        let push = RunOrigin(source: "web", trigger: .push, publicKey: "kid1", remoteAddr: "10.1.2.3")
        let pull = RunOrigin(source: "db", trigger: .pull)
        metrics.commandRan(id: "a", parentID: "", mode: .check, failed: true, origin: push)
        metrics.commandRan(id: "a", parentID: "", mode: .change, failed: false, origin: push)
        metrics.commandRan(id: "a", parentID: "", mode: .change, failed: false, origin: push)
        metrics.commandRan(id: "b", parentID: "g", mode: .remove, failed: true, origin: pull)
        metrics.sourceRan(origin: push, failed: false, changed: 2, removed: 0, duration: .milliseconds(20))
        metrics.sourceRan(origin: push, failed: false, changed: 1, removed: 3, duration: .milliseconds(20))
        metrics.sourceRan(origin: pull, failed: true, changed: 0, removed: 0, duration: .seconds(2))
        metrics.shell(source: "web", publicKey: "kid1", remoteAddr: "10.1.2.3", open: true)
        metrics.shell(source: "web", publicKey: "kid2", remoteAddr: "10.1.2.4", open: true)
        metrics.shell(source: "web", publicKey: "kid2", remoteAddr: "10.1.2.4", open: false)

        #expect(
            samples(metrics, prefix: "etcha_commands_total") == [
                #"etcha_commands_total{error="0",id="a",mode="change",parent_id="",public_key="kid1",remote_addr="10.1.2.3",source="web"} 2"#,
                #"etcha_commands_total{error="1",id="a",mode="check",parent_id="",public_key="kid1",remote_addr="10.1.2.3",source="web"} 1"#,
                #"etcha_commands_total{error="1",id="b",mode="remove",parent_id="g",public_key="",remote_addr="",source="db"} 1"#,
            ])
        #expect(
            samples(metrics, prefix: "etcha_sources_total") == [
                #"etcha_sources_total{error="0",name="web",public_key="kid1",remote_addr="10.1.2.3",trigger="push"} 2"#,
                #"etcha_sources_total{error="1",name="db",public_key="",remote_addr="",trigger="pull"} 1"#,
            ])
        #expect(
            samples(metrics, prefix: "etcha_sources_commands") == [
                #"etcha_sources_commands{mode="change",name="db",public_key="",remote_addr="",trigger="pull"} 0.0"#,
                #"etcha_sources_commands{mode="change",name="web",public_key="kid1",remote_addr="10.1.2.3",trigger="push"} 1.0"#,
                #"etcha_sources_commands{mode="remove",name="db",public_key="",remote_addr="",trigger="pull"} 0.0"#,
                #"etcha_sources_commands{mode="remove",name="web",public_key="kid1",remote_addr="10.1.2.3",trigger="push"} 3.0"#,
            ])
        #expect(
            samples(metrics, prefix: "etcha_sources_shells") == [
                #"etcha_sources_shells{name="web",public_key="kid1",remote_addr="10.1.2.3"} 1.0"#,
                #"etcha_sources_shells{name="web",public_key="kid2",remote_addr="10.1.2.4"} 0.0"#,
            ])
        #expect(samples(metrics, prefix: "etcha_build_info") == [#"etcha_build_info{version="1.2.3"} 1.0"#])
        #expect(
            samples(metrics, prefix: "etcha_source_run_duration_seconds_count") == [
                #"etcha_source_run_duration_seconds_count{name="db",trigger="pull"} 1"#,
                #"etcha_source_run_duration_seconds_count{name="web",trigger="push"} 2"#,
            ])
        let lastRun = samples(metrics, prefix: "etcha_source_last_run_timestamp_seconds")
        #expect(lastRun.count == 2)
        #expect(lastRun.contains { $0.hasPrefix(#"etcha_source_last_run_timestamp_seconds{error="1",name="db"}"#) })
    }

    @Test func jwtExpiryIsZeroWithoutExp() {
        let metrics = EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "t")
        metrics.jwtExpiry(source: "a", expiresAt: nil)
        metrics.jwtExpiry(source: "b", expiresAt: Date(timeIntervalSince1970: 1_900_000_000))
        #expect(
            samples(metrics, prefix: "etcha_source_jwt_expiry") == [
                #"etcha_source_jwt_expiry_timestamp_seconds{name="a"} 0.0"#,
                #"etcha_source_jwt_expiry_timestamp_seconds{name="b"} 1900000000.0"#,
            ])
    }

    @Test func processMetricsComeFromProcSelf() throws {
        let metrics = EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "t")
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        func value(_ name: String) throws -> Double {
            let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(name + " ") })
            return try #require(Double(line.split(separator: " ")[1]))
        }
        func status() throws -> String { try #require(ProcessCollector.readProcFile("/proc/self/status")) }
        #expect(try value("process_resident_memory_bytes") > 1_000_000)
        #expect(try value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"))
        #expect(try value("process_open_fds") >= 3)
        #expect(try value("process_max_fds") >= value("process_open_fds"))
        #expect(try value("process_cpu_seconds_total") > 0)
        let start = try value("process_start_time_seconds")
        #expect(abs(start - Date().timeIntervalSince1970) < 3600)
        // Against independent reads: Foundation's directory listing, and VmRSS from /proc/self/status.
        // Other suites open and close descriptors meanwhile, so the two counts are taken back to back
        // until they agree, with a pause between tries to let a burst of connections pass.
        func eventually(_ agreement: () -> Bool) -> Bool {
            (0..<200).contains { attempt in
                if attempt > 0 { usleep(5_000) }
                return agreement()
            }
        }
        let agree = eventually {
            let counted = ProcessCollector.countOpenFileDescriptors(refreshingTableSize: true) ?? -1
            let listed = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -100
            return abs(counted - listed) <= 1
        }
        #expect(agree)
        // The poll over the table and the listing count the same, also once the table has grown
        // past its size at the last count: descriptors are opened until one lies beyond the old
        // size (FDSize), which a poll over the old size would leave out.
        _ = ProcessCollector.countOpenFileDescriptors(refreshingTableSize: true)
        let oldSize = try #require(
            status().split(separator: "\n").first { $0.hasPrefix("FDSize:") }.flatMap {
                Int($0.dropFirst("FDSize:".count).trimmingCharacters(in: .whitespaces))
            })
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        try #require(limit.rlim_cur >= oldSize + 200, "RLIMIT_NOFILE \(limit.rlim_cur) leaves no room past \(oldSize)")
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        while opened.count < 10_000, (opened.last ?? 0) < oldSize + 100 {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            try #require(fd >= 0, "open: errno \(errno)")
            opened.append(fd)
        }
        let grown = eventually {
            let counted = ProcessCollector.countOpenFileDescriptors(refreshingTableSize: true) ?? -1
            let listed = ProcessCollector.listOpenFileDescriptors() ?? -100
            return abs(counted - listed) <= 1
        }
        #expect(grown)
        let vmRSS = try #require(status().split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kibibytes = try #require(Double(vmRSS.split(separator: " ", omittingEmptySubsequences: true)[1]))
        #expect(try abs(value("process_resident_memory_bytes") / 1024 - kibibytes) < kibibytes * 0.25)
    }

    @Test func scrapesCloseTogetherShareOneProcessRead() throws {
        let collector = ProcessCollector()
        func cpuSeconds(_ text: [UInt8]) throws -> Double {
            let line = try #require(
                String(decoding: text, as: UTF8.self).split(separator: "\n").first {
                    $0.hasPrefix("process_cpu_seconds_total ")
                })
            return try #require(Double(line.split(separator: " ")[1]))
        }
        func emitted(at instant: ContinuousClock.Instant) -> [UInt8] {
            var buffer: [UInt8] = []
            collector.emit(into: &buffer, now: instant)
            return buffer
        }
        let start = ContinuousClock.now
        let first = emitted(at: start)
        // Burn 30 ms of this thread's CPU, which a fresh read must show (the counter ticks every 10 ms).
        func threadCPU() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let burnStart = threadCPU()
        while threadCPU() - burnStart < 0.03 {}
        #expect(emitted(at: start + .milliseconds(99)) == first)
        #expect(try cpuSeconds(emitted(at: start + ProcessCollector.maximumAge)) >= cpuSeconds(first) + 0.02)
    }

    @Test func procFilesAreReadPastTheFirstPage() throws {
        // This test process maps well over a page of /proc/self/maps; /proc/stat does on machines
        // with many interrupt lines, and its btime line comes after them.
        let maps = try #require(ProcessCollector.readProcFile("/proc/self/maps"))
        #expect(maps.utf8.count > 4096)
        #expect(maps.hasSuffix("\n"))
        #expect(maps.contains("PackageTests"))  // the test binary, mapped late in the file
        #expect(ProcessCollector.readProcFile("/proc/self/no-such-file") == nil)
    }

    @Test func expositionPassesPromtool() throws {
        let metrics = EtchaMetrics(registry: PrometheusCollectorRegistry(), version: "t")
        let origin = RunOrigin(source: "web", trigger: .webhook, remoteAddr: "::1")
        metrics.commandRan(id: "quote \" and \\ back", parentID: "", mode: .change, failed: false, origin: origin)
        metrics.sourceRan(origin: origin, failed: false, changed: 1, removed: 0, duration: .milliseconds(3))
        metrics.shell(source: "web", publicKey: "", remoteAddr: "", open: false)
        metrics.jwtExpiry(source: "web", expiresAt: nil)
        let promtool = try #require(
            ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "promtool is installed by the test command (Debian package prometheus)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(metrics.exposition()))
        try input.fileHandleForWriting.close()
        let findings = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(findings == "")
        #expect(process.terminationStatus == 0)
    }
}
