#!/usr/bin/env bash
# `make demo`: the demo agent in the foreground and, next to it, a Prometheus on 127.0.0.1:9090
# scraping it with examples/prometheus/prometheus.yml and the example alert rules. Ctrl-C stops both.
set -euo pipefail
demo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$demo/etcha" version > /dev/null # makes the keys, certificates and pulled JWT on first use

prometheus_pid=
if ! command -v prometheus > /dev/null; then
  echo "prometheus is not installed: starting the agent alone"
elif (exec 3<> /dev/tcp/127.0.0.1/9090) 2> /dev/null; then
  echo "127.0.0.1:9090 is taken: starting the agent without its Prometheus"
else
  prometheus --config.file="$demo/../prometheus/prometheus.yml" --storage.tsdb.path="$demo/state/prometheus" \
    --web.listen-address=127.0.0.1:9090 > "$demo/state/prometheus.log" 2>&1 &
  prometheus_pid=$!
  echo "Prometheus: http://127.0.0.1:9090 (log in examples/demo/state/prometheus.log)"
fi
trap '[ -z "$prometheus_pid" ] || kill "$prometheus_pid" 2> /dev/null || true' EXIT
"$demo/etcha" run
