/// What replacing one command list by another must undo first
/// (docs/behaviour.md#4-patterns-and-commands, diff): commands of the old list that are gone, and
/// commands whose `change` text changed unless the new one has `changeIgnore`. Commands are matched
/// by id, groups flattened.
public struct PatternDiff: Sendable, Equatable {
    /// Old commands to run in remove mode before the new list runs.
    public var removeBefore: [Command] = []
    /// Old commands to run in remove mode after the new list, because the new command has `removeAfter`.
    public var removeAfter: [Command] = []

    /// The diff from `old` to `new`.
    public init(from old: [Command], to new: [Command]) {
        let current = Dictionary(PatternDiff.leaves(new).map { ($0.id, $0) }) { first, _ in first }
        for command in PatternDiff.leaves(old) {
            guard let replacement = current[command.id] else {
                removeBefore.append(command)
                continue
            }
            guard replacement.change != command.change, !replacement.changeIgnore else { continue }
            if replacement.removeAfter {
                removeAfter.append(command)
            } else {
                removeBefore.append(command)
            }
        }
    }

    /// Whether nothing needs undoing.
    public var isEmpty: Bool { removeBefore.isEmpty && removeAfter.isEmpty }

    private static func leaves(_ list: [Command]) -> [Command] {
        list.flatMap { $0.commands.map(leaves) ?? [$0] }
    }
}

/// What replacing one command list by another did.
public struct Replacement: Sendable, Equatable {
    /// Everything the removals and the new list did.
    public var result = RunResult()
    /// Whether every removal the diff asked for ran and succeeded. Only then may the new pattern be
    /// held in place of the old: otherwise the old commands still to undo would be forgotten.
    public var removalsDone = true
}

extension CommandEngine {
    /// Replaces `old` by `new`: the diff's removals (each command's `remove` runs; its check still
    /// decides unless `always`), then, when they succeeded, `new` in change mode, then the removals
    /// that come after.
    public func apply(_ new: [Command], replacing old: [Command], context: Context) async -> Replacement {
        let diff = PatternDiff(from: old, to: new)
        var replacement = Replacement()
        if !diff.removeBefore.isEmpty {
            replacement.result.append(await run(diff.removeBefore, mode: .remove, context: context))
            if replacement.result.failed {
                replacement.removalsDone = false
                return replacement
            }
        }
        replacement.result.append(await run(new, mode: .change, context: context))
        if !diff.removeAfter.isEmpty {
            if replacement.result.failed {
                replacement.removalsDone = false
                return replacement
            }
            let after = await run(diff.removeAfter, mode: .remove, context: context)
            replacement.result.append(after)
            replacement.removalsDone = !after.failed
        }
        return replacement
    }
}
