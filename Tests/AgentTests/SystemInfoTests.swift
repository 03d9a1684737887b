import EtchaJSON
import Foundation
import Testing

@testable import Agent

/// `vars.sysinfo`, field by field, against what the system itself says: `/etc/os-release`,
/// uname(1), `/proc` and `/sys`, read here by other tools than the agent uses.
@Suite struct SystemInfoTests {
    let info = SystemInfo.current.values

    private func sh(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func string(_ key: String) -> String? { info[key]?.string }

    @Test func osReleaseFields() throws {
        for (key, field) in [
            ("osID", "ID"), ("osIDLike", "ID_LIKE"), ("osName", "NAME"), ("osVersion", "VERSION"),
            ("osVersionCodename", "VERSION_CODENAME"), ("osVersionID", "VERSION_ID"),
        ] {
            #expect(string(key) == (try sh(". /etc/os-release; printf %s \"$\(field)\"")), "\(key)")
        }
    }

    @Test func unameFields() throws {
        #expect(string("kernelRelease") == (try sh("uname -r")))
        #expect(string("kernelVersion") == (try sh("uname -v")))
        #expect(string("machine") == (try sh("uname -m")))
        #expect(string("osType") == "linux")
        #expect(string("hostname") == (try sh("uname -n")))
        let machine = try sh("uname -m")
        let arch = ["x86_64": "amd64", "aarch64": "arm64"][machine] ?? machine
        #expect(string("runtimeArch") == arch)
    }

    @Test func memoryIsInMegabytesAndCPUsAreCounted() throws {
        let kibibytes = try #require(Int(try sh("awk '/^MemTotal:/ {print $2}' /proc/meminfo")))
        #expect(info["memoryTotal"] == .number(Double(kibibytes / 1024)))
        #expect(info["cpuLogical"] == .number(Double(try #require(Int(try sh("nproc"))))))
    }

    @Test func networkFields() throws {
        let route = try sh("awk '$2 == \"00000000\" {print $1; exit}' /proc/net/route")
        #expect(string("defaultInterface") == route)
        let interfaces = try #require(info["interfaces"]?.object)
        #expect(Set(interfaces.keys) == Set(try sh("ls /sys/class/net").split(separator: "\n").map(String.init)))
        for (name, detail) in interfaces {
            #expect(detail.object?["mac"]?.string == (try sh("cat /sys/class/net/\(name)/address")), "\(name)")
        }
        #expect(interfaces["lo"]?.object?["ipv4"] == .array(["127.0.0.1/8"]))
        if !route.isEmpty {
            #expect(string("mac") == (try sh("cat /sys/class/net/\(route)/address")))
            // hostname -I lists the non-loopback addresses, without prefix lengths.
            let listed = Set(try sh("hostname -I").split(separator: " ").map(String.init))
            guard case .array(let all)? = info["ipv4"] else {
                Issue.record("no ipv4 list")
                return
            }
            let ipv4 = all.compactMap { $0.string?.split(separator: "/").first.map(String.init) }
            #expect(Set(ipv4).isSubset(of: listed) && !ipv4.isEmpty)
        }
    }

    @Test func packageManagerAndContainerEngineAreWhatIsInstalled() throws {
        let apt = try sh("command -v apt >/dev/null && echo apt")
        if !apt.isEmpty { #expect(string("packageManager") == "apt") }
        let engine = try sh(
            "command -v podman >/dev/null && echo podman || { command -v docker >/dev/null && echo docker; }")
        #expect(string("containerEngine") == engine)
    }
}
