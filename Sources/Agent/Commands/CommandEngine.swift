import EtchaCore
import EtchaInstrumentation
import Foundation
import Logging

/// Runs lists of commands in change, check or remove mode
/// (docs/behaviour.md#4-patterns-and-commands).
///
/// - change: run `check` if any; run `change` when `always`, when `check` exited non-zero, or when an
///   earlier command's `onChange`/`onFail` targeted it.
/// - check: run `check` only; ids whose check exited non-zero (or that are `always`) would change.
/// - remove: walk the list backwards; run `check` if any; run `remove` when `always`, when `check`
///   exited 0, or when a later command's `onRemove` targeted it.
///
/// A `change` or `remove` that fails stops the run unless the command has `onFail` targets, which
/// then run. Every step is counted in `etcha_commands_total`.
///
///     let result = await engine.run(pattern.run, mode: .change, context: context)
public struct CommandEngine: Sendable {
    /// Where steps are counted; nil counts nothing (`etcha local`).
    public var metrics: EtchaMetrics?
    /// Where steps are logged.
    public var logger: Logger
    /// Ends every step of this engine at once (shutdown's deadline).
    public var abort: StepAbort

    /// Makes an engine.
    public init(metrics: EtchaMetrics?, logger: Logger, abort: StepAbort = StepAbort()) {
        self.metrics = metrics
        self.logger = logger
        self.abort = abort
    }

    /// Logs a warning (an exec override that was ignored).
    public func warn(_ line: String) {
        logger.warning("\(line)")
    }

    /// Everything a run needs besides its commands.
    public struct Context: Sendable {
        /// The exec the commands start from: top-level, source and pattern `runExec` merged.
        public var exec: ResolvedExec
        /// Trigger variables (`ETCHA_*`) every step sees.
        public var environment: [String: String]
        /// Whom the run is counted for.
        public var origin: RunOrigin
        /// When the run's time is up; a step still running then has its process group killed.
        public var deadline: ContinuousClock.Instant
        /// Runs only the commands whose parent chain matches (push `?filter`, `local -f`).
        public var filter: ParentFilter?

        /// Makes a context.
        public init(
            exec: ResolvedExec, environment: [String: String], origin: RunOrigin, deadline: ContinuousClock.Instant,
            filter: ParentFilter? = nil
        ) {
            self.exec = exec
            self.environment = environment
            self.origin = origin
            self.deadline = deadline
            self.filter = filter
        }
    }

    /// Runs `commands` in `mode`.
    public func run(_ commands: [Command], mode: CommandMode, context: Context) async -> RunResult {
        var state = RunState(context: context)
        _ = await runList(
            commands, parentID: "", chain: context.origin.source, forced: false, mode: mode, state: &state)
        return state.result
    }

