#!/usr/bin/env bash
# Soak benchmark: one agent takes WEBHOOKS webhook runs and PUSHES pushes, then we check it leaked
# nothing (fds, memory, zombie children) and that its Prometheus counters saw every run.
# Prints a Markdown table and writes the same figures to bench/results/soak.json ($SOAK_RESULTS).
# Exits 0 only when every target passes.
#
# The load client is python3 (http.client, keep-alive, CONCURRENCY threads) even when wrk is
# installed: wrk runs for a duration, not a request count, so requests in flight when it stops
# would still run on the agent and the counters could not be compared with an exact number; it
# also cannot check the answer's body. hey (-n) could, but does not check bodies either.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
WEBHOOKS="${WEBHOOKS:-10000}" PUSHES="${PUSHES:-1000}" CONCURRENCY="${CONCURRENCY:-8}"
# Absolute, because the agent runs from the temp dir.
ETCHA="$(realpath "$(command -v "${ETCHA:-$repo/.build/release/etcha}")")" || { echo "error: no etcha binary" >&2; exit 1; }
started=$(date +%s.%N)

work="$(mktemp -d)"
agent_pid=""
cleanup() {
  if [[ -n "$agent_pid" ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid" 2>/dev/null || true
    # Give it 5 s to drain, then make sure it is gone so the temp dir can be removed.
    for _ in $(seq 50); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

die() { echo "error: $*" >&2; [[ -f "$work/agent.log" ]] && tail -20 "$work/agent.log" >&2; exit 1; }

# Writes config.json: fresh ed25519 keys (the public one verifies pushes, the private one signs
# the pattern we build), a random metrics key, and an ephemeral port so parallel runs cannot clash.
write_config() {
  local keys
  keys=$(cd "$work" && "$ETCHA" generate-keys --type ed25519 soak)
  python3 - "$work" "$keys" > "$work/config.json" <<'PY'
import json, secrets, sys
work, keys = sys.argv[1], json.loads(sys.argv[2])
json.dump({
    "run": {"stateDir": work, "systemMetricsKey": secrets.token_hex(16), "verifyKeys": [keys["publicKey"]]},
    "build": {"signingKey": keys["privateKey"]},
    "httpServer": {"listenAddress": "127.0.0.1:0", "rateLimitRate": "100000-M"},
    "exec": {"command": "/bin/sh -c"},
    "sources": {
        "hook": {"triggerOnly": True, "runMulti": True, "webhookPaths": ["/soak"], "commands": [
            {"id": "answer", "always": True, "change": "echo ok", "onChange": ["etcha:webhookBody"]}]},
        "web": {"allowPush": True},
    },
}, sys.stdout, indent=2)
PY
  metrics_key=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"]["systemMetricsKey"])' "$work/config.json")
}

# Starts the agent, reads the port it bound from its log, and waits for the health check.
start_agent() {
  (cd "$work" && exec "$ETCHA" -c config.json run) 2>"$work/agent.log" &
  agent_pid=$!
  port=""
  for _ in $(seq 300); do  # up to 30 s: the machine may be busy compiling
    kill -0 "$agent_pid" 2>/dev/null || die "agent exited during startup"
    port=$(sed -n '/listening on 127\.0\.0\.1:/{s/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p;q;}' "$work/agent.log")
    [[ -n "$port" && "$(curl -sk --max-time 1 "https://127.0.0.1:$port/etcha/v1/system/health" || true)" == ok ]] && return 0
    sleep 0.1
  done
  die "agent not healthy after 30 s"
}

# Zombie children: /proc/*/status with PPid = agent and State Z (python: processes may vanish mid-scan).
zombies() {
  python3 - "$1" <<'PY'
import glob, sys
count = 0
for path in glob.glob("/proc/[0-9]*/status"):
    try:
        fields = dict(line.split(":", 1) for line in open(path) if ":" in line)
    except OSError:
        continue
    count += fields.get("PPid", "").strip() == sys.argv[1] and fields.get("State", "").split()[:1] == ["Z"]
print(count)
PY
}

# snapshot NAME: open fds, VmRSS (KiB), zombie children and a metrics scrape, saved as NAME_*.
snapshot() {
  printf -v "$1_fds" '%s' "$(ls "/proc/$agent_pid/fd" | wc -l)"
  printf -v "$1_rss" '%s' "$(awk '/^VmRSS/ { print $2 }' "/proc/$agent_pid/status")"
  printf -v "$1_zombies" '%s' "$(zombies "$agent_pid")"
  curl -skf "https://127.0.0.1:$port/etcha/v1/system/metrics?key=$metrics_key" > "$work/metrics.$1" || die "metrics scrape failed"
}

# load PATH COUNT BODY_FILE REGEX: COUNT POSTs over CONCURRENCY keep-alive connections; a request
# fails unless it answers 200 with a body matching REGEX. Prints "seconds failures".
load() {
  python3 - "$port" "$@" "$CONCURRENCY" <<'PY'
import http.client, re, ssl, sys, threading, time
port, path, total, body_file, pattern, concurrency = sys.argv[1:7]
body, expect, left = open(body_file, "rb").read(), re.compile(pattern.encode()), [int(total)]
lock, failures, context = threading.Lock(), [], ssl._create_unverified_context()
def take():
    with lock:
        left[0] -= 1
        return left[0] >= 0
def worker():
    connection = http.client.HTTPSConnection("127.0.0.1", int(port), context=context, timeout=60)
    while take():
        try:
            connection.request("POST", path, body=body)
            response = connection.getresponse(); answer = response.read()
            if response.status != 200 or not expect.search(answer):
                failures.append((response.status, answer[:200]))
        except Exception as error:  # count it, and reconnect for the next request
            failures.append(("exception", repr(error))); connection.close()
    connection.close()
start = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(int(concurrency))]
for thread in threads: thread.start()
for thread in threads: thread.join()
for failure in failures[:3]: print("failed:", failure, file=sys.stderr)
print("%.3f %d" % (time.monotonic() - start, len(failures)))
PY
}

write_config
# One pattern, built once (a build renders and signs: too slow to repeat per push). Pushing the
# same JWT again is accepted (anti-rollback only refuses an older iat) and, with always: true,
# runs p1 every time; a second token could hit 409 when concurrent pushes reorder them.
echo "{run: [{id: 'p1', always: true, change: 'true'}]}" > "$work/p1.jsonnet"
(cd "$work" && "$ETCHA" -c config.json build p1.jsonnet p1.jwt >/dev/null 2>"$work/build.log") || die "build failed: $(cat "$work/build.log")"
printf 'x' > "$work/webhook.body"
start_agent
sleep 2  # let startup allocations settle before the idle baseline
snapshot before

webhooks=$(load /soak "$WEBHOOKS" "$work/webhook.body" '\Aok\n\Z') || die "webhook client failed"
pushes=$(load /etcha/v1/push/web "$PUSHES" "$work/p1.jwt" '"err":""') || die "push client failed"
read -r webhook_seconds webhook_failures <<<"$webhooks"
read -r push_seconds push_failures <<<"$pushes"
sleep 3  # let closed connections and finished children be reaped
loaded_rss="$(awk '/^VmRSS/ { print $2 }' "/proc/$agent_pid/status")"
# The Jsonnet standard library the pushes' renders shared is kept until it has gone unused for 10 s
# (Sources/CJsonnet/shared_stdlib.cpp): memory it holds is not a leak.
sleep "${SOAK_SETTLE:-11}"
snapshot after
kill -0 "$agent_pid" 2>/dev/null || die "agent died during the soak"

# Compare, print the table and write the JSON (exit status = every target passed).
results="${SOAK_RESULTS:-$repo/bench/results/soak.json}"  # the short soak in the tests writes /dev/null
mkdir -p "$(dirname "$results")"
export WEBHOOKS PUSHES CONCURRENCY ETCHA started webhook_seconds webhook_failures push_seconds push_failures \
  before_fds before_rss before_zombies after_fds after_rss after_zombies loaded_rss
python3 - "$work" "$results" <<'PY'
import json, os, re, sys, time
work, out = sys.argv[1:3]
n = {k: json.loads(os.environ[k]) for k in ("WEBHOOKS PUSHES CONCURRENCY started webhook_seconds webhook_failures push_seconds "
     "push_failures before_fds before_rss before_zombies after_fds after_rss after_zombies loaded_rss").split()}
def counters(name):  # exposition lines name{labels} value → {name: [(labels, value)]}
    series = {}
    for line in open(f"{work}/metrics.{name}"):
        m = re.match(r'(\w+)\{(.*)\}\s+(\S+)\s*$', line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
            series.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return series
def total(series, metric, **want):  # sum over every label set that has the wanted labels
    return int(sum(v for labels, v in series.get(metric, []) if all(labels.get(k) == w for k, w in want.items())))
before, after = counters("before"), counters("after")
webhooks, pushes, growth = n["WEBHOOKS"], n["PUSHES"], n["after_rss"] - n["before_rss"]
rows = [  # metric, before, after, target, pass
    ("zombie children", n["before_zombies"], n["after_zombies"], "0", n["after_zombies"] == 0),
    ("open fds", n["before_fds"], n["after_fds"], f"{n['before_fds']} ± 5", abs(n["after_fds"] - n["before_fds"]) <= 5),
    ("VmRSS (KiB)", n["before_rss"], n["after_rss"], f"growth ≤ 5120 (is {growth:+d})", growth <= 5120),
    ("VmRSS right after the load, Jsonnet standard library still held (KiB)", n["before_rss"], n["loaded_rss"],
     f"none (is {n['loaded_rss'] - n['before_rss']:+d})", True),
    ("failed webhook requests", 0, n["webhook_failures"], "0", n["webhook_failures"] == 0),
    ("failed push requests", 0, n["push_failures"], "0", n["push_failures"] == 0),
]
checks = [  # row label, metric, labels, expected
    ("etcha_sources_total hook/webhook error=0", "etcha_sources_total", dict(name="hook", trigger="webhook", error="0"), webhooks),
    ("etcha_sources_total web/push error=0", "etcha_sources_total", dict(name="web", trigger="push", error="0"), pushes),
    ("etcha_commands_total answer/change error=0", "etcha_commands_total", dict(id="answer", mode="change", error="0"), webhooks),
    ("etcha_commands_total p1/change error=0", "etcha_commands_total", dict(id="p1", mode="change", error="0"), pushes),
]
for label, metric, want, expected in checks:
    value = total(after, metric, **want)
    rows.append((label, total(before, metric, **want), value, f"= {expected}", value == expected))
print("| metric | before | after | target | pass |\n| --- | --- | --- | --- | --- |")
for metric, b, a, target, ok in rows:
    print(f"| {metric} | {b} | {a} | {target} | {'pass' if ok else 'FAIL'} |")
result = {
    "parameters": {"webhooks": webhooks, "pushes": pushes, "concurrency": n["CONCURRENCY"], "etcha": os.environ["ETCHA"]},
    "metrics": [dict(metric=m, before=b, after=a, target=t, passed=ok) for m, b, a, t, ok in rows],
    "throughput": {"webhooks_per_second": round(webhooks / max(n["webhook_seconds"], 0.001), 1),
                   "pushes_per_second": round(pushes / max(n["push_seconds"], 0.001), 1)},
    "durations_seconds": {"webhooks": n["webhook_seconds"], "pushes": n["push_seconds"],
                          "total": round(time.time() - n["started"], 1)},
    "passed": all(row[4] for row in rows),
}
t, d = result["throughput"], result["durations_seconds"]
print(f"\nthroughput: {t['webhooks_per_second']} webhooks/s, {t['pushes_per_second']} pushes/s at concurrency "
      f"{n['CONCURRENCY']}; durations: webhooks {d['webhooks']} s, pushes {d['pushes']} s, total {d['total']} s")
print("result:", "PASS" if result["passed"] else "FAIL")
json.dump(result, open(out, "w"), indent=2, ensure_ascii=False)
sys.exit(0 if result["passed"] else 1)
PY
