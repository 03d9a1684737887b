import Foundation

/// The standard `process_*` metrics, read from `/proc/self` at each scrape (as the Go and Python
/// clients do), so that dashboards built for other exporters work unchanged.
struct ProcessCollector: Sendable {
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
    private let bootTime: Double = ProcessCollector.readBootTime()

    /// Appends the process families to `buffer`; a family whose source cannot be read is left out.
    func emit(into buffer: inout [UInt8]) {
        var text = ""
        if let stat = readStat() {
            text += family(
                "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
                (stat.utime + stat.stime) / ticksPerSecond)
            text += family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stat.vsize)
            text += family(
                "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                stat.rss * pageSize)
            text += family(
                "process_start_time_seconds", "gauge",
                "Start time of the process since unix epoch in seconds.",
                bootTime + stat.startTicks / ticksPerSecond)
        }
        if let fds = Self.countOpenFileDescriptors() {
            text += family("process_open_fds", "gauge", "Number of open file descriptors.", Double(fds))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            text += family(
                "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                Double(limit.rlim_cur))
        }
        buffer.append(contentsOf: text.utf8)
    }

    private func family(_ name: String, _ type: String, _ help: String, _ value: Double) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n"
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private struct Stat {
        var utime, stime, startTicks, vsize, rss: Double
    }

    /// Fields of `/proc/self/stat` after the command name (which may hold spaces, hence the last `)`).
    /// Read and parsed as bytes: the line is well under a page, and a scrape reads it every time.
    private func readStat() -> Stat? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer -> Stat? in
            let file = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)
            guard file >= 0 else { return nil }
            defer { close(file) }
            var length = 0
            while length < buffer.count {
                let count = read(file, buffer.baseAddress! + length, buffer.count - length)
                if count <= 0 { break }
                length += count
            }
            let line = UnsafeBufferPointer(rebasing: buffer[..<length])
            guard let close = line.lastIndex(of: UInt8(ascii: ")")) else { return nil }
            let fields = line[(close + 1)...].split(separator: UInt8(ascii: " "))
            // fields[0] is field 3 (state); utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
            func field(_ number: Int) -> Double? {
                guard fields.count > number - 3 else { return nil }
                return Self.decimal(fields[number - 3])
            }
            guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23),
                let rss = field(24)
            else { return nil }
            return Stat(utime: utime, stime: stime, startTicks: start, vsize: vsize, rss: rss)
        }
    }

    /// A field of unsigned decimal digits (or a leading `-`, as rss may be), or nil.
    private static func decimal(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Double? {
        var negative = false
        var value = 0.0
        var seen = false
        for (offset, byte) in digits.enumerated() {
            if offset == 0 && byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Double(byte - UInt8(ascii: "0"))
            seen = true
        }
        return seen ? (negative ? -value : value) : nil
    }

    /// Entries of `/proc/self/fd` (the directory's own descriptor included, as other clients count).
    static func countOpenFileDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDots = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDots { count += 1 }
        }
        return count
    }

    /// The whole of a `/proc` file. Not `String(contentsOfFile:)`, `Data(contentsOf:)` or
    /// `FileManager.contents(atPath:)`: they stop after the first read, which the kernel ends at a
    /// page for these files, and `/proc/stat` runs past a page (and `btime` past its interrupt
    /// counts) on machines with many interrupt lines. `readToEnd` reads until end of file.
    static func readProcFile(_ path: String) -> String? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        guard let data = try? file.readToEnd() else { return nil }
        return String(decoding: data ?? Data(), as: UTF8.self)
    }

    private static func readBootTime() -> Double {
        guard let stat = readProcFile("/proc/stat") else { return 0 }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }
}
