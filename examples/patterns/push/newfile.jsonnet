// Push it after run.jsonnet: the two commands that are gone run their `remove` first, then the new
// one runs; pushed again, its check passes and nothing changes.
//   etcha push -h HOST SOURCE examples/patterns/push/newfile.jsonnet  -> Changed 1: write a new file
//                                                                       Removed 2: copy file, write a file
local config = std.native('getConfig')();
local dir = std.get(config.vars, 'exampleDir', '/tmp/etcha-example');

{
  run: [
    {
      id: 'write a new file',
      check: "[ -e '%s/newfile' ]" % dir,
      change: "mkdir -p '%s' && echo %s > '%s/newfile'" % [dir, config.vars.sysinfo.hostname, dir],
      remove: "rm -f '%s/newfile'" % dir,
    },
  ],
  runExec: {
    command: '/bin/sh -c',
  },
}
