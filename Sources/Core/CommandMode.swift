/// The mode a command ran in, as the `mode` label of `etcha_commands_total` and
/// `etcha_sources_commands` spells it.
///
/// Etcha itself emits `change`, `check` and `remove` (its monitoring page writes `changed`,
/// but its real output and its tutorials use `change`): alert rules written for Etcha keep working.
public enum CommandMode: String, Sendable, CaseIterable {
    case change
    case check
    case remove
}
