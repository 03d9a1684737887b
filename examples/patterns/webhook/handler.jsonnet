// Webhook and event handler (Etcha's "trigger patterns" tutorial). On a source with
// `webhookPaths: ['/trigger']` and `triggerOnly: true`, a request to /trigger answers with the
// run's ETCHA_* environment; run by an event, it writes that environment to a file instead.
//   curl -k -H 'X-My-Header: hello' -d 'some data' https://HOST:4000/trigger
local config = std.native('getConfig')();
local dir = std.get(config.vars, 'exampleDir', '/tmp/etcha-example');

{
  run: [
    {
      id: 'write env',
      always: true,
      change: |||
        if [ "$ETCHA_SOURCE_TRIGGER" = event ]; then
          mkdir -p '%(dir)s' && env | grep '^ETCHA_' | sort > '%(dir)s/env'
        else
          env | grep '^ETCHA_' | sort
        fi
      ||| % { dir: dir },
      remove: "rm -f '%s/env'" % dir,
      onChange: ['etcha:webhookBody'],
    },
  ],
  runExec: {
    command: '/bin/sh -c',
  },
}
