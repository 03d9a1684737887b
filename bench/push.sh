#!/usr/bin/env bash
# Push over HTTPS (issue 4): the time from sending a push of a 100-command pattern to the agent
# (the shipped build) to reading its answer, on a kept-alive TLS connection, minus 100 spawns of
# the pattern's command (`/bin/sh -c true`, hyperfine's median just before each push, times 100).
# ROUNDS (default 10) pushes of an edited pattern (each round's token built by `etcha build` with
# another comment, so the agent renders it again) and of the same token again (last render reused);
# then IDLE_ROUNDS (default 3) edited pushes each after 12 s without a render, when the agent has
# released the Jsonnet standard library its renders share and must make it again. A first push,
# which loads libjsonnet, is made before and reported apart. Prints Markdown table rows.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/common.sh
rounds="${ROUNDS:-10}" idle_rounds="${IDLE_ROUNDS:-3}"
work="$(mktemp -d)"
agent_pid=""
cleanup() { [[ -n "$agent_pid" ]] && kill "$agent_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

built="$(release/build.sh 2>"$work/build.log")" || { cat "$work/build.log" >&2; exit 1; }
etcha="$work/bin/etcha"
install -D -m 0755 "$built" "$etcha"
OUT="$work/certs" certs/generate.sh >/dev/null
keys="$("$etcha" generate-keys)"
private_key="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["privateKey"])' "$keys")"
public_key="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["publicKey"])' "$keys")"
port=$(free_port)
mkdir -p "$work/state" "$work/patterns"
cat > "$work/etcha.json" <<JSON
{"build": {"signingKey": "$private_key"},
 "run": {"stateDir": "$work/state", "verifyKeys": ["$public_key"]},
 "httpServer": {"listenAddress": "127.0.0.1:$port", "tlsCertificatePath": "$work/certs/server.crt",
                "tlsKeyPath": "$work/certs/server.key", "rateLimitRate": "1000000-S"},
 "exec": {"command": "/bin/sh -c"},
 "sources": {"web": {"allowPush": true}}}
JSON
for round in $(seq 0 $((rounds + idle_rounds))); do
  echo "{run: [{id: 'c' + i, always: true, change: 'true'} for i in std.range(1, 100)]}
// round $round" > "$work/patterns/p$round.jsonnet"
  (cd "$work" && "$etcha" -c etcha.json build "patterns/p$round.jsonnet" "p$round.jwt" >/dev/null 2>>"$work/build.log") ||
    { cat "$work/build.log" >&2; exit 1; }
done
"$etcha" -c "$work/etcha.json" --log-level error run 2>"$work/agent.log" &
agent_pid=$!
wait_for "https://127.0.0.1:$port/etcha/v1/system/health"

# Each round: 100 spawns timed by hyperfine, then the edited token and the same token again, each
# pushed on one kept-alive connection and timed from the request's first byte to the answer's last.
python3 - "$port" "$work" "$rounds" "$idle_rounds" <<'PY'
import http.client, json, ssl, statistics, subprocess, sys, time
port, work, rounds, idle_rounds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
connection.request("GET", "/etcha/v1/system/health"); connection.getresponse().read()
def push(token):
    started = time.perf_counter()
    connection.request("POST", "/etcha/v1/push/web", body=token)
    response = connection.getresponse(); body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    result = json.loads(body)
    if response.status != 200 or result.get("err") or len(result.get("changedIDs") or []) != 100:
        sys.exit(f"error: push answered {response.status}: {body[:200]!r}")
    return elapsed
def spawn_median_ms():
    subprocess.run(["hyperfine", "-N", "--runs", "100", "--warmup", "5", "--export-json", f"{work}/spawn.json",
                    "/bin/sh -c true"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.load(open(f"{work}/spawn.json"))["results"][0]["median"] * 1000
def token(round):
    return open(f"{work}/p{round}.jwt", "rb").read().strip()
first = push(token(0)) - spawn_median_ms() * 100
edited, again, idle, spawns = [], [], [], []
for round in range(1, rounds + 1):
    spawn = spawn_median_ms() * 100
    spawns.append(spawn)
    edited.append(push(token(round)) - spawn)
    again.append(push(token(round)) - spawn)
for round in range(rounds + 1, rounds + idle_rounds + 1):
    time.sleep(12)
    spawn = spawn_median_ms() * 100
    spawns.append(spawn)
    idle.append(push(token(round)) - spawn)
spawn = statistics.median(spawns)
for label, excess, note in (
    ("an edited pattern (rendered again)", edited, f"; the agent's first push, which loads libjsonnet: {first:.0f} ms"),
    ("the same token again", again, ""),
    ("an edited pattern after 12 s without a render (standard library made again)", idle, ""),
):
    print(f"| push over HTTPS of a 100-command pattern, {label} | {statistics.median(excess) + spawn:.1f} ms "
          f"| 100 bare spawns (hyperfine): {spawn:.1f} ms | {statistics.median(excess):.1f} ms beyond the spawns, "
          f"median of {len(excess)} paired rounds ({min(excess):.1f} to {max(excess):.1f}){note} (target ≤ 30) | |")
PY
