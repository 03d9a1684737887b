import EtchaJSON
import Foundation

/// Facts about this machine offered to patterns as `getConfig().vars.sysinfo`, read once.
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
        values = [
            "hostname": .string(shortName),
            "fqdn": .string(hostname.contains(".") ? hostname : shortName),
            "osID": .string(release["ID"] ?? ""),
            "osVersionID": .string(release["VERSION_ID"] ?? ""),
            "osName": .string(text(name.sysname).lowercased()),
            "kernelVersion": .string(text(name.release)),
            "machine": .string(text(name.machine)),
            "cpuLogical": .number(Double(ProcessInfo.processInfo.activeProcessorCount)),
            "memoryTotal": .number(Double(ProcessInfo.processInfo.physicalMemory)),
        ]
    }

    private static func osRelease() -> [String: String] {
        guard let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) else { return [:] }
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            result[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return result
    }
}
