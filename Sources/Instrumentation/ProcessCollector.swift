import Foundation
import NIOConcurrencyHelpers
import Synchronization

/// The standard `process_*` metrics, read from `/proc/self` (as the Go and Python clients do), so
/// that dashboards built for other exporters work unchanged.
///
/// Scrapes less than ``maximumAge`` apart share one read: a read is a large part of a scrape's CPU
/// (the kernel formats `/proc/self/stat` and checks every descriptor slot while the event loops use
/// the same table), and a scraper that asks many times a second learns nothing new from each. At
/// any real scrape interval every scrape reads afresh (docs/decisions.md, "Scrapes less than 100 ms
/// apart share one process read").
struct ProcessCollector: Sendable {
    /// How old the values a scrape shows may be.
    static let maximumAge = Duration.milliseconds(100)

    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
    private let bootTime: Double = ProcessCollector.readBootTime()
    private let lastRead = NIOLockedValueBox<(at: ContinuousClock.Instant, text: [UInt8])?>(nil)

    /// Appends the process families, as read at most ``maximumAge`` before `now`, to `buffer`.
    func emit(into buffer: inout [UInt8], now: ContinuousClock.Instant = .now) {
        if let last = lastRead.withLockedValue({ $0 }), now - last.at < Self.maximumAge {
            buffer.append(contentsOf: last.text)
            return
        }
        let text = readFamilies()
        lastRead.withLockedValue { $0 = (now, text) }
        buffer.append(contentsOf: text)
    }

    /// The families read now; a family whose source cannot be read is left out.
    private func readFamilies() -> [UInt8] {
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
        return Array(text.utf8)
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
    /// Read and parsed as bytes: the line is well under a page, and scrapes read it often.
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

    /// The number of entries a listing of `/proc/self/fd` shows, as other clients count it (the
    /// listing's own descriptor included), without the listing, which builds a directory entry per
    /// descriptor in the kernel. One poll(2) over the descriptor table instead marks every free
    /// slot POLLNVAL (docs/decisions.md, "Open descriptors counted with one poll"). The table's
    /// size (`FDSize` in `/proc/self/status`) only grows, and reading it costs more than the poll,
    /// so it is read again at most once a second (`refreshingTableSize` forces it): after the table
    /// grows, descriptors beyond its old size go uncounted for up to a second. Tables beyond 4,096
    /// slots are listed instead.
    static func countOpenFileDescriptors(refreshingTableSize: Bool = false) -> Int? {
        let second = Int(time(nil))
        var size = tableSize.load(ordering: .relaxed)
        if refreshingTableSize || size <= 0 || tableSizeReadAt.load(ordering: .relaxed) != second {
            size = readTableSize() ?? 0
            tableSize.store(size, ordering: .relaxed)
            tableSizeReadAt.store(second, ordering: .relaxed)
        }
        guard size > 0, size <= 4096 else { return listOpenFileDescriptors() }
        return withUnsafeTemporaryAllocation(of: pollfd.self, capacity: size) { slots -> Int? in
            for index in 0..<size { slots[index] = pollfd(fd: Int32(index), events: 0, revents: 0) }
            guard poll(slots.baseAddress, nfds_t(size), 0) >= 0 else { return listOpenFileDescriptors() }
            return slots.reduce(1) { count, slot in slot.revents & Int16(POLLNVAL) == 0 ? count + 1 : count }
        }
    }

    private static let tableSize = Atomic<Int>(0)
    private static let tableSizeReadAt = Atomic<Int>(-1)

    /// `FDSize` from `/proc/self/status`: the slots of the descriptor table.
    private static func readTableSize() -> Int? {
        guard let status = readProcFile("/proc/self/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("FDSize:") })
        else { return nil }
        return Int(line.dropFirst("FDSize:".count).trimmingCharacters(in: .whitespaces))
    }

    /// Entries of `/proc/self/fd` (the directory's own descriptor included, as other clients count).
    static func listOpenFileDescriptors() -> Int? {
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
        return String(decoding: data, as: UTF8.self)
    }

    private static func readBootTime() -> Double {
        guard let stat = readProcFile("/proc/stat") else { return 0 }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }
}
