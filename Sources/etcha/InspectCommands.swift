import Agent
import ArgumentParser
import EtchaJSON
import Foundation

/// `etcha show-config`: the configuration after files, environment and `-x`, as the agent reads
/// it, defaults filled. Secrets are shown as `(hidden)` (``hiddenPaths``).
struct ShowConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show-config",
        abstract: "Print the configuration after files, ETCHA_* variables and -x, with defaults; secrets hidden.")

    @OptionGroup var global: GlobalOptions

    /// The keys holding secrets; `*` is every source.
    static let hiddenPaths = [
        ["build", "signingKey"], ["run", "systemMetricsKey"], ["httpServer", "tlsKeyBase64"],
        ["sources", "*", "webhookSecret"],
    ]

    func run() throws {
        let (loaded, _) = try global.load()
        var json = try JSON(parsing: JSONEncoder().encode(loaded.config))
        for path in Self.hiddenPaths { json = Self.hiding(path[...], in: json) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(json), as: UTF8.self))
    }

    /// `json` with the non-empty string at `path` replaced by `(hidden)`.
    static func hiding(_ path: ArraySlice<String>, in json: JSON) -> JSON {
        guard let key = path.first, case .object(var members) = json else { return json }
        let rest = path.dropFirst()
        for name in key == "*" ? Array(members.keys) : [key] {
            guard let member = members[name] else { continue }
            if rest.isEmpty {
                if case .string(let text) = member, !text.isEmpty { members[name] = .string("(hidden)") }
            } else {
                members[name] = hiding(rest, in: member)
            }
        }
        return .object(members)
    }
}

/// `etcha jq`: a jq query over standard input, as Etcha's `jq` verb, handed to Debian's `jq`.
struct JQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jq",
        abstract: "Query JSON from standard input with jq (Debian's jq package must be installed).")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customShort("r"), help: "Print strings without quotes.") var raw = false
    @Argument(help: "The jq query (default: .).") var query = "."

    func run() throws {
        let jq = Process()
        jq.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        jq.arguments = ["jq"] + (raw ? ["-r"] : []) + [query]
        let errors = Pipe()
        jq.standardError = errors
        try jq.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        jq.waitUntilExit()
        guard jq.terminationStatus != 127 else {
            throw CLIError("jq is not installed: etcha jq hands the query to it (Debian: apt install jq)")
        }
        guard jq.terminationStatus == 0 else {
            throw CLIError("jq: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
