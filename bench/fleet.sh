#!/usr/bin/env bash
# Fleet simulation on loopback: AGENTS agents pull one signed pattern from nginx every FREQUENCY,
# one Prometheus scrapes them all every second, and ROUNDS new versions are published. Measures:
#   - convergence: seconds from publishing a JWT until the last agent has applied it
#     (target ≤ FREQUENCY + 2 s per round; a round gives up after 60 s);
#   - scrape success: share of Prometheus scrapes of the agents that succeeded (target 100 %);
#   - resources: the agents' resident memory (RSS, and PSS) and own CPU seconds at the end.
# Prints a Markdown table and writes bench/results/fleet.json; exits 0 only if both targets are met.
# Everything lives in a mktemp -d directory that is removed, with every process started, on exit.
#   AGENTS=50 FREQUENCY=5s ROUNDS=3 ETCHA=.build/release/etcha bench/fleet.sh
set -euo pipefail
AGENTS="${AGENTS:-50}" FREQUENCY="${FREQUENCY:-5s}" ROUNDS="${ROUNDS:-3}"
ETCHA="${ETCHA:-/work/main/.build/release/etcha}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
started="$EPOCHREALTIME"
dir="$(mktemp -d -t etcha-fleet.XXXXXX)"
pids=() agent_pids=() nginx_pid=""  # every long-running process, stopped on exit

cleanup() {
  local status=$? pid alive
  trap - EXIT INT TERM
  # nginx with master_process off may ignore SIGTERM (signal mask inherited from bash): kill it.
  [[ -n "$nginx_pid" ]] && { kill -9 "$nginx_pid"; wait "$nginx_pid"; } 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do  # up to 5 s for graceful shutdowns, then force
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM  # Ctrl-C or kill: exit through cleanup

log() { printf '[fleet %6.1fs] %s\n' "$(elapsed)" "$*" >&2; }
elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
die() { log "error: $*"; exit 1; }

# N distinct free loopback ports: all sockets are held open together so none repeats.
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# A Go duration ("5s", "1m30s", "500ms") in seconds, for the convergence target.
duration_seconds() {
  python3 -c 'import re, sys
units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
parts = re.findall(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)", sys.argv[1])
print(sum(float(n) * units[u] for n, u in parts))' "$1"
}

# Polls until $2 answers (curl succeeds and the body matches $3 if given), for up to $1 seconds.
wait_url() { # seconds url [expected body]
  local deadline=$((SECONDS + $1)) body
  while ((SECONDS < deadline)); do
    body="$(curl -sf --max-time 2 --cacert "$dir/certs/ca.crt" "$2" 2>/dev/null)" && [[ -z "${3:-}" || "$body" == "$3" ]] && return 0
    sleep 0.2
  done
  return 1
}

# Builds the pattern with VERSION=$1 and swaps it in atomically (nginx never serves half a file).
publish() {
  VERSION="$1" "$ETCHA" -c "$dir/builder.json" --log-level error build "$dir/pattern.jsonnet" "$dir/fleet.jwt.tmp" >/dev/null
  mv "$dir/fleet.jwt.tmp" "$dir/www/fleet.jwt"
}

# Succeeds when every agent's version file holds $1 (builtin read: no fork per file).
all_have() {
  local file line
  for file in "${version_files[@]}"; do
    line="" && { read -r line < "$file"; } 2>/dev/null || true
    [[ "$line" == "$1" ]] || return 1
  done
}

# Waits (100 ms polls, at most 60 s) for every agent to apply version $1 published at epoch $2; prints
# seconds from publishing to the newest version file's mtime (exact, unlike the poll) or "timeout".
converge() {
  local deadline=$((SECONDS + 60))
  until all_have "$1"; do
    ((SECONDS < deadline)) || { echo timeout; return 0; }
    sleep 0.1
  done
  stat -c %.6Y "${version_files[@]}" | sort -n | tail -n 1 | awk -v p="$2" '{ printf "%.2f\n", $1 - p }'
}

# --- 1. TLS material and signing keys ----------------------------------------------------------
[[ -x "$ETCHA" ]] || die "ETCHA=$ETCHA is not executable"
((AGENTS >= 1 && ROUNDS >= 1)) || die "AGENTS and ROUNDS must be at least 1"
freq_s="$(duration_seconds "$FREQUENCY")"
target_s="$(awk -v f="$freq_s" 'BEGIN { print f + 2 }')"
OUT="$dir/certs" "$repo/certs/generate.sh" >/dev/null
keys="$("$ETCHA" generate-keys --type ed25519 fleet)"
read -r private_key public_key <<<"$(python3 -c 'import json, sys; k = json.loads(sys.argv[1]); print(k["privateKey"], k["publicKey"])' "$keys")"
metrics_key="$(openssl rand -hex 16)"
printf '%s' "$metrics_key" > "$dir/metrics.key"  # Prometheus sends it as a Bearer token
read -r -a ports <<<"$(free_ports $((AGENTS + 2)))"
nginx_port="${ports[0]}" prometheus_port="${ports[1]}" agent_ports=("${ports[@]:2}")

# --- 2. nginx serving the JWT ------------------------------------------------------------------
mkdir -p "$dir/www" "$dir/nginx"
cat > "$dir/nginx/nginx.conf" <<CONF
daemon off; master_process off; pid $dir/nginx/nginx.pid; error_log $dir/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body;  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;    uwsgi_temp_path $dir/nginx/uwsgi;  scgi_temp_path $dir/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port ssl; root $dir/www;
    ssl_certificate $dir/certs/server.crt; ssl_certificate_key $dir/certs/server.key;
  }
}
CONF
/usr/sbin/nginx -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" &
nginx_pid=$!

