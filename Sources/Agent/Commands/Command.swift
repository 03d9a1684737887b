import EtchaJSON
import Foundation

/// One command of a pattern (docs/behaviour.md#4-patterns-and-commands), or a group of commands
/// when ``commands`` is set.
public struct Command: Sendable, Hashable {
    /// Required; ids may repeat.
    public var id: String
    /// Run `change` (or `remove`) whatever `check` says.
    public var always = false
    /// Script run in change mode.
    public var change = ""
    /// A change of `change` text does not cause a remove-and-change cycle.
    public var changeIgnore = false
    /// Script that decides: non-zero means "needs change", zero means "can be removed".
    public var check = ""
    /// Names the environment variables this command leaves for later ones.
    public var envPrefix = ""
    /// This command's exec override.
    public var exec: Exec?
    /// Targets (ids, regexes, `etcha:EVENT`) triggered when `change` succeeds.
    public var onChange: [String] = []
    /// Targets triggered when `change` or `remove` fails.
    public var onFail: [String] = []
    /// Targets triggered when `remove` succeeds.
    public var onRemove: [String] = []
    /// Script run in remove mode.
    public var remove = ""
    /// In a remove-and-change cycle, remove after the change instead of before.
    public var removeAfter = false
    /// Standard input for every step.
    public var stdin = ""
    /// The commands of a group; other fields but `id` are then ignored.
    public var commands: [Command]?

    /// Makes a command; tests and built-in patterns use it, patterns arrive through ``list(from:path:)``.
    public init(id: String) {
        self.id = id
    }

    static let keys: Set<String> = [
        "always", "change", "changeIgnore", "check", "commands", "envPrefix", "exec", "id", "onChange", "onFail",
        "onRemove", "remove", "removeAfter", "stdin",
    ]

    /// Parses a list of commands, flattening nested lists in order and skipping nulls (what a Jsonnet
    /// `if` without `else` leaves). Unknown keys and wrong types are errors naming the path.
    public static func list(from json: JSON, path: String) throws(CommandError) -> [Command] {
        var result: [Command] = []
        for (item, itemPath) in flattened(json, path: path) {
            guard case .object(let members) = item else {
                throw CommandError(.invalid, "\(itemPath): expected a command object or a list, got \(item.typeName)")
            }
            result.append(try Command(members, path: itemPath))
        }
        return result
    }

    /// A command list's items in run order, nested lists flattened and nulls dropped, each with
    /// its path (`run[1][0]`); `etcha render` prints lists this way, as Etcha does.
    public static func flattened(_ json: JSON, path: String) -> [(item: JSON, path: String)] {
        switch json {
        case .null: []
        case .array(let items):
            items.enumerated().flatMap { index, item in flattened(item, path: "\(path)[\(index)]") }
        default: [(json, path)]
        }
    }

    private init(_ members: [String: JSON], path: String) throws(CommandError) {
        for key in members.keys.sorted() where !Command.keys.contains(key) {
            throw CommandError(
                .invalid, "\(path).\(key): unknown command key\(NearestKey.hint(for: key, among: Command.keys))")
        }
        var path = path
        func string(_ key: String) throws(CommandError) -> String {
            switch members[key] {
            case nil, .null?: return ""
            case .string(let value)?: return value
            case let other?: throw CommandError(.invalid, "\(path).\(key): expected a string, got \(other.typeName)")
            }
        }
        func bool(_ key: String) throws(CommandError) -> Bool {
            switch members[key] {
            case nil, .null?: return false
            case .bool(let value)?: return value
            case let other?: throw CommandError(.invalid, "\(path).\(key): expected a boolean, got \(other.typeName)")
            }
        }
        func strings(_ key: String) throws(CommandError) -> [String] {
            switch members[key] {
            case nil, .null?: return []
            case .string(let value)?: return [value]
            case .array(let items)?:
                var values: [String] = []
                for (index, item) in items.enumerated() {
                    guard let value = item.string else {
                        throw CommandError(
                            .invalid, "\(path).\(key)[\(index)]: expected a string, got \(item.typeName)")
                    }
                    values.append(value)
                }
                return values
            case let other?:
                throw CommandError(.invalid, "\(path).\(key): expected a list of strings, got \(other.typeName)")
            }
        }
        id = try string("id")
        guard !id.isEmpty else { throw CommandError(.invalid, "\(path).id: every command needs an id") }
        path = "\(path) (\(id))"
        if let group = members["commands"], group != .null {
            commands = try Command.list(from: group, path: "\(path).commands")
            return
        }
        always = try bool("always")
        change = try string("change")
        changeIgnore = try bool("changeIgnore")
        check = try string("check")
        envPrefix = try string("envPrefix")
        if !envPrefix.isEmpty, envPrefix.wholeMatch(of: /[A-Za-z_][A-Za-z0-9_]*/) == nil {
            throw CommandError(.invalid, "\(path).envPrefix: \"\(envPrefix)\" is not a valid environment variable name")
        }
        exec = try Exec.parse(members["exec"], path: "\(path).exec")
        onChange = try strings("onChange")
        onFail = try strings("onFail")
        onRemove = try strings("onRemove")
        remove = try string("remove")
        removeAfter = try bool("removeAfter")
        stdin = try string("stdin")
    }
}

extension Exec {
    /// Parses an exec object from a pattern (`runExec`, a command's `exec`); unknown keys are errors.
    static func parse(_ json: JSON?, path: String) throws(CommandError) -> Exec? {
        guard let json, json != .null else { return nil }
        var warnings: [String] = []
        do {
            let normalized = try ConfigLoader.normalize(
                json, shape: ConfigSchema.execShape, path: path, aliases: [:], warnings: &warnings)
            return try JSONDecoder().decode(Exec.self, from: Data((normalized ?? .object([:])).text.utf8))
        } catch let error as ConfigError {
            throw CommandError(.invalid, error.description)
        } catch {
            throw CommandError(.invalid, "\(path): expected an exec object with keys of the right types")
        }
    }
}
