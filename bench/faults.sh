#!/usr/bin/env bash
# Two faults against the release agent, for the table of docs/reliability.md: descriptor exhaustion
# (bench/faults/exhaust-descriptors.py) and a TLS handshake flood of FLOOD_SECONDS (default 20) from
# FLOOD_CLIENTS (default 3) processes (bench/faults/handshake-flood.py). Each starts a fresh agent.
# Writes bench/results/faults.json; exits 0 only when both met their targets.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
ETCHA="$(realpath "${ETCHA:-$repo/.build/release/etcha}")"
FLOOD_SECONDS="${FLOOD_SECONDS:-20}" FLOOD_CLIENTS="${FLOOD_CLIENTS:-3}"
work="$(mktemp -d)"
agent_pid=""
stop_agent() {
  if [[ -n "$agent_pid" ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
  fi
  agent_pid=""
}
trap 'stop_agent; rm -rf "$work"' EXIT

# A config trusting a fresh key, a web source taking pushes, and a token signed by that key.
keys=$("$ETCHA" generate-keys)
python3 - "$work" "$keys" > "$work/etcha.json" <<'PY'
import json, sys
work, keys = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({"build": {"signingKey": keys["privateKey"]},
                  "run": {"verifyKeys": [keys["publicKey"]], "stateDir": work + "/state", "systemMetricsKey": "m"},
                  "httpServer": {"listenAddress": "127.0.0.1:0", "rateLimitRate": "1-M"},
                  "exec": {"command": "/bin/sh -c"}, "sources": {"web": {"allowPush": True}}}))
PY
echo "{run: [{id: 'a', always: true, change: 'true'}]}" > "$work/a.jsonnet"
(cd "$work" && "$ETCHA" -c etcha.json build a.jsonnet a.jwt > /dev/null)

start_agent() {
  (cd "$work" && exec "$ETCHA" -c etcha.json run 2> "$work/agent.log") &
  agent_pid=$!
  for _ in $(seq 100); do
    port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/agent.log" | cut -d: -f2) && [[ -n "$port" ]] && return
    sleep 0.1
  done
  echo "error: the agent did not start" >&2; cat "$work/agent.log" >&2; exit 1
}

start_agent
descriptors=$(python3 "$repo/bench/faults/exhaust-descriptors.py" "$agent_pid" "$port" "$work/a.jwt" | tail -n 1)
stop_agent
start_agent
flood=$(python3 "$repo/bench/faults/handshake-flood.py" "$agent_pid" "$port" "$FLOOD_SECONDS" "$FLOOD_CLIENTS" m)
stop_agent

mkdir -p "$repo/bench/results"
python3 - "$descriptors" "$flood" > "$repo/bench/results/faults.json" <<'PY'
import json, sys
descriptors, flood = json.loads(sys.argv[1]), json.loads(sys.argv[2])
descriptors["targetMet"] = (descriptors["exhaustedStatus"] == 503 and descriptors["restoredStatus"] == 200
                            and descriptors["cpuPercent"] < 30)
flood["targetMet"] = flood["failedScrapes"] == 0 and flood["rssSettledKiB"] - flood["rssBeforeKiB"] < 10 * 1024
print(json.dumps({"descriptors": descriptors, "flood": flood}, indent=1))
PY
cat "$repo/bench/results/faults.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["descriptors"]["targetMet"] and r["flood"]["targetMet"] else 1)' "$repo/bench/results/faults.json"
