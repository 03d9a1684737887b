// Small helpers for commands that manage files, imported by main.jsonnet.
{
  // A command that keeps `path` holding exactly `content`, and deletes it in remove mode.
  file(path, content):: {
    id: 'file %s' % path,
    check: "[ \"$(cat '%s' 2>/dev/null)\" = '%s' ]" % [path, content],
    change: "printf '%%s' '%s' > '%s'" % [content, path],
    remove: "rm -f '%s'" % path,
    onChange: ['report'],
  },
}
