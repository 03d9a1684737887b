// Push (Etcha's "pushing and pulling patterns" tutorial): writes a file, then copies it.
//   etcha push -h HOST SOURCE examples/patterns/push/run.jsonnet    -> Changed 2: write a file, copy file
// Files go to the `exampleDir` var of the agent's configuration (default /tmp/etcha-example).
local config = std.native('getConfig')();
local dir = std.get(config.vars, 'exampleDir', '/tmp/etcha-example');

{
  run: [
    {
      id: 'write a file',
      always: true,
      change: "mkdir -p '%s' && echo %s > '%s/hostname'" % [dir, config.vars.sysinfo.hostname, dir],
      remove: "rm -f '%s/hostname'" % dir,
      onChange: ['copy file'],
    },
    {
      id: 'copy file',
      // Without a check a command is never removed (nothing says it is there); the old Etcha
      // tutorial's output predates that rule.
      check: "[ -e '%s/hostname2' ]" % dir,
      change: "cp '%s/hostname' '%s/hostname2'" % [dir, dir],
      remove: "rm -f '%s/hostname2'" % dir,
    },
  ],
  runExec: {
    command: '/bin/sh -c',
  },
}
