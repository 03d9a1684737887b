import CJsonnet
import EtchaJSON
import Foundation

/// Etcha's Jsonnet native functions (`std.native(NAME)(…)`):
/// - `getConfig()`: the source's merged `exec`, `targets` and `vars` (with `source` and `sysinfo`);
/// - `getEnv(key, fallback)`: an environment variable of the agent, or `fallback`;
/// - `getFile(path, fallback)`, and its current name `getPath(path, fallback)`: a file's text, or
///   the body of an `http(s)://` URL (``NativeFetch``), or `fallback`;
/// - `getCmd(command, fallback)`: the standard output of `/bin/sh -c command` (trailing newline
///   removed) when it exits 0 within 10 s, or `fallback`;
/// - `getRecord(type, name, fallback)`: the sorted `A` or `AAAA` addresses of a name, from the
///   system's resolver (``addresses(of:family:)``), its `CNAME` or its `TXT` texts (``DNSLookup``),
///   or `fallback`;
/// - `getArch()`, `getOS()`: the architecture and system in Go's names (`amd64`, `linux`);
/// - `regexMatch(regex, string)`: whether the regular expression matches somewhere in the string;
/// - `randStr(length)`, also `randString(length)`: that many random letters and digits;
/// - `render(string)`: the string evaluated as Jsonnet, with these same functions.
public struct NativeFunctions: Sendable {
    /// What `getConfig()` returns.
    var config: JSON
    /// How many `render` calls deep this evaluation is; each level starts a VM, so it is bounded.
    var renderDepth = 0
    /// Where `getRecord` asks for `CNAME` and `TXT` records; nil is the system's nameservers,
    /// read when a lookup needs them.
    var resolver: DNSLookup?

    /// The deepest `render` inside `render`.
    static let maxRenderDepth = 8

    /// The alphabet of `randStr` (and of Etcha's random key ids).
    static let randomAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// `length` random letters and digits from the system's generator (getrandom(2)): patterns use
    /// `randStr` for passwords and tokens.
    public static func randomString(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<length).map { _ in randomAlphabet.randomElement(using: &generator)! }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Binds the functions to one VM for one evaluation.
    final class Context {
        let vm: OpaquePointer
        let natives: NativeFunctions
        /// Whether the evaluation read a file or ran a command (`getFile`, `getCmd`), so that
        /// evaluating the same inputs again may give another result.
        var readOutside = false

        init(vm: OpaquePointer, natives: NativeFunctions) {
            self.vm = vm
            self.natives = natives
        }

        func register() {
            let me = Unmanaged.passUnretained(self).toOpaque()
            withParameters([]) { jsonnet_native_callback(vm, "getConfig", getConfigCallback, me, $0) }
            withParameters(["key", "fallback"]) { jsonnet_native_callback(vm, "getEnv", getEnvCallback, me, $0) }
            for name in ["getFile", "getPath"] {
                withParameters(["path", "fallback"]) { jsonnet_native_callback(vm, name, getFileCallback, me, $0) }
            }
            withParameters(["command", "fallback"]) { jsonnet_native_callback(vm, "getCmd", getCmdCallback, me, $0) }
            withParameters(["type", "name", "fallback"]) {
                jsonnet_native_callback(vm, "getRecord", getRecordCallback, me, $0)
            }
            withParameters([]) { jsonnet_native_callback(vm, "getArch", getArchCallback, me, $0) }
            withParameters([]) { jsonnet_native_callback(vm, "getOS", getOSCallback, me, $0) }
            withParameters(["regex", "string"]) {
                jsonnet_native_callback(vm, "regexMatch", regexMatchCallback, me, $0)
            }
            for name in ["randStr", "randString"] {
                withParameters(["length"]) { jsonnet_native_callback(vm, name, randomStringCallback, me, $0) }
            }
            withParameters(["string"]) { jsonnet_native_callback(vm, "render", renderCallback, me, $0) }
        }

        /// A failed call: libjsonnet raises `message` as the evaluation's error.
        func failure(_ message: String, _ success: UnsafeMutablePointer<Int32>?) -> OpaquePointer? {
            success?.pointee = 0
            return jsonnet_json_make_string(vm, message)
        }

