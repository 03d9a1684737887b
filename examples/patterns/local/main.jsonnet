// Run with: etcha local examples/patterns/local/main.jsonnet
// Writes two files under $ETCHA_EXAMPLE_DIR (default /tmp/etcha-example), then says what changed.
local files = import 'lib/files.libsonnet';
local dir = std.native('getEnv')('ETCHA_EXAMPLE_DIR', '/tmp/etcha-example');
local vars = std.native('getConfig')().vars;

{
  run: [
    {
      id: 'directory',
      check: "[ -d '%s' ]" % dir,
      change: "mkdir -p '%s'" % dir,
      remove: "rmdir '%s'" % dir,
    },
    files.file(dir + '/hostname', vars.sysinfo.hostname),
    files.file(dir + '/greeting', 'hello from etcha'),
    {
      id: 'report',
      change: "echo 'files updated in %s'" % dir,
      onChange: ['etcha:stdout'],
    },
  ],
}
