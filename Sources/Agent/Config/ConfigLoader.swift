import EtchaJSON
import Foundation

/// A configuration that has been read, overridden, checked and decoded, with what was derived
/// from it while checking (the parsed static commands) and the warnings to log.
public struct LoadedConfig: Sendable {
    /// The complete configuration.
    public var config: Config
    /// Each source's static `commands`, parsed and checked.
    public var staticCommands: [String: [Command]]
    /// Each source's verify keys (`run.verifyKeys` plus its own) and JWT rule (its own, else `run.jwtRule`).
    public var trust: [String: SourceTrust]
    /// The trust of a token read outside any source (`etcha jwt`, `etcha render`): `run.verifyKeys`,
    /// `run.jwtRule`, and `run.verifyCommands` under `run.verifyExec`.
    public var runTrust: SourceTrust
    /// Things worth telling the operator that do not stop startup (ignored Etcha keys).
    public var warnings: [String]
}

/// Reads the configuration: the files (Jsonnet, which JSON is), then `ETCHA_*` environment
/// overrides, then `-x` overrides; checks every key against ``ConfigSchema``, fills defaults,
/// decodes and validates. Any problem is a ``ConfigError`` naming the key path.
///
///     let loaded = try ConfigLoader(path: nil, overrides: ["run_stateDir=/tmp/s"]).load()
public struct ConfigLoader: Sendable {
    /// The file, or files separated by commas; nil for `ETCHA_CLI_CONFIGPATH`, else the nearest
    /// `etcha.jsonnet` or `etcha.json` in the working directory or above it, as Etcha looks (none is
    /// an empty configuration).
    public var path: String?
    /// `-x` assignments, applied last.
    public var overrides: [String]
    /// The environment to take `ETCHA_*` overrides from.
    public var environment: [String: String]

    /// Makes a loader; `environment` defaults to the process's.
    public init(
        path: String?, overrides: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.path = path
        self.overrides = overrides
        self.environment = environment
    }

    /// Loads, checks and decodes the configuration.
    public func load() throws(ConfigError) -> LoadedConfig {
        try load(tree: readFile())
    }

    /// Loads, checks and decodes configuration JSON given as bytes (no file, no Jsonnet), with the
    /// loader's overrides: what the fuzzer feeds.
    public func load(json data: Data) throws(ConfigError) -> LoadedConfig {
        let tree: JSON
        do {
            tree = try JSON(parsing: data)
        } catch {
            throw ConfigError("configuration: not valid JSON: \(error)")
        }
        guard tree.object != nil else { throw ConfigError("configuration: must be an object") }
        return try load(tree: tree)
    }

    private func load(tree file: JSON) throws(ConfigError) -> LoadedConfig {
        var tree = file
        try LegacyKeys.migrate(&tree, replacing: false)
        try ConfigOverrides.apply(environment: environment, to: &tree)
        for assignment in overrides {
            try ConfigOverrides.apply(assignment: assignment, to: &tree)
        }
        var warnings: [String] = []
        let complete = try Self.normalize(tree, shape: ConfigSchema.root, path: "", aliases: [:], warnings: &warnings)
        let config = try Self.decode(complete ?? .object([:]))
        let commands = try ConfigValidator.validate(config, warnings: &warnings)
        let (runTrust, trust) = try ConfigValidator.trust(config)
        return LoadedConfig(
            config: config, staticCommands: commands, trust: trust, runTrust: runTrust, warnings: warnings)
    }

    /// The files `path` (or `ETCHA_CLI_CONFIGPATH`) names, separated by commas as in Etcha, each
    /// laid over the ones before it; else the nearest default file; else an empty configuration.
    private func readFile() throws(ConfigError) -> JSON {
        let named = environment.first { $0.key.uppercased() == "ETCHA_CLI_CONFIGPATH" && !$0.value.isEmpty }?.value
        guard let list = path ?? named ?? Self.nearestDefaultFile() else { return .object([:]) }
        var tree = JSON.object([:])
        for file in list.split(separator: ",", omittingEmptySubsequences: true).map(String.init) {
            tree = tree.merging(try Self.read(file))
        }
        return tree
    }

    /// One file, read as Jsonnet whatever its extension, as Etcha reads configuration files: an
    /// `etcha.json` with trailing commas or comments (as in Etcha's examples) loads as it does there.
    /// A `.json` file that is plain JSON is parsed as such, so that libjsonnet is not loaded at
    /// startup for it (it loads at the first render).
    private static func read(_ file: String) throws(ConfigError) -> JSON {
        guard FileManager.default.isReadableFile(atPath: file), let data = FileManager.default.contents(atPath: file)
        else {
            throw ConfigError("\(file): cannot read the configuration file")
        }
        let tree: JSON
        if file.hasSuffix(".json"), let parsed = try? JSON(parsing: data) {
            tree = parsed
        } else {
            do {
                tree = try JSON(parsing: Jsonnet.evaluate(file: file, natives: NativeFunctions(config: .null)))
            } catch {
                // Jsonnet's own messages start with the file and position.
                let message = "\(error)"
                throw ConfigError(message.contains(file) ? message : "\(file): \(message)")
            }
        }
        guard tree.object != nil else { throw ConfigError("\(file): the configuration must be an object") }
        return tree
    }