    /// The agent's environment without its `ETCHA_*` variables, which may carry configuration
    /// secrets (`ETCHA_BUILD_SIGNINGKEY`, `ETCHA_RUN_SYSTEMMETRICSKEY`); steps get their own
    /// `ETCHA_*` variables from the trigger.
    static func inheritableEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCHA_") }
    }

    /// What accumulates while a run goes on.
    struct RunState {
        var context: Context
        var result = RunResult()
        /// Variables left by earlier commands (`<prefix>_CHECK` …).
        var variables: [String: String] = [:]
        /// What the running command will leave as `_CHECK`, `_CHECK_OUT`, … once it is done.
        var pending: [String: String] = [:]
        /// The agent's environment, read only when a step inherits it.
        lazy var inherited: [String: String] = CommandEngine.inheritableEnvironment()

        init(context: Context) {
            self.context = context
        }

        /// Records a variable of `command`: prefixed ones are visible at once (a change may read its own
        /// check's output), unprefixed ones describe the previous command and appear when it is done.
        mutating func set(_ suffix: String, of command: Command, to value: String) {
            if command.envPrefix.isEmpty {
                pending[suffix] = value
            } else {
                variables[command.envPrefix + suffix] = value
            }
        }

        static let suffixes = ["_CHECK", "_CHECK_OUT", "_CHANGE", "_CHANGE_OUT", "_REMOVE", "_REMOVE_OUT"]

        /// Ends a command: its unprefixed variables (none for a prefixed command) replace the previous command's.
        mutating func finish() {
            for suffix in Self.suffixes { variables[suffix] = pending[suffix] }
            pending = [:]
        }
    }

    /// Runs one list; returns false when the run must stop. `chain` is what a filter matches: the
    /// source, then ` > GROUP` for each group on the way down, as Etcha names parents.
    private func runList(
        _ list: [Command], parentID: String, chain: String, forced: Bool, mode: CommandMode, state: inout RunState
    ) async -> Bool {
        let filteredOut = state.context.filter.map { !$0.matches(chain) } ?? false
        var triggered = Set<Int>()
        let order = mode == .remove ? Array(list.indices.reversed()) : Array(list.indices)
        for index in order {
            let command = list[index]
            let isTriggered = forced || triggered.contains(index)
            if let group = command.commands {
                guard
                    await runList(
                        group, parentID: command.id, chain: chain + " > " + command.id, forced: isTriggered,
                        mode: mode, state: &state)
                else { return false }
                continue
            }
            if filteredOut { continue }
            let outcome = await run(command, parentID: parentID, triggered: isTriggered, mode: mode, state: &state)
            state.finish()
            for entry in outcome.targets {
                if let event = CommandTargets.event(entry) {
                    state.result.events.append(FiredEvent(name: event, commandID: command.id, output: outcome.output))
                } else if let targets = try? CommandTargets.indices(
                    for: entry, of: index, in: list, side: mode == .remove ? .before : .after, key: command.id)
                {
                    triggered.formUnion(targets)
                }
            }
            if !outcome.proceed { return false }
        }
        return true
    }

    /// What running one command led to.
    private struct Outcome {
        /// `on*` entries to act on.
        var targets: [String] = []
        /// The output handed to fired events.
        var output = ""
        /// Whether the run goes on.
        var proceed = true
    }

    private func run(
        _ command: Command, parentID: String, triggered: Bool, mode: CommandMode, state: inout RunState
    ) async -> Outcome {
        let logger = StepLogger(logger: logger, command: command.id, mode: mode)
        let exec = state.context.exec.overridden(by: command.exec, at: "command \(command.id): exec", refused: warn)
        let prefix = command.envPrefix
        var checkFailed = false
        var checkOutput = ""
        if !command.check.isEmpty {
            let check = await step(command.check, of: command, exec: exec, state: &state)
            count(command, parentID: parentID, mode: .check, failed: !check.succeeded, state: state)
            if let failure = check.failure {
                return fail(command, "check: \(failure)", output: check.output, logger: logger, state: &state)
            }
            checkFailed = check.status != 0
            checkOutput = check.output.trimmingWhiteSpace()
            if !prefix.isEmpty { state.variables[prefix] = checkOutput }
            state.set("_CHECK_OUT", of: command, to: checkOutput)
        }
        state.set("_CHECK", of: command, to: checkFailed ? "1" : "0")

        switch mode {
        case .check:
            guard checkFailed || command.always else { return Outcome() }
            logger.info("would change")
            state.result.changedIDs.append(command.id)
            state.result.changedOutputs.append(checkOutput)
            // What it targets would change too; events fire only for real changes.
            return Outcome(targets: command.onChange.filter { CommandTargets.event($0) == nil })
        case .change:
            guard command.always || checkFailed || triggered, !command.change.isEmpty else { return Outcome() }
            return await act(
                command, script: command.change, mode: .change, parentID: parentID, exec: exec,
                logger: logger, state: &state)
        case .remove:
            let removable = command.always || (!command.check.isEmpty && !checkFailed) || triggered
            guard removable, !command.remove.isEmpty else { return Outcome() }
            return await act(
                command, script: command.remove, mode: .remove, parentID: parentID, exec: exec,
                logger: logger, state: &state)
        }
    }

    /// Runs a `change` or `remove` step and records what it did.
    private func act(
        _ command: Command, script: String, mode: CommandMode, parentID: String, exec: ResolvedExec,
        logger: StepLogger, state: inout RunState
    ) async -> Outcome {
        let result = await step(script, of: command, exec: exec, state: &state)
        count(command, parentID: parentID, mode: mode, failed: !result.succeeded, state: state)
        let name = mode == .change ? "CHANGE" : "REMOVE"
        state.set("_\(name)", of: command, to: result.succeeded ? "0" : "1")
        let output = result.output.trimmingWhiteSpace()
        state.set("_\(name)_OUT", of: command, to: output)
        guard result.succeeded else {
            let reason = result.failure ?? "exited \(result.status ?? -1)"
            var outcome = fail(
                command, "\(mode == .change ? "change" : "remove"): \(reason)", output: result.output,
                logger: logger, state: &state)
            outcome.targets = command.onFail
            outcome.proceed = !command.onFail.isEmpty && ContinuousClock.now < state.context.deadline
            return outcome
        }
        if mode == .change {
            logger.info("changed")
            state.result.changedIDs.append(command.id)
            state.result.changedOutputs.append(output)
            return Outcome(targets: command.onChange, output: result.output)
        }
        logger.info("removed")
        state.result.removedIDs.append(command.id)
        state.result.removedOutputs.append(output)
        return Outcome(targets: command.onRemove, output: result.output)
    }

    private func fail(
        _ command: Command, _ reason: String, output: String = "", logger: StepLogger, state: inout RunState
    ) -> Outcome {
        logger.error("failed", error: reason)
        state.result.errors.append("\(command.id): \(reason)")
        return Outcome(output: output, proceed: false)
    }

    private func step(_ script: String, of command: Command, exec: ResolvedExec, state: inout RunState) async
        -> StepResult
    {
        guard ContinuousClock.now < state.context.deadline else {
            state.result.timedOut = true
            return StepResult(status: nil, output: "", failure: "timed out before it started")
        }
        var environment = exec.envInherit ? state.inherited : [:]
        environment.merge(exec.env) { _, new in new }
        environment.merge(state.context.environment) { _, new in new }
        environment.merge(state.variables) { _, new in new }
        let result = await StepRunner.run(
            script, exec: exec, environment: environment, stdin: command.stdin, deadline: state.context.deadline,
            abort: abort)
        if result.failure == StepResult.timedOut { state.result.timedOut = true }
        return result
    }

    private func count(_ command: Command, parentID: String, mode: CommandMode, failed: Bool, state: RunState) {
        metrics?.commandRan(
            id: command.id, parentID: parentID, mode: mode, failed: failed, origin: state.context.origin)
    }
}

/// Logs one step's outcome with the command's id and mode; the metadata is built only for a line
/// that the log level lets through.
private struct StepLogger {
    let logger: Logger
    let command: String
    let mode: CommandMode

    func info(_ message: Logger.Message) {
        logger.info(message, metadata: metadata())
    }

    func error(_ message: Logger.Message, error: String) {
        logger.error(message, metadata: metadata().merging(["error": "\(error)"]) { _, new in new })
    }

    private func metadata() -> Logger.Metadata {
        ["commandID": .string(command), "commandMode": .string(mode.rawValue)]
    }
}
