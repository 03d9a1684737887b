import EtchaCore
import Foundation
import NIOConcurrencyHelpers
import Prometheus
import Synchronization

/// Every metric the agent exposes, behind a typed API so that no other module spells a metric
/// name or a label.
///
/// The four `etcha_*` families of Etcha keep their names, types and labels exactly; the
/// families marked beyond Etcha exist so that alert rules need no guesswork.
///
///     let metrics = EtchaMetrics(version: "1.0.0")
///     metrics.commandRan(id: "write file", parentID: "", mode: .change, failed: false, origin: origin)
///     let body = metrics.exposition()
public final class EtchaMetrics: Sendable {
    /// The registry the families live in; one per agent (tests make their own).
    public let registry: PrometheusCollectorRegistry
    private let process: ProcessCollector
    /// Bumped by every update, so a scrape re-renders the registry only after something changed.
    private let generation = Atomic<Int>(0)
    private let rendered = NIOLockedValueBox<(generation: Int, bytes: [UInt8])>((-1, []))
    /// Handles of the series updated so far, made once by the registry (which validates the name, the
    /// help text and every label on each make call: more than the update itself costs). A run's
    /// handles are found with one lookup of its own values (docs/decisions.md, "Metric handles
    /// cached per series").
    private let commandSeries = HandleCache<CommandKey, Counter>()
    private let runSeries = HandleCache<RunKey, RunSeries>()
    private let gauges = HandleCache<[String], Gauge>()

    /// What a command step is counted by.
    private struct CommandKey: Hashable, Sendable {
        var id: String
        var parentID: String
        var mode: CommandMode
        var failed: Bool
        var origin: RunOrigin
    }

    /// What a source run is recorded by.
    private struct RunKey: Hashable, Sendable {
        var origin: RunOrigin
        var failed: Bool
    }

    /// The series one source run updates.
    private struct RunSeries: Sendable {
        var runs: Counter
        var changed: Gauge
        var removed: Gauge
        var lastRun: Gauge
        var duration: DurationHistogram
    }