# --- 3. the pattern and its first JWT ----------------------------------------------------------
# version comes from the JWT's etchaRunVars (set at build time from $VERSION); dir from each
# agent's own config, so one JWT writes each agent's own file.
cat > "$dir/pattern.jsonnet" <<'JSONNET'
local config = std.native('getConfig')();
local version = std.get(config.vars, 'version', '0');
local file = std.get(config.vars, 'dir', '/nonexistent') + '/version';
{
  runVars: { version: std.native('getEnv')('VERSION', '0') },
  run: [{
    id: 'fleet version',
    check: "grep -qx '%s' '%s' 2>/dev/null" % [version, file],
    change: "echo '%s' > '%s.tmp' && mv '%s.tmp' '%s'" % [version, file, file, file],
  }],
}
JSONNET
printf '{"build": {"signingKey": "%s"}, "exec": {"command": "/bin/sh -c"}}\n' "$private_key" > "$dir/builder.json"
publish 1
wait_url 10 "https://127.0.0.1:$nginx_port/fleet.jwt" || die "nginx did not serve the JWT (see nginx error log)"

# --- 4. the agents -----------------------------------------------------------------------------
log "starting $AGENTS agents (runFrequency $FREQUENCY)"
version_files=()
for i in $(seq 0 $((AGENTS - 1))); do
  agent_dir="$dir/agents/$i"
  mkdir -p "$agent_dir"
  version_files+=("$agent_dir/version")
  cat > "$agent_dir/config.json" <<JSON
{"run": {"stateDir": "$agent_dir", "verifyKeys": ["$public_key"], "systemMetricsKey": "$metrics_key"},
 "httpServer": {"listenAddress": "127.0.0.1:${agent_ports[i]}",
                "tlsCertificatePath": "$dir/certs/server.crt", "tlsKeyPath": "$dir/certs/server.key"},
 "httpClient": {"tlsCAPath": "$dir/certs/ca.crt"},
 "exec": {"command": "/bin/sh -c"},
 "vars": {"dir": "$agent_dir"},
 "sources": {"fleet": {"pullPaths": ["https://127.0.0.1:$nginx_port/fleet.jwt"], "runFrequency": "$FREQUENCY"}}}
JSON
  "$ETCHA" -c "$agent_dir/config.json" run > "$agent_dir/agent.log" 2>&1 &
  pids+=($!) agent_pids+=($!)
done
for port in "${agent_ports[@]}"; do
  wait_url 30 "https://127.0.0.1:$port/etcha/v1/system/health" ok || die "agent on port $port is not healthy"
done
log "all agents healthy; waiting for them to apply version 1"
[[ "$(converge 1 "$EPOCHREALTIME")" != timeout ]] || die "agents did not apply the first JWT"

# --- 5. Prometheus -----------------------------------------------------------------------------
targets="$(printf "'127.0.0.1:%s'," "${agent_ports[@]}")"
cat > "$dir/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: etcha
    scheme: https
    metrics_path: /etcha/v1/system/metrics
    authorization: {type: Bearer, credentials_file: $dir/metrics.key}
    tls_config: {ca_file: $dir/certs/ca.crt}
    static_configs: [{targets: [${targets%,}]}]
YAML
promtool check config "$dir/prometheus.yml" >/dev/null || die "generated Prometheus config is invalid"
prometheus_started="$EPOCHREALTIME"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn > "$dir/prometheus.log" 2>&1 &
pids+=($!)
prom="http://127.0.0.1:$prometheus_port"
targets_up() {
  local answer
  answer="$(curl -sf --max-time 2 "$prom/api/v1/targets?state=active" 2>/dev/null)" || return 1
  python3 -c 'import json, sys
t = json.loads(sys.argv[1])["data"]["activeTargets"]
sys.exit(0 if sum(x["health"] == "up" for x in t) == int(sys.argv[2]) else 1)' "$answer" "$AGENTS"
}
deadline=$((SECONDS + 60))
until targets_up; do ((SECONDS < deadline)) || die "Prometheus did not see all $AGENTS targets up"; sleep 0.5; done
log "Prometheus scrapes all $AGENTS agents"