        private func withParameters(_ names: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Void) {
            let copies = names.map { strdup($0) }
            defer { for copy in copies { free(copy) } }
            let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
            pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
        }

        func make(_ value: JSON) -> OpaquePointer? {
            switch value {
            case .null: return jsonnet_json_make_null(vm)
            case .bool(let flag): return jsonnet_json_make_bool(vm, flag ? 1 : 0)
            case .number(let number): return jsonnet_json_make_number(vm, number)
            case .string(let text): return jsonnet_json_make_string(vm, text)
            case .array(let items):
                let array = jsonnet_json_make_array(vm)
                for item in items { jsonnet_json_array_append(vm, array, make(item)) }
                return array
            case .object(let members):
                let object = jsonnet_json_make_object(vm)
                for (key, member) in members { jsonnet_json_object_append(vm, object, key, make(member)) }
                return object
            }
        }

        /// A scalar argument as JSON (libjsonnet cannot hand over arrays or objects).
        func scalar(_ value: OpaquePointer?) -> JSON {
            if let text = jsonnet_json_extract_string(vm, value) { return .string(String(cString: text)) }
            var number = 0.0
            if jsonnet_json_extract_number(vm, value, &number) != 0 { return .number(number) }
            let flag = jsonnet_json_extract_bool(vm, value)
            if flag != 2 { return .bool(flag == 1) }
            return .null
        }
    }

    /// The addresses of `name` in `family` (`AF_INET`, `AF_INET6`), as text, sorted and without
    /// repeats; nil when it has none or cannot be resolved.
    static func addresses(of name: String, family: Int32) -> [String]? {
        var hints = addrinfo()
        hints.ai_family = family
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0 else { return nil }
        defer { freeaddrinfo(list) }
        var found = Set<String>()
        var entry = list
        while let current = entry {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if let address = current.pointee.ai_addr {
                let written: UnsafePointer<CChar>?
                if family == AF_INET {
                    var raw = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    written = inet_ntop(family, &raw, &text, socklen_t(text.count))
                } else {
                    var raw = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    written = inet_ntop(family, &raw, &text, socklen_t(text.count))
                }
                if written != nil { found.insert(String(cString: text)) }
            }
            entry = current.pointee.ai_next
        }
        return found.isEmpty ? nil : found.sorted()
    }

    static func runCommand(_ command: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 10, execute: timer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile().prefix(StepRunner.outputLimit)
        process.waitUntilExit()
        timer.cancel()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else { return nil }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

private typealias Arguments = UnsafePointer<OpaquePointer?>?

private func context(_ raw: UnsafeMutableRawPointer?) -> NativeFunctions.Context {
    Unmanaged<NativeFunctions.Context>.fromOpaque(raw!).takeUnretainedValue()
}

private func getConfigCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    let context = context(raw)
    success?.pointee = 1
    return context.make(context.natives.config)
}

/// Runs `lookup` on the first argument as a string; its nil answer gives the second argument back,
/// or, when that is null, fails the render as Etcha does ("no value found for KEY and no fallback
/// provided").
private func lookUp(
    _ raw: UnsafeMutableRawPointer?, _ argv: Arguments, _ success: UnsafeMutablePointer<Int32>?,
    _ lookup: (String) -> String?
) -> OpaquePointer? {
    let context = context(raw)
    success?.pointee = 1
    guard let argv, case .string(let key) = context.scalar(argv[0]) else {
        return context.failure("the first argument must be a string", success)
    }
    if let value = lookup(key) { return jsonnet_json_make_string(context.vm, value) }
    let fallback = context.scalar(argv[1])
    guard fallback != .null else {
        return context.failure("no value found for \(key) and no fallback provided", success)
    }
    return context.make(fallback)
}

private func getEnvCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    // An empty variable counts as unset, as in Etcha.
    lookUp(raw, argv, success) { ProcessInfo.processInfo.environment[$0].flatMap { $0.isEmpty ? nil : $0 } }
}

private func getFileCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    context(raw).readOutside = true
    return lookUp(raw, argv, success) { path in
        let text =
            path.hasPrefix("https://") || path.hasPrefix("http://")
            ? NativeFetch.text(of: path) : try? String(contentsOfFile: path, encoding: .utf8)
        // Etcha hands on the contents without leading and trailing white space.
        return text?.trimmingWhiteSpace()
    }
}