    /// Registers every family in `registry` and sets `etcha_build_info{version}` to 1.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), version: String) {
        self.registry = registry
        self.process = ProcessCollector()
        registry.makeGauge(descriptor: Family.buildInfo, labels: [("version", version)]).set(to: 1)
    }

    /// Counts one command step in `etcha_commands_total`.
    ///
    /// - Parameters:
    ///   - id: the command's id.
    ///   - parentID: the id of the group the command is nested in, or empty at the top.
    ///   - mode: the step that ran: `change` for a change step, `check` for a check, `remove` for a remove.
    ///   - failed: whether the step exited non-zero (a `change` or `remove`) or could not run.
    ///   - origin: the source run it belongs to.
    public func commandRan(id: String, parentID: String, mode: CommandMode, failed: Bool, origin: RunOrigin) {
        defer { bumpGeneration() }
        let key = CommandKey(id: id, parentID: parentID, mode: mode, failed: failed, origin: origin)
        commandSeries.handle(key) {
            registry.makeCounter(
                descriptor: Family.commands,
                labels: [
                    ("error", failed ? "1" : "0"), ("id", id), ("mode", mode.rawValue), ("parent_id", parentID),
                    ("public_key", origin.publicKey), ("remote_addr", origin.remoteAddr), ("source", origin.source),
                ])
        }.increment()
    }

    /// Records one finished source run: `etcha_sources_total`, the `etcha_sources_commands` gauges for
    /// the run's changed and removed counts, the last-run timestamp and the duration histogram.
    public func sourceRan(
        origin: RunOrigin, failed: Bool, changed: Int, removed: Int, duration: Duration, finishedAt: Date = Date()
    ) {
        defer { bumpGeneration() }
        let series = runSeries.handle(RunKey(origin: origin, failed: failed)) { makeRunSeries(origin, failed: failed) }
        series.runs.increment()
        series.changed.set(to: Double(changed))
        series.removed.set(to: Double(removed))
        series.lastRun.set(to: finishedAt.timeIntervalSince1970)
        series.duration.record(duration)
    }

    private func makeRunSeries(_ origin: RunOrigin, failed: Bool) -> RunSeries {
        let error = failed ? "1" : "0"
        func commands(_ mode: CommandMode) -> Gauge {
            registry.makeGauge(
                descriptor: Family.sourceCommands,
                labels: [
                    ("mode", mode.rawValue), ("name", origin.source), ("public_key", origin.publicKey),
                    ("remote_addr", origin.remoteAddr), ("trigger", origin.trigger.rawValue),
                ])
        }
        return RunSeries(
            runs: registry.makeCounter(
                descriptor: Family.sources,
                labels: [
                    ("error", error), ("name", origin.source), ("public_key", origin.publicKey),
                    ("remote_addr", origin.remoteAddr), ("trigger", origin.trigger.rawValue),
                ]),
            changed: commands(.change), removed: commands(.remove),
            lastRun: registry.makeGauge(
                descriptor: Family.lastRun, labels: [("error", error), ("name", origin.source)]),
            duration: registry.makeDurationHistogram(
                descriptor: Family.runDuration,
                labels: [("name", origin.source), ("trigger", origin.trigger.rawValue)],
                buckets: Family.durationBuckets))
    }

    /// Sets `etcha_sources_shells` for one shell session: 1 while open, 0 once closed.
    public func shell(source: String, publicKey: String, remoteAddr: String, open: Bool) {
        defer { bumpGeneration() }
        gauge(Family.shells, [("name", source), ("public_key", publicKey), ("remote_addr", remoteAddr)])
            .set(to: open ? 1 : 0)
    }

    /// Sets `etcha_source_jwt_expiry_timestamp_seconds` for a source's held JWT; a token without
    /// `exp` reads 0.
    public func jwtExpiry(source: String, expiresAt: Date?) {
        defer { bumpGeneration() }
        gauge(Family.jwtExpiry, [("name", source)]).set(to: expiresAt?.timeIntervalSince1970 ?? 0)
    }

    /// The whole exposition in Prometheus text format 0.0.4: the registry (rendered again only when
    /// something changed since the last scrape), then the process metrics (read at most
    /// ``ProcessCollector/maximumAge`` earlier).
    public func exposition() -> [UInt8] {
        let current = generation.load(ordering: .acquiring)
        var buffer = rendered.withLockedValue { cache in
            if cache.generation != current {
                cache = (current, registry.emitToBuffer())
            }
            return cache.bytes
        }
        process.emit(into: &buffer)
        return buffer
    }

    private func bumpGeneration() {
        generation.add(1, ordering: .releasing)
    }

    private func gauge(_ family: MetricNameDescriptor, _ labels: [(String, String)]) -> Gauge {
        gauges.handle([family.metricName] + labels.map(\.1)) { registry.makeGauge(descriptor: family, labels: labels) }
    }
}

/// Handles by a key. Series are never removed from the registry, so neither are they from here.
private final class HandleCache<Key: Hashable & Sendable, Handles: Sendable>: Sendable {
    private let handles = NIOLockedValueBox<[Key: Handles]>([:])

    func handle(_ key: Key, make: () -> Handles) -> Handles {
        if let known = handles.withLockedValue({ $0[key] }) { return known }
        let made = make()
        handles.withLockedValue { $0[key] = made }
        return made
    }
}

/// The descriptors of every family: names, types and help texts in one place.
enum Family {
    static var commands: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_commands", unitName: "total", helpText: "Commands that have run.")
    }
    static var sources: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_sources", unitName: "total", helpText: "Source runs.")
    }
    static var sourceCommands: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_sources_commands", unitName: "",
            helpText: "Commands changed or removed by the source's last run.")
    }
    static var shells: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_sources_shells", unitName: "", helpText: "Shell sessions: 1 while open, 0 after.")
    }
    static var lastRun: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_source_last_run_timestamp", unitName: "seconds",
            helpText: "Unix time of the source's last run, by outcome.")
    }
    static var runDuration: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_source_run_duration", unitName: "seconds", helpText: "Duration of source runs.")
    }
    static var jwtExpiry: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_source_jwt_expiry_timestamp", unitName: "seconds",
            helpText: "Unix time at which the source's JWT expires; 0 when it does not.")
    }
    static var buildInfo: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "etcha_build", unitName: "info", helpText: "The agent's version; always 1.")
    }
    static let durationBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500),
        .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(900),
    ]
}
