import EtchaJSON

/// The shape of the configuration: every key, its default, and the Etcha keys that are accepted
/// but not acted on. It drives three things, so each key is spelled once here: the unknown-key
/// check, default filling, and the resolution of `-x`/`ETCHA_*` override paths.
public indirect enum ConfigShape: Sendable {
    /// A leaf; the default is filled in when the key is absent, nothing when nil.
    case value(JSON?)
    /// An object with exactly these keys.
    case object([String: ConfigShape])
    /// An object whose keys are names (sources, targets), each value of this shape.
    case map(ConfigShape)
    /// Free-form content (vars, env), checked where it is used.
    case free(JSON?)
    /// A key of Etcha's that this agent accepts and ignores, with the reason logged.
    case ignored(String)
}

/// The schema of the whole file.
public enum ConfigSchema {
    static let execShape: ConfigShape = .object([
        "allowOverride": .value(nil), "command": .value(nil), "env": .free(nil), "envInherit": .value(nil),
        "group": .value(nil), "sudo": .value(nil), "user": .value(nil), "workDir": .value(nil),
        "containerEntrypoint": .ignored("containers are not supported"),
        "containerImage": .ignored("containers are not supported"),
        "containerNetwork": .ignored("containers are not supported"),
        "containerPrivileged": .ignored("containers are not supported"),
        "containerPull": .ignored("containers are not supported"),
        "containerUser": .ignored("containers are not supported"),
        "containerVolumes": .ignored("containers are not supported"),
        "containerWorkDir": .ignored("containers are not supported"),
    ])

    /// The top-level exec, whose defaults are Etcha's.
    static let topExecShape: ConfigShape = {
        guard case .object(var keys) = execShape else { return execShape }
        keys["allowOverride"] = .value(.bool(true))
        keys["command"] = .value(.string(ResolvedExec.defaults.command))
        keys["env"] = .free(.object([:]))
        keys["envInherit"] = .value(.bool(false))
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
            "pushMaxWorkers": number(0), "signingKey": string(), "signingKeyPath": string(),
            "pushDomainSuffix": .ignored("push uses targets' hostnames as written"),
            "signingCommands": .ignored("signing commands are not supported; use signingKey"),
            "signingExec": .ignored("signing commands are not supported; use signingKey"),
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
            "verifyCommands": .ignored("verify commands are not supported; use verifyKeys"),
            "verifyExec": .ignored("verify commands are not supported; use verifyKeys"),
        ]),
        "sources": .map(
            .object([
                "allowPush": bool(), "checkOnly": bool(), "commands": .free(.array([])), "eventsReceive": list,
                "eventsSend": string(), "exec": execShape, "jwtRule": string(), "noRemove": bool(),
                "noRestore": bool(), "pullIgnoreVersion": bool(), "pullPaths": list, "runFrequency": string(),
                "runMulti": bool(), "shell": .free(.string("")), "triggerOnly": bool(), "verifyKeys": list,
                "vars": vars, "webhookPaths": list, "webhookSecret": string(),
                "verifyCommands": .ignored("verify commands are not supported; use verifyKeys"),
                "verifyExec": .ignored("verify commands are not supported; use verifyKeys"),
            ])),
        "targets": .map(
            .object([
                "hostname": string(), "insecure": bool(), "port": string("4000"), "sourcePatterns": vars,
                "vars": vars,
                "pathPush": .ignored("push always posts to /etcha/v1/push/SOURCE"),
                "pathShell": .ignored("shell always posts to /etcha/v1/shell/SOURCE"),
            ])),
        "vars": vars,
        "cli": .ignored("CLI settings are given as flags"),
        "jsonnet": .ignored("Jsonnet settings are fixed"),
        "licenseKey": .ignored("no license is needed"),
        "lint": .ignored("linting is not part of the agent"),
    ])

    /// Keys spelled another way in Etcha's documentation, by parent path: old name → name.
    static let aliases: [String: [String: String]] = ["run": ["systemMetricsSecret": "systemMetricsKey"]]
}
