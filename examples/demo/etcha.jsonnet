// The demo the README's first command runs: `make demo`.
// Everything it writes goes under examples/demo/state/ (git-ignored).
local state = std.native('getEnv')('ETCHA_DEMO_STATE', std.native('getEnv')('PWD', '.') + '/state');

{
  run: {
    stateDir: state,
    // Enables GET /etcha/v1/system/metrics?key=demo-metrics-key (or Authorization: Bearer demo-metrics-key).
    systemMetricsKey: 'demo-metrics-key',
  },
  httpServer: {
    // Loopback only: the demo is for this machine. A self-signed certificate is made in state/.
    listenAddress: '127.0.0.1:4000',
  },
  exec: {
    command: '/bin/sh -c',
  },
  vars: {
    greeting: 'hello from the etcha demo',
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
      eventsReceive: ['motd-changed'],
      commands: [
        {
          id: 'record event',
          always: true,
          change: 'echo "$(date -u +%%FT%%TZ) $ETCHA_EVENT_NAME from $ETCHA_EVENT_ID" >> %s/audit.log; tail -n 1 %s/audit.log' % [state, state],
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
  },
}
