import EtchaJSON

/// Moves the keys of Etcha's April 2024 layout (v2024.04) to where the current layout keeps them,
/// so that a configuration written for either starts unchanged
/// (docs/configuration.md#etchas-april-2024-keys).
///
/// It runs on the file's tree, and again after each `-x` and `ETCHA_*` override, which may name a
/// 2024 key or hold one inside an object value.
enum LegacyKeys {
    /// 2024 key path → current key path, for the keys that only moved.
    static let moves: [([String], [String])] = [
        (["run", "listenAddress"], ["httpServer", "listenAddress"]),
        (["run", "rateLimiterRate"], ["httpServer", "rateLimitRate"]),
        (["run", "tlsCertificateBase64"], ["httpServer", "tlsCertificateBase64"]),
        (["run", "tlsCertificatePath"], ["httpServer", "tlsCertificatePath"]),
        (["run", "tlsKeyBase64"], ["httpServer", "tlsKeyBase64"]),
        (["run", "tlsKeyPath"], ["httpServer", "tlsKeyPath"]),
    ]

    /// Moves every 2024 key in `tree`. When the current key is set too, `replacing` decides: an
    /// override replaces it (it came later), while both in one file is an error naming both.
    static func migrate(_ tree: inout JSON, replacing: Bool) throws(ConfigError) {
        for (old, new) in moves {
            try move(old, to: new, in: &tree, replacing: replacing) { value in value }
        }
        for name in (tree.object?["sources"]?.object ?? [:]).keys.sorted() {
            try move(
                ["sources", name, "runFrequencySec"], to: ["sources", name, "runFrequency"], in: &tree,
                replacing: replacing
            ) { value throws(ConfigError) in
                guard case .number(let seconds) = value, seconds >= 0, seconds == seconds.rounded(), seconds < 1e12
                else {
                    throw ConfigError("sources.\(name).runFrequencySec", "expected a whole number of seconds")
                }
                return .string(seconds == 0 ? "" : "\(Int(seconds))s")
            }
        }
        try movePushTargets(&tree, replacing: replacing)
    }

    /// `build.pushTargets.NAME` becomes `targets.NAME`, its `path` becoming `pathPush`.
    private static func movePushTargets(_ tree: inout JSON, replacing: Bool) throws(ConfigError) {
        guard let pushTargets = value(at: ["build", "pushTargets"], in: tree), pushTargets != .null else { return }
        guard let entries = pushTargets.object else {
            throw ConfigError("build.pushTargets", "expected an object, got \(pushTargets.typeName)")
        }
        guard case .object(let known) = ConfigSchema.pushTarget2024 else { return }
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
            let path = "build.pushTargets.\(name)"
            guard var members = entry.object else {
                throw ConfigError(path, "expected an object, got \(entry.typeName)")
            }
            for key in members.keys.sorted() where known[key] == nil {
                throw ConfigError("\(path).\(key)", "unknown key\(NearestKey.hint(for: key, among: known.keys))")
            }
            if let prefix = members.removeValue(forKey: "path") { members["pathPush"] = prefix }
            if let current = value(at: ["targets", name], in: tree), current != .null {
                guard replacing else { throw ConfigError(path, "also set as targets.\(name); keep one") }
                members = (current.object ?? [:]).merging(members) { _, new in new }
            }
            ConfigOverrides.set(.object(members), at: ["targets", name], in: &tree)
        }
        remove(["build", "pushTargets"], from: &tree)
    }

    private static func move(
        _ old: [String], to new: [String], in tree: inout JSON, replacing: Bool,
        transform: (JSON) throws(ConfigError) -> JSON
    ) throws(ConfigError) {
        guard let found = value(at: old, in: tree) else { return }
        remove(old, from: &tree)
        guard found != .null else { return }
        if !replacing, let current = value(at: new, in: tree), current != .null {
            throw ConfigError(
                old.joined(separator: "."), "also set as \(new.joined(separator: ".")); keep one")
        }
        ConfigOverrides.set(try transform(found), at: new[...], in: &tree)
    }

    private static func value(at path: [String], in tree: JSON) -> JSON? {
        var node: JSON? = tree
        for key in path { node = node?.object?[key] }
        return node
    }

    private static func remove(_ path: [String], from tree: inout JSON) {
        guard let key = path.first, var members = tree.object, members[key] != nil else { return }
        if path.count == 1 {
            members[key] = nil
        } else if var child = members[key] {
            remove(Array(path.dropFirst()), from: &child)
            members[key] = child
        }
        tree = .object(members)
    }
}
