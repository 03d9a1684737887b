import EtchaJSON

/// The agent's configuration, as Etcha spells it
/// (docs/behaviour.md#2-configuration-keys-as-in-etcha). Every field has its default filled in by
/// ``ConfigLoader`` from ``ConfigSchema`` before decoding, so a decoded `Config` is complete.
///
///     let config = try ConfigLoader(path: "etcha.jsonnet", overrides: ["run_stateDir=/var/lib/etcha"]).load()
public struct Config: Sendable, Codable {
    /// Build and push settings.
    public var build: BuildConfig
    /// Log settings and the configuration file, as Etcha's `cli` section holds them.
    public var cli: CLIConfig
    /// The top-level exec (defaults: bash `-e -o pipefail -c`, overrides allowed).
    public var exec: Exec
    /// Listener settings.
    public var httpServer: HTTPServerConfig
    /// Client settings for push, pull and shell.
    public var httpClient: HTTPClientConfig
    /// Listen-mode settings.
    public var run: RunConfig
    /// Sources by name.
    public var sources: [String: SourceConfig]
    /// Push targets by name.
    public var targets: [String: TargetConfig]
    /// Variables for every pattern.
    public var vars: [String: JSON]
}

/// `build`: signing and pushing.
public struct BuildConfig: Sendable, Codable {
    /// Appended to each target's host name when pushing or opening a shell (`.example.com`).
    public var pushDomainSuffix: String
    /// Pushes at once; 0 means one per CPU.
    public var pushMaxWorkers: Int
    /// Skip certificate verification when pushing (Etcha 2024's key; `httpClient.tlsSkipVerify`
    /// covers pulls and shells too).
    public var pushTLSSkipVerify: Bool
    /// A private key string (`ed25519private:…`).
    public var signingKey: String
    /// A file holding the private key string.
    public var signingKeyPath: String
    /// Commands that sign instead of `signingKey` (raw; parsed and checked by ``ConfigLoader``):
    /// given `ETCHA_PAYLOAD`, they print the JWT through the `jwt` event.
    public var signingCommands: JSON
    /// The exec of the signing commands, over the top-level one.
    public var signingExec: Exec?
}

/// `cli`: what Etcha's `-c`, `-f`, `-l` and `-n` flags set, also settable as keys (`-x
/// cli_logLevel=debug`, `ETCHA_CLI_LOGLEVEL`). Empty leaves the flag's value.
public struct CLIConfig: Sendable, Codable {
    /// The configuration file; read from `ETCHA_CLI_CONFIGPATH` before any file is loaded.
    public var configPath: String
    /// Log format: Etcha's `human`, `kv` or `raw`, or `logfmt` or `json`.
    public var logFormat: String
    /// Lowest level logged: Etcha's `none`, `debug`, `info` or `error`, or any of swift-log's.
    public var logLevel: String
    /// Accepted for Etcha's `-n`; log lines here are never coloured.
    public var noColor: Bool
}

/// `httpServer`: the listener.
public struct HTTPServerConfig: Sendable, Codable {
    /// Idle connections are closed after this long.
    public var idleTimeout: GoDuration
    /// A client must send its request head within this long.
    public var headerTimeout: GoDuration
    /// `host:port` to listen on; `:4000` means every address.
    public var listenAddress: String
    /// Largest request body accepted.
    public var maxBodyBytes: Int
    /// Connections open at once, from every client together; more wait in the kernel's backlog.
    /// Lowered at startup to what the descriptor limit leaves room for.
    public var maxConnections: Int
    /// Connections open at once from one address (trusted proxies are exempt); more are closed as
    /// they arrive.
    public var maxConnectionsPerClient: Int
    /// Failed requests allowed per client and period: `N-S`, `N-M` or `N-H`.
    public var rateLimitRate: String
    /// PEM certificate file.
    public var tlsCertificatePath: String
    /// Base64 of a PEM certificate.
    public var tlsCertificateBase64: String
    /// PEM CA file clients must be signed by (mTLS).
    public var tlsClientCAPath: String
    /// Base64 of a PEM client CA.
    public var tlsClientCABase64: String
    /// PEM private key file.
    public var tlsKeyPath: String
    /// Base64 of a PEM private key.
    public var tlsKeyBase64: String
    /// Addresses whose `X-Forwarded-For` is believed.
    public var trustedProxies: [String]
}

