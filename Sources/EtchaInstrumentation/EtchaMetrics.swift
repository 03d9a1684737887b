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
    /// Handles of the series updated so far: the registry validates the name, the help text and every
    /// label on each make call, which cost more than the update itself on a webhook's path.
    private let counters = SeriesCache<Counter>()
    private let gauges = SeriesCache<Gauge>()
    private let histograms = SeriesCache<DurationHistogram>()

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
        counter(
            Family.commands,
            [
                ("error", failed ? "1" : "0"), ("id", id), ("mode", mode.rawValue), ("parent_id", parentID),
                ("public_key", origin.publicKey), ("remote_addr", origin.remoteAddr), ("source", origin.source),
            ]
        ).increment()
    }

    /// Records one finished source run: `etcha_sources_total`, the `etcha_sources_commands` gauges for
    /// the run's changed and removed counts, the last-run timestamp and the duration histogram.
    public func sourceRan(
        origin: RunOrigin, failed: Bool, changed: Int, removed: Int, duration: Duration, finishedAt: Date = Date()
    ) {
        defer { bumpGeneration() }
        let error = failed ? "1" : "0"
        counter(
            Family.sources,
            [
                ("error", error), ("name", origin.source), ("public_key", origin.publicKey),
                ("remote_addr", origin.remoteAddr), ("trigger", origin.trigger.rawValue),
            ]
        ).increment()
        for (mode, count) in [(CommandMode.change, changed), (.remove, removed)] {
            gauge(
                Family.sourceCommands,
                [
                    ("mode", mode.rawValue), ("name", origin.source), ("public_key", origin.publicKey),
                    ("remote_addr", origin.remoteAddr), ("trigger", origin.trigger.rawValue),
                ]
            ).set(to: Double(count))
        }
        gauge(Family.lastRun, [("error", error), ("name", origin.source)]).set(to: finishedAt.timeIntervalSince1970)
        let labels = [("name", origin.source), ("trigger", origin.trigger.rawValue)]
        histograms.handle(Family.runDuration, labels) {
            registry.makeDurationHistogram(
                descriptor: Family.runDuration, labels: labels, buckets: Family.durationBuckets)
        }.record(duration)
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

    private func counter(_ family: MetricNameDescriptor, _ labels: [(String, String)]) -> Counter {
        counters.handle(family, labels) { registry.makeCounter(descriptor: family, labels: labels) }
    }

    private func gauge(_ family: MetricNameDescriptor, _ labels: [(String, String)]) -> Gauge {
        gauges.handle(family, labels) { registry.makeGauge(descriptor: family, labels: labels) }
    }
}

/// Metric handles by family name and label values, made once by the registry. Series are never
/// removed from the registry, so neither are they from here.
private final class SeriesCache<Metric: AnyObject & Sendable>: Sendable {
    private let handles = NIOLockedValueBox<[[String]: Metric]>([:])

    func handle(_ family: MetricNameDescriptor, _ labels: [(String, String)], make: () -> Metric) -> Metric {
        let key = [family.metricName] + labels.map(\.1)
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
