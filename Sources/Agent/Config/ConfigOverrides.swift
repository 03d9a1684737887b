import EtchaJSON

/// Applies `-x KEY=VALUE` and `ETCHA_<PATH>` overrides to a configuration tree.
///
/// KEY is an underscore path (`run_systemMetricsKey`, `sources_web_allowPush`) matched against the
/// schema without regard to case, so `ETCHA_RUN_SYSTEMMETRICSKEY` finds `run.systemMetricsKey`.
/// VALUE is JSON when it parses as JSON, else a string — except that a key holding a string takes
/// any VALUE that is not a JSON string as written (`-x run_systemMetricsKey=123456` is "123456").
struct ConfigOverrides {
    /// Lays `KEY=VALUE` onto `tree`; an assignment without `=` or with an unknown path is an error.
    static func apply(assignment: String, to tree: inout JSON) throws(ConfigError) {
        guard let equals = assignment.firstIndex(of: "=") else {
            throw ConfigError("-x \(assignment): expected KEY=VALUE")
        }
        let key = String(assignment[..<equals])
        let value = String(assignment[assignment.index(after: equals)...])
        guard let path = resolve(key, in: tree) else {
            throw ConfigError("-x \(key): no such configuration key")
        }
        set(parse(value, for: path), at: path[...], in: &tree)
        try LegacyKeys.migrate(&tree, replacing: true)
    }

    /// Lays every `ETCHA_*` variable that names a configuration key onto `tree`. Variables that name
    /// none (such as the `ETCHA_SOURCE_NAME` a command sees) are not configuration and are skipped.
    static func apply(environment: [String: String], to tree: inout JSON) throws(ConfigError) {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("ETCHA_") {
            let key = String(name.dropFirst("ETCHA_".count))
            if let path = resolve(key, in: tree) {
                set(parse(value, for: path), at: path[...], in: &tree)
                try LegacyKeys.migrate(&tree, replacing: true)
            }
        }
    }

    /// `value` as the key at `path` takes it: as written for a string key, else JSON when it parses.
    static func parse(_ value: String, for path: [String]) -> JSON {
        let parsed = try? JSON(parsing: value)
        if takesString(path), parsed?.string == nil { return .string(value) }
        return parsed ?? .string(value)
    }

    /// Whether the key at `path` holds a string: its default is one (an exec key below the top level
    /// has no default, so the top-level exec's says).
    private static func takesString(_ path: [String]) -> Bool {
        var shape = ConfigSchema.root
        for key in path {
            switch shape {
            case .object(let children): shape = children[key] ?? .free(nil)
            case .map(let element): shape = element
            case .legacy(.map(let element)): shape = element
            default: return false
            }
        }
        if case .legacy(let inner) = shape { shape = inner }
        if case .digits = shape { return true }
        guard case .value(let fallback) = shape else { return false }
        if case .string? = fallback { return true }
        if fallback == nil, case .object(let exec) = ConfigSchema.topExecShape, let name = path.last,
            case .value(.string?)? = exec[name]
        {
            return true
        }
        return false
    }

    /// The key path an underscore path names, spelled as the schema and the tree spell it.
    static func resolve(_ key: String, in tree: JSON) -> [String]? {
        let segments = key.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        guard !segments.contains(where: \.isEmpty) else { return nil }
        return resolve(segments[...], shape: ConfigSchema.root, tree: tree, aliases: [:])
    }

    private static func resolve(
        _ segments: ArraySlice<String>, shape: ConfigShape, tree: JSON?, aliases: [String: String]
    ) -> [String]? {
        guard let first = segments.first else { return [] }
        switch shape {
        case .value, .digits, .ignored, .refused:
            return nil
        case .legacy(let shape):
            return resolve(segments, shape: shape, tree: tree, aliases: aliases)
        case .free:
            // Inside vars or env: the rest is taken as written, matching existing keys first.
            let key = existingKey(first, in: tree) ?? first
            guard let rest = resolve(segments.dropFirst(), shape: .free(nil), tree: tree?.object?[key], aliases: [:])
            else { return nil }
            return [key] + rest
        case .object(let children):
            let name =
                children.keys.first { $0.lowercased() == first.lowercased() }
                ?? aliases.first { $0.key.lowercased() == first.lowercased() }?.value
            guard let name, let child = children[name],
                let rest = resolve(
                    segments.dropFirst(), shape: child, tree: tree?.object?[name],
                    aliases: ConfigSchema.aliases[name] ?? [:])
            else { return nil }
            return [name] + rest
        case .map(let element):
            // A name may itself hold underscores: prefer the longest run of segments naming an existing entry.
            for count in stride(from: segments.count, through: 1, by: -1) {
                let candidate = segments.prefix(count).joined(separator: "_")
                if let key = existingKey(candidate, in: tree),
                    let rest = resolve(
                        segments.dropFirst(count), shape: element, tree: tree?.object?[key], aliases: [:])
                {
                    return [key] + rest
                }
            }
            guard let rest = resolve(segments.dropFirst(), shape: element, tree: nil, aliases: [:]) else { return nil }
            return [first] + rest
        }
    }

    private static func existingKey(_ name: String, in tree: JSON?) -> String? {
        guard let members = tree?.object else { return nil }
        if members[name] != nil { return name }
        return members.keys.first { $0.lowercased() == name.lowercased() }
    }

    static func set(_ value: JSON, at path: ArraySlice<String>, in tree: inout JSON) {
        guard let key = path.first else {
            tree = value
            return
        }
        var members = tree.object ?? [:]
        var child = members[key] ?? .object([:])
        set(value, at: path.dropFirst(), in: &child)
        members[key] = child
        tree = .object(members)
    }
}
