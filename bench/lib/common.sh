# Shared helpers for the benchmark scripts (sourced, not run).

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until an HTTPS URL answers (any status), up to 20 s.
wait_for() {
  for _ in $(seq 1 200); do
    curl -sk -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  echo "error: $1 did not come up" >&2
  return 1
}

# Runs wrk and prints "requests_per_second p50_ms p99_ms".
wrk_measure() { # threads connections seconds url
  wrk -t"$1" -c"$2" -d"$3"s --latency "$4" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ *50%/ { p50 = ms($2) }
    /^ *99%/ { p99 = ms($2) }
    /^Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { if (bad > 0) { print "error: " bad " non-2xx answers" > "/dev/stderr"; exit 1 } printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}

# Resident memory of a process in MiB.
rss_mib() {
  awk '/^VmRSS/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

# Anonymous memory (heap and stacks: what the process itself allocated) in MiB.
anon_mib() {
  awk '/^Anonymous/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/smaps_rollup"
}

# 10,000 HTTPS requests over 4 keep-alive connections; fails on any non-200 answer.
many_requests() { # url count
  python3 - "$1" "$2" <<'PY'
import http.client, ssl, sys, threading, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1]); total = int(sys.argv[2])
context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
failures = []
def worker(count):
    connection = http.client.HTTPSConnection(url.hostname, url.port, context=context)
    for _ in range(count):
        connection.request("POST", url.path + ("?" + url.query if url.query else ""), body=b"x")
        response = connection.getresponse(); response.read()
        if response.status != 200: failures.append(response.status)
threads = [threading.Thread(target=worker, args=(total // 4,)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
sys.exit(1 if failures else 0)
PY
}