# --- 6. convergence rounds ---------------------------------------------------------------------
rounds=()
for round in $(seq 1 "$ROUNDS"); do
  version=$((round + 1))
  publish "$version"
  seconds="$(converge "$version" "$EPOCHREALTIME")"
  rounds+=("$seconds")
  log "round $round: version $version on all agents after ${seconds} s (target ≤ $target_s s)"
done

# --- 7. scrape success over Prometheus's whole run ---------------------------------------------
sleep 2  # let the last scrapes be ingested
at="$EPOCHREALTIME"  # both queries are evaluated at this instant so their counts agree
window=$(awk -v a="$prometheus_started" -v b="$at" 'BEGIN { printf "%d", b - a + 1 }')
query() { # PromQL → the single value, or 0
  curl -sf --max-time 10 "$prom/api/v1/query" --data-urlencode "query=$1" --data-urlencode "time=$at" | python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}
# up is 1 for a successful scrape and 0 for a failed one: count = scrapes, sum = successful ones.
scrapes="$(query "sum(count_over_time(up{job=\"etcha\"}[${window}s]))")" || die "Prometheus query failed"
scrapes_ok="$(query "sum(sum_over_time(up{job=\"etcha\"}[${window}s]))")" || die "Prometheus query failed"

# --- 8. agent resources, 9. report -------------------------------------------------------------
python3 - "$repo/bench/results/fleet.json" "${agent_pids[*]}" "${rounds[*]}" <<PY
import json, os, sys
out, pids, rounds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
tick = os.sysconf("SC_CLK_TCK")
rss_kib = pss_kib = cpu = 0.0
for pid in pids:  # VmRSS, and utime + stime (fields 14 and 15, counted after the ")" of comm)
    rss_kib += next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    # RSS counts shared library pages once per agent; PSS splits them, so its sum is the real total.
    pss_kib += next(int(l.split()[1]) for l in open(f"/proc/{pid}/smaps_rollup") if l.startswith("Pss:"))
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu += (int(stat[11]) + int(stat[12])) / tick
values = [float(r) for r in rounds if r != "timeout"]
worst = "timeout" if "timeout" in rounds else max(values)
converged = worst != "timeout" and worst <= $target_s
scrapes, ok = float("$scrapes"), float("$scrapes_ok")
success = 100 * ok / scrapes if scrapes else 0.0
result = {
    "agents": $AGENTS, "runFrequency": "$FREQUENCY", "convergenceSeconds": [r if r == "timeout" else float(r) for r in rounds],
    "convergenceWorstSeconds": worst, "convergenceTargetSeconds": $target_s, "convergenceTargetMet": converged,
    "scrapeSuccessPercent": round(success, 3), "scrapes": int(scrapes), "scrapesFailed": int(scrapes - ok),
    "scrapeTargetMet": scrapes > 0 and ok == scrapes,
    "agentRSSMiBTotal": round(rss_kib / 1024, 1), "agentRSSMiBAverage": round(rss_kib / 1024 / len(pids), 2),
    "agentPSSMiBTotal": round(pss_kib / 1024, 1), "agentCPUSecondsTotal": round(cpu, 2), "runSeconds": round(float("$EPOCHREALTIME") - float("$started"), 1),
    "cpus": os.cpu_count(), "etcha": "$("$ETCHA" version | awk 'NR == 1 { print $2 }')",
}
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump(result, open(out, "w"), indent=2); open(out, "a").write("\n")
yes = lambda b: "yes" if b else "no"
rows = [("agents", result["agents"]), ("runFrequency", result["runFrequency"]),
        ("convergence per round (s, last agent)", ", ".join(str(r) for r in result["convergenceSeconds"])),
        ("convergence worst (s)", worst),
        (f"convergence target ≤ {$target_s:g} s met", yes(converged)),
        ("scrape success", f"{success:.2f} % ({int(ok)} of {int(scrapes)} scrapes)"),
        ("scrape target 100 % met", yes(result["scrapeTargetMet"])),
        ("agent RSS total (MiB)", result["agentRSSMiBTotal"]), ("agent RSS average (MiB)", result["agentRSSMiBAverage"]),
        ("agent PSS total (MiB, shared pages split)", result["agentPSSMiBTotal"]),
        ("agent CPU total (s, whole run)", result["agentCPUSecondsTotal"]), ("run duration (s)", result["runSeconds"])]
print("| fleet | result |\n| --- | --- |")
for name, value in rows: print(f"| {name} | {value} |")
sys.exit(0 if converged and result["scrapeTargetMet"] else 1)
PY