    /// `etcha.jsonnet`, else `etcha.json`, in the working directory or the nearest directory above it
    /// that has one.
    static func nearestDefaultFile() -> String? {
        var directory = FileManager.default.currentDirectoryPath
        while true {
            for name in ["etcha.jsonnet", "etcha.json"] {
                let candidate = directory == "/" ? "/\(name)" : "\(directory)/\(name)"
                if FileManager.default.fileExists(atPath: candidate) {
                    return directory == FileManager.default.currentDirectoryPath ? name : candidate
                }
            }
            guard directory != "/", let slash = directory.lastIndex(of: "/") else { return nil }
            directory = slash == directory.startIndex ? "/" : String(directory[..<slash])
        }
    }

    /// Checks `tree` against `shape`: unknown keys are errors, ignored keys warnings, and absent keys
    /// get their defaults.
    static func normalize(
        _ tree: JSON?, shape: ConfigShape, path: String, aliases: [String: String], warnings: inout [String]
    ) throws(ConfigError) -> JSON? {
        let tree = tree == .null ? nil : tree
        switch shape {
        case .digits(let fallback):
            if case .number(let number)? = tree, number == number.rounded(), abs(number) < 1e15 {
                return .string(String(Int64(number)))
            }
            return tree ?? .string(fallback)
        case .value(let fallback), .free(let fallback):
            return tree ?? fallback
        case .legacy:
            // Moved to its current key by LegacyKeys before checking.
            return nil
        case .refused(let reason):
            switch tree {
            case nil, .string("")?, .bool(false)?, .array([])?, .object([:])?: return nil
            default: throw ConfigError(path, reason)
            }
        case .ignored(let reason):
            if tree != nil { warnings.append("\(path) is ignored: \(reason)") }
            return nil
        case .object(let children):
            var members = try objectMembers(tree, path: path)
            for (old, new) in aliases where members[old] != nil {
                if members[new] == nil { members[new] = members[old] }
                members[old] = nil
            }
            var result: [String: JSON] = [:]
            for key in members.keys.sorted() where children[key] == nil {
                throw ConfigError(join(path, key), "unknown key\(NearestKey.hint(for: key, among: children.keys))")
            }
            for (key, child) in children {
                let childPath = join(path, key)
                if let value = try normalize(
                    members[key], shape: child, path: childPath,
                    aliases: ConfigSchema.aliases[childPath] ?? [:], warnings: &warnings)
                {
                    result[key] = value
                }
            }
            // An absent object without defaults (a source's exec) stays absent.
            return tree == nil && result.isEmpty ? nil : .object(result)
        case .map(let element):
            var result: [String: JSON] = [:]
            for (name, value) in try objectMembers(tree, path: path) {
                result[name] =
                    try normalize(value, shape: element, path: join(path, name), aliases: [:], warnings: &warnings)
                    ?? .object([:])
            }
            return .object(result)
        }
    }

    private static func objectMembers(_ tree: JSON?, path: String) throws(ConfigError) -> [String: JSON] {
        guard let tree else { return [:] }
        guard let members = tree.object else {
            throw ConfigError(path, "expected an object, got \(tree.typeName)")
        }
        return members
    }

    private static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// Decodes the complete tree; type errors name the key path.
    static func decode(_ tree: JSON) throws(ConfigError) -> Config {
        do {
            return try JSONDecoder().decode(Config.self, from: Data(tree.text.utf8))
        } catch let error as DecodingError {
            throw describe(error, in: tree)
        } catch {
            throw ConfigError("configuration: \(error)")
        }
    }

    private static func describe(_ error: DecodingError, in tree: JSON) -> ConfigError {
        func pathText(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text = join(text, key.stringValue)
                }
            }
            return text
        }
        func value(at codingPath: [any CodingKey]) -> JSON? {
            var node: JSON? = tree
            for key in codingPath {
                if let index = key.intValue, case .array(let items)? = node {
                    node = items.indices.contains(index) ? items[index] : nil
                } else {
                    node = node?.object?[key.stringValue]
                }
            }
            return node
        }
        switch error {
        case .typeMismatch(let type, let context):
            // The type only, never the value: it may be a key or a secret.
            let got = value(at: context.codingPath).map { ", got \($0.typeName)" } ?? ""
            return ConfigError(pathText(context.codingPath), "expected \(describe(type))\(got)")
        case .dataCorrupted(let context):
            return ConfigError(pathText(context.codingPath), context.debugDescription)
        case .keyNotFound(let key, let context):
            return ConfigError(pathText(context.codingPath + [key]), "missing")
        case .valueNotFound(let type, let context):
            return ConfigError(pathText(context.codingPath), "expected \(describe(type)), got null")
        @unknown default:
            return ConfigError("configuration: \(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type: "a number"
        case is String.Type: "a string"
        case is [String].Type: "a list of strings"
        default: type is any Collection.Type ? "a list or object" : "an object"
        }
    }
}
