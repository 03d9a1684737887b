import EtchaJSON
import Foundation
import Glibc

/// Facts about this machine offered to patterns as `getConfig().vars.sysinfo`, with Etcha's names
/// and units (docs/behaviour.md#sysinfo), read once.
struct SystemInfo: Sendable {
    var values: [String: JSON]

    var json: JSON { .object(values) }

    static let current = SystemInfo()

    private init() {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let hostname = ProcessInfo.processInfo.hostName
        let shortName = text(name.nodename)
        let release = SystemInfo.osRelease()
        let interfaces = SystemInfo.interfaces()
        let defaultInterface = SystemInfo.defaultInterface()
        let addresses = interfaces.filter { $0.key != "lo" }.sorted { $0.key < $1.key }.map(\.value)
        values = [
            "containerEngine": .string(SystemInfo.firstOnPath(["podman", "docker"]) ?? ""),
            "cpuLogical": .number(Double(SystemInfo.logicalCPUs())),
            "defaultInterface": .string(defaultInterface),
            "fqdn": .string(hostname.contains(".") ? hostname : shortName),
            "hostname": .string(shortName),
            "interfaces": .object(interfaces.mapValues(\.json)),
            "ipv4": .array(addresses.flatMap(\.ipv4).map(JSON.string)),
            "ipv6": .array(addresses.flatMap(\.ipv6).map(JSON.string)),
            "kernelRelease": .string(text(name.release)),
            "kernelVersion": .string(text(name.version)),
            "mac": .string(interfaces[defaultInterface]?.mac ?? ""),
            "machine": .string(text(name.machine)),
            "memoryTotal": .number(Double(SystemInfo.memoryTotalMB())),
            "osID": .string(release["ID"] ?? ""),
            "osIDLike": .string(release["ID_LIKE"] ?? ""),
            "osName": .string(release["NAME"] ?? ""),
            "osType": .string(text(name.sysname).lowercased()),
            "osVersion": .string(release["VERSION"] ?? ""),
            "osVersionCodename": .string(release["VERSION_CODENAME"] ?? ""),
            "osVersionID": .string(release["VERSION_ID"] ?? ""),
            "packageManager": .string(SystemInfo.firstOnPath(["apt", "dnf", "yum", "zypper", "pacman", "apk"]) ?? ""),
            "runtimeArch": .string(SystemInfo.goArch(text(name.machine))),
        ]
    }

    /// `/etc/os-release` as key → unquoted value.
    static func osRelease(path: String = "/etc/os-release") -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            result[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return result
    }

    /// The CPUs this process may run on (`Cpus_allowed_list` of `/proc/self/status`, its
    /// sched_getaffinity(2) set), as Go's `runtime.NumCPU` counts them for Etcha.
    static func logicalCPUs() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return ProcessInfo.processInfo.activeProcessorCount }
        var count = 0
        for range in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let bounds = range.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 2, bounds[1] >= bounds[0] { count += bounds[1] - bounds[0] + 1 }
            if bounds.count == 1 { count += 1 }
        }
        return count > 0 ? count : ProcessInfo.processInfo.activeProcessorCount
    }

    /// `MemTotal` of `/proc/meminfo` in whole MiB, as Etcha reports it.
    static func memoryTotalMB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
            let kibibytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kibibytes / 1024
    }

    /// The interface of the default IPv4 route in `/proc/net/route`, or empty.
    static func defaultInterface() -> String {
        guard let text = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8) else { return "" }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if fields.count > 1, fields[1] == "00000000" { return String(fields[0]) }
        }
        return ""
    }

    /// The first of `names` that is an executable on the agent's `PATH`.
    static func firstOnPath(_ names: [String]) -> String? {
        names.first { StepRunner.resolveExecutable($0) != nil }
    }

    /// Go's name for a machine architecture (`GOARCH`), which Etcha reports.
    static func goArch(_ machine: String) -> String {
        switch machine {
        case "x86_64": "amd64"
        case "aarch64", "arm64": "arm64"
        case "i386", "i686": "386"
        case let arm where arm.hasPrefix("armv"): "arm"
        default: machine
        }
    }

    /// One network interface's addresses.
    struct Interface: Sendable {
        var ipv4: [String] = []
        var ipv6: [String] = []
        var mac = ""

        var json: JSON {
            .object(["ipv4": .array(ipv4.map(JSON.string)), "ipv6": .array(ipv6.map(JSON.string)), "mac": .string(mac)])
        }
    }

    /// Every interface by name: its addresses in CIDR form from getifaddrs(3), and its hardware
    /// address from `/sys/class/net/NAME/address`.
    static func interfaces() -> [String: Interface] {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0 else { return [:] }
        defer { freeifaddrs(first) }
        var result: [String: Interface] = [:]
        var entry = first
        while let current = entry?.pointee {
            defer { entry = current.ifa_next }
            guard let address = current.ifa_addr else { continue }
            let name = String(cString: current.ifa_name)
            var interface = result[name] ?? Interface()
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                let ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                let mask = current.ifa_netmask.map {
                    $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                }
                interface.ipv4.append(
                    "\(numeric(AF_INET, ip))/\(mask.map { UInt32(bigEndian: $0).nonzeroBitCount } ?? 32)")
            case AF_INET6:
                let ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                let bits =
                    current.ifa_netmask.map {
                        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { mask in
                            withUnsafeBytes(of: mask.pointee.sin6_addr) { $0.reduce(0) { $0 + $1.nonzeroBitCount } }
                        }
                    } ?? 128
                interface.ipv6.append("\(numeric(AF_INET6, ip))/\(bits)")
            default:
                break  // AF_PACKET: every interface has one, so each is listed
            }
            result[name] = interface
        }
        for name in result.keys {
            let mac = try? String(contentsOfFile: "/sys/class/net/\(name)/address", encoding: .utf8)
            result[name]?.mac = mac?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
        return result
    }

    /// An address as inet_ntop(3) writes it.
    private static func numeric<Address>(_ family: Int32, _ address: Address) -> String {
        var address = address
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, &address, &buffer, socklen_t(buffer.count)) != nil else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map(UInt8.init), as: UTF8.self)
    }
}
