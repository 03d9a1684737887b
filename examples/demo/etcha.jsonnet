// The demo the README's first command runs (`make demo`, which calls examples/demo/etcha run).
// Everything it makes goes under examples/demo/state/ (git-ignored): the signing key pair
// (keys.json), development certificates from certs/generate.sh (certs/), the metrics key for
// Prometheus (metrics.key), the pulled JWT (pull.jwt), saved state and the files the patterns write.
local state = std.native('getEnv')('ETCHA_DEMO_STATE', std.native('getEnv')('PWD', '.') + '/state');
local keys = std.parseJson(std.native('getFile')(state + '/keys.json', '{"privateKey": "", "publicKey": ""}'));

{
  build: {
    // Signs what `examples/demo/etcha build|push|shell` sends. Made at first start, never committed.
    signingKey: keys.privateKey,
  },
  run: {
    stateDir: state,
    // Only tokens signed by the demo key are accepted (push, pull, shell).
    verifyKeys: [keys.publicKey],
    // Enables GET /etcha/v1/system/metrics?key=demo-metrics-key (or Authorization: Bearer demo-metrics-key).
    systemMetricsKey: 'demo-metrics-key',
    timeoutShell: '30m',
  },
  httpServer: {
    // Loopback only: the demo is for this machine.
    listenAddress: '127.0.0.1:4000',
    tlsCertificatePath: state + '/certs/server.crt',
    tlsKeyPath: state + '/certs/server.key',
  },
  httpClient: {
    // push and shell verify the agent's certificate against the development CA.
    tlsCAPath: state + '/certs/ca.crt',
  },
  exec: {
    command: '/bin/sh -c',
  },
  vars: {
    greeting: 'hello from the etcha demo',
    // Where the example patterns (examples/patterns/) write their files.
    exampleDir: state + '/files',
  },
  sources: {
    // Runs once at startup: keeps a file in place and announces when it changed it.
    motd: {
      eventsSend: 'motd-changed',
      commands: [
        {
          id: 'state directory',
          check: "[ -d '%s' ]" % state,
          change: "mkdir -p '%s'" % state,
        },
        {
          id: 'write motd',
          check: "grep -qx 'hello from the etcha demo' '%s/motd' 2>/dev/null" % state,
          change: "echo 'hello from the etcha demo' > '%s/motd' && echo wrote %s/motd" % [state, state],
          onChange: ['etcha:motd-changed', 'etcha:stdout'],
        },
      ],
    },
    // Runs only when motd fires its event, and logs what it received.
    audit: {
      triggerOnly: true,
      eventsReceive: ['motd-changed', 'shell'],
      commands: [
        {
          id: 'record event',
          always: true,
          change: 'echo "$(date -u +%%FT%%TZ) $ETCHA_EVENT_NAME from ${ETCHA_EVENT_ID:-$ETCHA_EVENT_PUBLIC_KEY@$ETCHA_EVENT_SRC}" >> %s/audit.log; tail -n 1 %s/audit.log' % [state, state],
          onChange: ['etcha:stdout'],
        },
      ],
    },
    // Answers https://127.0.0.1:4000/hello?name=you with the output of its command.
    hello: {
      triggerOnly: true,
      webhookPaths: ['/hello'],
      commands: [
        {
          id: 'greet',
          always: true,
          change: 'echo "hello from $(hostname), you asked: $ETCHA_WEBHOOK_METHOD $ETCHA_WEBHOOK_PATH?$ETCHA_WEBHOOK_QUERY"',
          onChange: ['etcha:webhookBody'],
        },
      ],
    },
    // Runs every 10 seconds (not at startup, which is motd's job): puts motd back if someone removes it.
    heal: {
      runFrequency: '10s',
      commands: [
        {
          id: 'motd present',
          check: "[ \"$ETCHA_SOURCE_TRIGGER\" = init ] || [ -f '%s/motd' ]" % state,
          change: "mkdir -p '%s' && echo 'hello from the etcha demo' > '%s/motd' && echo restored %s/motd" % [state, state, state],
          onChange: ['etcha:stdout'],
        },
      ],
    },
    // Takes pushed patterns: examples/demo/etcha push -h 127.0.0.1 web examples/patterns/push/run.jsonnet
    web: {
      allowPush: true,
    },
    // Pulls state/pull.jwt every 15 seconds (built from examples/patterns/pull/ at first start).
    pulled: {
      pullPaths: [state + '/pull.jwt'],
      runFrequency: '15s',
    },
    // Opens a shell for the demo key: examples/demo/etcha shell -h 127.0.0.1 debug
    debug: {
      shell: '/bin/sh',
    },
  },
}
