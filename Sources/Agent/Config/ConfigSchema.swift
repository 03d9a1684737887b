import EtchaJSON

/// The shape of the configuration: every key, its default, and the Etcha keys that are accepted
/// but not acted on. It drives three things, so each key is spelled once here: the unknown-key
/// check, default filling, and the resolution of `-x`/`ETCHA_*` override paths.
public indirect enum ConfigShape: Sendable {
    /// A leaf; the default is filled in when the key is absent, nothing when nil.
    case value(JSON?)
    /// A string leaf that may also be written as a whole number, as Etcha's docs write
    /// `port: 4001`; the number is kept as its digits.
    case digits(String)
    /// An object with exactly these keys.
    case object([String: ConfigShape])
    /// An object whose keys are names (sources, targets), each value of this shape.
    case map(ConfigShape)
    /// Free-form content (vars, env), checked where it is used.
    case free(JSON?)
    /// A key of Etcha's that this agent accepts and ignores, with the reason logged.
    case ignored(String)
    /// A key of Etcha's that this agent cannot honour and will not work around: set to anything but
    /// an empty value, it is an error with this reason.
    case refused(String)
    /// A key of Etcha's April 2024 layout, with the shape it had there. ``LegacyKeys`` moves it to
    /// its current place before the tree is checked; the shape lets `-x` and `ETCHA_*` name it.
    case legacy(ConfigShape)
}

/// The schema of the whole file.
public enum ConfigSchema {
    /// Containers are refused: a command meant for one must never run on the host instead.
    private static let container: ConfigShape = .refused(
        "containers are not supported, and a command meant for one is never run on the host")

    static let execShape: ConfigShape = .object([
        "allowOverride": .value(nil), "command": .value(nil), "env": .free(nil), "envInherit": .value(nil),
        "group": .value(nil), "sudo": .value(nil), "user": .value(nil), "workDir": .value(nil),
        "containerEntrypoint": container, "containerImage": container, "containerNetwork": container,
        "containerPrivileged": container, "containerPull": container, "containerUser": container,
        "containerVolumes": container, "containerWorkDir": container,
    ])

    /// The top-level exec, whose defaults are Etcha's.
    static let topExecShape: ConfigShape = {
        guard case .object(var keys) = execShape else { return execShape }
        keys["allowOverride"] = .value(.bool(true))
        keys["command"] = .value(.string(ResolvedExec.defaults.command))
        keys["env"] = .free(.object([:]))
        keys["envInherit"] = .value(.bool(ResolvedExec.defaults.envInherit))
        keys["group"] = .value(.string(""))
        keys["sudo"] = .value(.bool(false))
        keys["user"] = .value(.string(""))
        keys["workDir"] = .value(.string(""))
        return .object(keys)
    }()

    private static func string(_ value: String = "") -> ConfigShape { .value(.string(value)) }
    private static func bool(_ value: Bool = false) -> ConfigShape { .value(.bool(value)) }
    private static func number(_ value: Double) -> ConfigShape { .value(.number(value)) }
    private static let list: ConfigShape = .value(.array([]))
    private static let vars: ConfigShape = .free(.object([:]))

    /// The root of the schema.
    public static let root: ConfigShape = .object([
        "build": .object([
            "pushMaxWorkers": number(0), "pushTLSSkipVerify": bool(), "signingKey": string(),
            "signingKeyPath": string(),
            "pushTargets": .legacy(.map(pushTarget2024)),
            "pushDomainSuffix": string(),
            "signingCommands": .free(.array([])), "signingExec": execShape,
        ]),
        "cli": .object([
            "configPath": string(), "logFormat": string(), "logLevel": string(), "noColor": bool(),
        ]),
        "exec": topExecShape,
        "httpClient": .object(["tlsCAPath": string(), "tlsSkipVerify": bool()]),
        "httpServer": .object([
            "idleTimeout": string("60s"), "headerTimeout": string("10s"), "listenAddress": string(":4000"),
            "maxBodyBytes": number(4 * 1024 * 1024), "maxConnections": number(512),
            "maxConnectionsPerClient": number(32), "rateLimitRate": string("10-M"),
            "tlsCertificatePath": string(), "tlsCertificateBase64": string(),
            "tlsClientCAPath": string(), "tlsClientCABase64": string(),
            "tlsKeyPath": string(), "tlsKeyBase64": string(), "trustedProxies": list,
        ]),
        "run": .object([
            "jwtRule": string(), "maxQueuedRuns": number(16), "maxShells": number(8),
            "randomizedStartDelaySec": number(0), "shutdownTimeout": string("30s"), "stateDir": string(),
            "systemMetricsKey": string(),
            "timeoutPush": string("10m"), "timeoutShell": string("10m"), "timeoutWebhook": string("10m"),
            "verifyKeys": list,
            "verifyCommands": .free(.array([])), "verifyExec": execShape,
            "systemPprofSecret": .ignored("there is no pprof endpoint"),
            "listenAddress": .legacy(string(":4000")), "rateLimiterRate": .legacy(string("10-M")),
            "tlsCertificateBase64": .legacy(string()), "tlsCertificatePath": .legacy(string()),
            "tlsKeyBase64": .legacy(string()), "tlsKeyPath": .legacy(string()),
        ]),
        "sources": .map(
            .object([
                "allowPush": bool(), "checkOnly": bool(), "commands": .free(.array([])), "eventsReceive": list,
                "eventsReceiveExit": bool(), "eventsSend": string(), "exec": execShape, "jwtRule": string(),
                "noRemove": bool(),
                "noRestore": bool(), "pullIgnoreVersion": bool(), "pullPaths": list, "runFrequency": string(),
                "runMulti": bool(), "shell": .free(.string("")), "triggerOnly": bool(), "verifyKeys": list,
                "vars": vars, "webhookPaths": list, "webhookSecret": string(),
                "verifyCommands": .free(.array([])), "verifyExec": execShape,
                "runExec": .ignored("a source has no runExec (Etcha ignores it too); set exec, or a pattern's runExec"),
                "runFrequencySec": .legacy(number(0)),
            ])),
        "targets": .map(
            .object([
                "hostname": string(), "insecure": bool(), "port": .digits("4000"), "sourcePatterns": vars,
                "vars": vars,
                "pathPush": string("/etcha/v1/push"), "pathShell": string("/etcha/v1/shell"),
            ])),
        "vars": vars,
        "jsonnet": .ignored("Jsonnet settings are fixed"),
        "licenseKey": .ignored("no license is needed"),
        "lint": .ignored("linting is not part of the agent"),
    ])

    /// An entry of Etcha 2024's `build.pushTargets`, which became `targets`.
    static let pushTarget2024: ConfigShape = .object([
        "hostname": string(), "insecure": bool(), "path": string(), "port": .digits("4000"), "sourcePatterns": vars,
        "vars": vars,
    ])

    /// Keys spelled another way in Etcha's documentation, by parent path: old name → name.
    static let aliases: [String: [String: String]] = ["run": ["systemMetricsSecret": "systemMetricsKey"]]
}
