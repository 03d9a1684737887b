/// How commands are run: Etcha's `exec` object. Every field is optional so that an override sets
/// only what it names; ``ResolvedExec`` is the merged result a command runs with.
///
/// The chain is top-level `exec` → source `exec` → pattern `runExec` → command `exec`; each step
/// applies only when everything above it allows overrides (`allowOverride`).
public struct Exec: Sendable, Hashable, Codable {
    /// Whether a lower level may override this one (Etcha: default false, true at the top level).
    public var allowOverride: Bool?
    /// The interpreter and its arguments, split like a shell; the script is appended as one argument.
    public var command: String?
    /// Environment variables; merged key by key down the chain.
    public var env: [String: String]?
    /// Whether commands inherit the agent's environment.
    public var envInherit: Bool?
    /// Group name or GID to run as (root only).
    public var group: String?
    /// Run through `sudo -E` when the agent is not root.
    public var sudo: Bool?
    /// User name or UID to run as (root only).
    public var user: String?
    /// Working directory.
    public var workDir: String?

    /// An exec that sets nothing.
    public init() {}

    /// Makes an exec with the fields given.
    public init(
        allowOverride: Bool? = nil, command: String? = nil, env: [String: String]? = nil,
        envInherit: Bool? = nil, group: String? = nil, sudo: Bool? = nil, user: String? = nil, workDir: String? = nil
    ) {
        self.allowOverride = allowOverride
        self.command = command
        self.env = env
        self.envInherit = envInherit
        self.group = group
        self.sudo = sudo
        self.user = user
        self.workDir = workDir
    }

    /// Whether no field is set.
    public var isEmpty: Bool { self == Exec() }
}

/// A complete exec: every field known. Made from the top-level exec and narrowed with ``overridden(by:at:)``.
public struct ResolvedExec: Sendable, Hashable {
    /// Whether the next level down may override.
    public var allowOverride: Bool
    /// The interpreter command line.
    public var command: String
    /// Environment variables set for commands.
    public var env: [String: String]
    /// Whether commands inherit the agent's environment.
    public var envInherit: Bool
    /// Group name or GID, or empty.
    public var group: String
    /// Run through `sudo -E` when not root.
    public var sudo: Bool
    /// User name or UID, or empty.
    public var user: String
    /// Working directory, or empty for the agent's.
    public var workDir: String

    /// Etcha's top-level defaults: bash with `-e -o pipefail`, overrides allowed, the agent's
    /// environment inherited (as Etcha's code has it; its current docs say false).
    public static let defaults = ResolvedExec(
        allowOverride: true, command: "/usr/bin/bash -e -o pipefail -c", env: [:], envInherit: true,
        group: "", sudo: false, user: "", workDir: "")

    /// The top-level exec: the defaults with what the configuration sets.
    public init(topLevel exec: Exec) {
        self = ResolvedExec.defaults.applying(exec, allowOverride: exec.allowOverride ?? true)
    }

    init(
        allowOverride: Bool, command: String, env: [String: String], envInherit: Bool, group: String,
        sudo: Bool, user: String, workDir: String
    ) {
        self.allowOverride = allowOverride
        self.command = command
        self.env = env
        self.envInherit = envInherit
        self.group = group
        self.sudo = sudo
        self.user = user
        self.workDir = workDir
    }

    /// This exec with `child` laid over it, when this one allows overrides.
    ///
    /// An empty or absent child changes nothing. A child that sets anything where overrides are not
    /// allowed is ignored, as Etcha ignores it: this exec is returned, and `refused` gets one line
    /// naming `level`, for the caller to log as a warning.
    public func overridden(
        by child: Exec?, at level: @autoclosure () -> String, refused: (String) -> Void = { _ in }
    ) -> ResolvedExec {
        guard let child, !child.isEmpty else { return self }
        guard allowOverride else {
            refused("\(level()) is ignored: the parent exec sets allowOverride false")
            return self
        }
        // Below the top level an exec allows further overrides only when it says so (Etcha's default is false).
        return applying(child, allowOverride: child.allowOverride ?? false)
    }

    /// What `pattern`'s `run` commands start from: this exec with the pattern's `runExec` over it
    /// (``overridden(by:at:refused:)``), then its `runEnv` over `env`.
    public func running(_ pattern: Pattern, at level: @autoclosure () -> String, refused: (String) -> Void)
        -> ResolvedExec
    {
        var exec = overridden(by: pattern.runExec, at: level(), refused: refused)
        exec.env.merge(pattern.runEnv) { _, new in new }
        return exec
    }

    func applying(_ child: Exec, allowOverride: Bool) -> ResolvedExec {
        var merged = self
        merged.allowOverride = allowOverride
        if let command = child.command, !command.isEmpty { merged.command = command }
        if let env = child.env { merged.env.merge(env) { _, new in new } }
        if let envInherit = child.envInherit { merged.envInherit = envInherit }
        if let group = child.group { merged.group = group }
        if let sudo = child.sudo { merged.sudo = sudo }
        if let user = child.user { merged.user = user }
        if let workDir = child.workDir { merged.workDir = workDir }
        return merged
    }
}
