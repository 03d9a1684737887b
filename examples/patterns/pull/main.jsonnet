// Pull: build it into a JWT where a source's pullPaths point (a file, or an https:// URL served by
// any web server), and the agent applies it at its next runFrequency:
//   etcha build examples/patterns/pull/main.jsonnet /srv/etcha/web.jwt
// The message is a run var fixed at build time: `MESSAGE='second version' etcha build …` makes a
// token the agent applies at its next pull; an unchanged rebuild is not re-applied.
local config = std.native('getConfig')();
local dir = std.get(config.vars, 'exampleDir', '/tmp/etcha-example');
local message = std.get(config.vars, 'message', 'pulled by etcha');  // from etchaRunVars on the agent

{
  run: [
    {
      id: 'pulled file',
      check: "grep -qxF '%s' '%s/pulled' 2>/dev/null" % [message, dir],
      change: "mkdir -p '%s' && echo '%s' > '%s/pulled' && echo 'wrote %s/pulled: %s'" % [dir, message, dir, dir, message],
      remove: "rm -f '%s/pulled'" % dir,
      onChange: ['etcha:stdout'],
    },
  ],
  runVars: {
    message: std.native('getEnv')('MESSAGE', 'pulled by etcha'),
  },
  runExec: {
    command: '/bin/sh -c',
  },
}