private func getCmdCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    context(raw).readOutside = true
    return lookUp(raw, argv, success) { NativeFunctions.runCommand($0) }
}

private func getArchCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    success?.pointee = 1
    return context(raw).make(SystemInfo.current.values["runtimeArch"] ?? .string(""))
}

private func getOSCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    success?.pointee = 1
    return context(raw).make(SystemInfo.current.values["osType"] ?? .string(""))
}

/// `getRecord(type, name, fallback)`, with Etcha's types: `A` and `AAAA` (the sorted addresses),
/// `CNAME` (the canonical name, in a one-element array) and `TXT` (the sorted texts). Any other
/// type, `MX` included, is unknown, as in Etcha's code.
private func getRecordCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    let context = context(raw)
    context.readOutside = true
    guard let argv, case .string(let type) = context.scalar(argv[0]), case .string(let name) = context.scalar(argv[1])
    else { return context.failure("getRecord: the type and the name must be strings", success) }
    let found: Result<[String], DNSLookup.Failure>
    switch type.lowercased() {
    case "a":
        found = NativeFunctions.addresses(of: name, family: AF_INET).map { .success($0) } ?? .failure(.notFound(name))
    case "aaaa":
        found = NativeFunctions.addresses(of: name, family: AF_INET6).map { .success($0) } ?? .failure(.notFound(name))
    case "cname", "txt":
        let resolver = context.natives.resolver ?? .system()
        found = Result { type.lowercased() == "txt" ? try resolver.txt(name) : [try resolver.cname(name)] }
            .mapError { $0 as? DNSLookup.Failure ?? .notFound(name) }
    default:
        return context.failure("getRecord: unknown type: \(type.lowercased())", success)
    }
    switch found {
    case .success(let records):
        success?.pointee = 1
        return context.make(.array(records.map(JSON.string)))
    case .failure(let failure):
        let fallback = context.scalar(argv[2])
        guard fallback != .null else {
            return context.failure(
                "getRecord: no \(type.uppercased()) record for \(name) (\(failure)) and no fallback provided", success)
        }
        success?.pointee = 1
        return context.make(fallback)
    }
}

private func regexMatchCallback(
    raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?
) -> OpaquePointer? {
    let context = context(raw)
    guard let argv, case .string(let pattern) = context.scalar(argv[0]),
        case .string(let text) = context.scalar(argv[1])
    else { return context.failure("regexMatch: the regex and the string must be strings", success) }
    guard let regex = try? Regex(pattern) else {
        return context.failure("regexMatch: \"\(pattern)\" is not a valid regular expression", success)
    }
    success?.pointee = 1
    return context.make(.bool(text.contains(regex)))
}

private func randomStringCallback(
    raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?
) -> OpaquePointer? {
    let context = context(raw)
    guard let argv, case .number(let length) = context.scalar(argv[0]), length >= 0, length <= 1_000_000,
        length == length.rounded()
    else { return context.failure("randStr: the length must be a whole number from 0 to 1000000", success) }
    success?.pointee = 1
    return context.make(.string(NativeFunctions.randomString(length: Int(length))))
}

private func renderCallback(raw: UnsafeMutableRawPointer?, argv: Arguments, success: UnsafeMutablePointer<Int32>?)
    -> OpaquePointer?
{
    let context = context(raw)
    guard let argv, case .string(let source) = context.scalar(argv[0]) else {
        return context.failure("render: the argument must be a string", success)
    }
    var inner = context.natives
    inner.renderDepth += 1
    guard inner.renderDepth <= NativeFunctions.maxRenderDepth else {
        return context.failure("render: more than \(NativeFunctions.maxRenderDepth) levels deep", success)
    }
    do {
        let evaluation = try Jsonnet.evaluate(
            snippet: source, filename: "render", natives: inner, importer: Jsonnet.Importer(files: nil))
        if evaluation.readOutside { context.readOutside = true }
        let value = try JSON(parsing: Data(evaluation.output.utf8))
        success?.pointee = 1
        return context.make(value)
    } catch {
        return context.failure("render: \(error)", success)
    }
}