/// `httpClient`: outgoing TLS.
public struct HTTPClientConfig: Sendable, Codable {
    /// PEM CA file to verify servers with.
    public var tlsCAPath: String
    /// Skip server certificate verification.
    public var tlsSkipVerify: Bool
}

/// `run`: listen mode.
public struct RunConfig: Sendable, Codable {
    /// A boolean expression over JWT claims that every token must satisfy.
    public var jwtRule: String
    /// Runs waiting per source beyond the running one; more are refused.
    public var maxQueuedRuns: Int
    /// Shell sessions at once.
    public var maxShells: Int
    /// Start up to this many seconds late, at random.
    public var randomizedStartDelaySec: Int
    /// On SIGTERM/SIGINT, how long running commands may take to finish before their process groups
    /// are killed.
    public var shutdownTimeout: GoDuration
    /// Where state (held JWTs, the self-signed certificate) is kept; empty is the working directory.
    public var stateDir: String
    /// Secret that enables and guards the metrics endpoint.
    public var systemMetricsKey: String
    /// Bound of a push run (also pull, startup and event runs).
    public var timeoutPush: GoDuration
    /// Bound of a shell session.
    public var timeoutShell: GoDuration
    /// Bound of a webhook run.
    public var timeoutWebhook: GoDuration
    /// Public keys that verify JWTs for every source.
    public var verifyKeys: [String]
    /// Commands that verify instead of the keys (raw): given `ETCHA_JWT`, they print it through
    /// the `jwt` event when it verifies.
    public var verifyCommands: JSON
    /// The exec of the verify commands, over the top-level one.
    public var verifyExec: Exec?
}

/// One `sources` entry.
public struct SourceConfig: Sendable, Codable {
    /// Accept pushed patterns.
    public var allowPush: Bool
    /// Run only checks.
    public var checkOnly: Bool
    /// Static commands (raw; parsed and checked by ``ConfigLoader``).
    public var commands: JSON
    /// Events that run this source.
    public var eventsReceive: [String]
    /// Stop the agent once this source has handled an event it receives (Etcha 2024's key).
    public var eventsReceiveExit: Bool
    /// Regex of events this source may fire; empty allows none.
    public var eventsSend: String
    /// The source's exec override.
    public var exec: Exec?
    /// Replaces `run.jwtRule` for this source.
    public var jwtRule: String
    /// Never run removals when diffing.
    public var noRemove: Bool
    /// Do not save or restore this source's JWT.
    public var noRestore: Bool
    /// Ignore `etchaVersion` when comparing pulled JWTs.
    public var pullIgnoreVersion: Bool
    /// Files or URLs to pull JWTs from.
    public var pullPaths: [String]
    /// How often to pull and run; empty never.
    public var runFrequency: GoDuration
    /// Let runs overlap.
    public var runMulti: Bool
    /// Shell command or exec object; empty disables shells.
    public var shell: JSON
    /// Run only when triggered by an event or webhook.
    public var triggerOnly: Bool
    /// Extra verify keys for this source.
    public var verifyKeys: [String]
    /// Replaces `run.verifyCommands` for this source (raw).
    public var verifyCommands: JSON
    /// The exec of the verify commands, over `run.verifyExec`.
    public var verifyExec: Exec?
    /// Variables for this source's patterns.
    public var vars: [String: JSON]
    /// Webhook paths this source answers.
    public var webhookPaths: [String]
    /// HMAC secret webhooks must be signed with (GitHub's `X-Hub-Signature-256`).
    public var webhookSecret: String
}

/// One `targets` entry.
public struct TargetConfig: Sendable, Codable {
    /// Host name to push to; empty means the entry's name.
    public var hostname: String
    /// Plain HTTP instead of HTTPS, as in Etcha (for a target behind a proxy that ends TLS).
    public var insecure: Bool
    /// The push endpoint's path, without the source.
    public var pathPush: String
    /// The shell endpoint's path, without the source.
    public var pathShell: String
    /// Port to push to.
    public var port: String
    /// Source name → pattern path pushed to it.
    public var sourcePatterns: [String: String]
    /// Variables for patterns rendered for this target.
    public var vars: [String: JSON]
}
