#!/usr/bin/env bash
# Brings release/symbol-order.txt up to date: the functions the agent runs while it starts, answers health
# checks, webhooks and scrapes (plain, gzip, wrong key), refuses unknown paths, and stops.
#
# First it runs the shipped build under valgrind's callgrind, which records every function executed,
# and keeps their names. Then, because valgrind's emulated processor takes some other code paths
# than the real one, it runs the relinked binary natively a few times, records its page faults with
# perf, and adds each function whose first instruction fetch faulted outside the ordered code.
# Run it after changes that move the agent's common paths; a stale list costs memory, not
# correctness (functions it does not name are placed after the ones it does).
# Names are only ever added; to start over (after large changes), empty the list and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
command -v valgrind >/dev/null || $sudo apt-get install -y -qq valgrind >/dev/null
command -v perf >/dev/null || $sudo apt-get install -y -qq linux-perf >/dev/null
relink() { rm -f .build-release/x86_64-unknown-linux-gnu/release/etcha; release/build.sh 2>/dev/null; }
binary="$(relink)"
work="$(mktemp -d)"
trap 'pkill -TERM -f "$work/etcha" 2>/dev/null || true; rm -rf "$work"' EXIT
# valgrind cannot read lld's debug information; the symbol table is all it needs.
objcopy --strip-debug "$binary" "$work/etcha"
OUT="$work/certs" certs/generate.sh >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/etcha.json" <<JSON
{"run": {"systemMetricsKey": "order", "stateDir": "$work/state"},
 "httpServer": {"listenAddress": "127.0.0.1:$port", "tlsCertificatePath": "$work/certs/server.crt",
                "tlsKeyPath": "$work/certs/server.key"},
 "exec": {"command": "/bin/sh -c"},
 "sources": {"hook": {"triggerOnly": true, "webhookPaths": ["/hook"], "commands": [
   {"id": "ok", "always": true, "change": "echo ok", "onChange": ["etcha:webhookBody"]}]}}}
JSON
exercise() { # url
  for _ in $(seq 1 120); do curl -sk -o /dev/null --max-time 5 "$1/etcha/v1/system/health" && break; sleep 0.5; done
  for _ in 1 2 3; do
    curl -sk --max-time 30 -o /dev/null "$1/hook"
    curl -sk --max-time 30 -o /dev/null "$1/etcha/v1/system/metrics?key=order"
    curl -sk --max-time 30 -o /dev/null -H 'Accept-Encoding: gzip' "$1/etcha/v1/system/metrics?key=order"
    curl -sk --max-time 30 -o /dev/null "$1/etcha/v1/system/metrics?key=wrong"
    curl -sk --max-time 30 -o /dev/null --http1.1 "$1/nowhere"
  done
  sleep 5 # a few idle seconds: timers, the process collector
}
url="https://127.0.0.1:$port"

valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" --dump-instr=no --demangle=no \
  "$work/etcha" -c "$work/etcha.json" --log-level error run 2>"$work/valgrind.log" &
agent=$!
exercise "$url"
kill -TERM "$agent"
wait "$agent" || true
# A function is named on the first line that mentions it, as a caller (fn=) or a callee (cfn=).
# Names already listed stay: valgrind lacks some system calls (pidfd_open), so a run under it
# misses paths that native runs take, and a name no longer in the binary costs nothing.
{ cat release/symbol-order.txt 2>/dev/null || true
  sed -nE 's/^c?fn=\([0-9]+\) ([^'"'"']+).*/\1/p' "$work/callgrind.out" | grep -v '^0x'; } |
  LC_ALL=C sort -u > "$work/order.txt"
mv "$work/order.txt" release/symbol-order.txt

for pass in 1 2 3 4; do
  binary="$(relink)"
  perf record -q -c 1 -e page-faults -d -o "$work/faults.data" -- "$binary" -c "$work/etcha.json" --log-level error run \
    2>/dev/null &
  exercise "$url"
  pkill -TERM -f "$binary -c $work/etcha.json"
  wait || true
  # perf leaves many of the agent's local symbols unresolved, so addresses are resolved with nm.
  nm -n --defined-only "$binary" > "$work/symbols.txt"
  added=$(perf script --no-demangle -i "$work/faults.data" --show-mmap-events -F addr,ip 2>/dev/null | python3 -c '
import bisect, re, sys
known = set(line.strip() for line in open("release/symbol-order.txt"))
symbols = []
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        symbols.append((int(parts[0], 16), parts[2]))
starts = [address for address, _ in symbols]
base, new = None, set()
for line in sys.stdin:
    mapping = re.search(r"\[(0x[0-9a-f]+)\(0x[0-9a-f]+\) @ 0 .*/etcha$", line)
    if mapping and base is None:
        base = int(mapping.group(1), 16)
        continue
    fields = line.split()
    # an instruction fetch (address == instruction pointer) in the agent, in a function not yet named
    if base is None or len(fields) != 2 or fields[0] != fields[1]:
        continue
    index = bisect.bisect_right(starts, int(fields[0], 16) - base) - 1
    if index >= 0 and symbols[index][1] not in known:
        new.add(symbols[index][1])
open("release/symbol-order.txt", "a").write("".join(name + "\n" for name in sorted(new)))
print(len(new))' "$work/symbols.txt")
  echo "pass $pass: $added functions added" >&2
  [ "$added" = 0 ] && break
done
relink >/dev/null
echo "release/symbol-order.txt: $(wc -l < release/symbol-order.txt) functions"
