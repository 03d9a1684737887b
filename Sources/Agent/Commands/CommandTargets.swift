/// Resolves `onChange`/`onFail`/`onRemove` entries: `etcha:NAME` events, command ids, and regexes
/// over ids, within one list of commands (a group's targets stay inside the group).
///
/// An entry that is the id of a command in the list targets every command with that id; any other
/// entry is a regular expression that must match a whole id. `onChange` and `onFail` targets must
/// come after the command and `onRemove` targets before it (removal runs the list backwards); a
/// command cannot target itself. Breaking a rule is an error when the pattern is loaded, never a
/// silent skip at run time.
enum CommandTargets {
    /// Which side of the command its targets must be on.
    enum Side {
        case after
        case before
    }

    /// The event an entry fires, or nil when it targets commands.
    static func event(_ entry: String) -> String? {
        entry.hasPrefix("etcha:") ? String(entry.dropFirst("etcha:".count)) : nil
    }

    /// Checks every target of every command in `list`, and in nested groups.
    static func validate(_ list: [Command], path: String) throws(CommandError) {
        for (index, command) in list.enumerated() {
            let here = "\(path)[\(index)] (\(command.id))"
            if let group = command.commands {
                try validate(group, path: "\(here).commands")
                continue
            }
            for (name, entries, side) in [
                ("onChange", command.onChange, Side.after), ("onFail", command.onFail, .after),
                ("onRemove", command.onRemove, .before),
            ] {
                for entry in entries {
                    if let event = event(entry) {
                        guard !event.isEmpty else {
                            throw CommandError(.invalid, "\(here).\(name): \"etcha:\" needs an event name")
                        }
                        continue
                    }
                    _ = try indices(for: entry, of: index, in: list, side: side, key: "\(here).\(name)")
                }
            }
        }
    }

    /// The indices in `list` that `entry` of the command at `index` targets.
    static func indices(
        for entry: String, of index: Int, in list: [Command], side: Side, key: String
    ) throws(CommandError) -> [Int] {
        let candidates = side == .after ? Array(list.indices.dropFirst(index + 1)) : Array(list.indices.prefix(index))
        let exact = candidates.filter { list[$0].id == entry }
        if !exact.isEmpty { return exact }
        let where_ = side == .after ? "after" : "before"
        if list.indices.contains(where: { $0 != index && list[$0].id == entry }) {
            throw CommandError(.invalid, "\(key): target \"\(entry)\" must come \(where_) the command in the same list")
        }
        if entry == list[index].id {
            throw CommandError(.invalid, "\(key): a command cannot target itself")
        }
        let regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex(entry)
        } catch {
            throw CommandError(.invalid, "\(key): \"\(entry)\" is neither an id in this list nor a valid regex")
        }
        let matches = candidates.filter { list[$0].id.wholeMatch(of: regex) != nil }
        guard !matches.isEmpty else {
            throw CommandError(.invalid, "\(key): \"\(entry)\" matches no command \(where_) it in the same list")
        }
        return matches
    }
}
