#!/usr/bin/env python3
"""Paired latency of two or more running agents (or any HTTPS servers) on one path.

    bench/paired.py PORT,PORT[,PORT...] [REQUESTS] [PATH]

One keep-alive HTTPS connection per port; the requests alternate between the ports (the order
rotates each round), so the drift of a shared machine's speed, which moved 2-second `wrk` blocks
by more than the differences sought, hits every server alike. Prints each port's median, and for
every port after the first the median of the per-round differences from the first: the figure to
compare builds by. The client is Python, so absolute times include its own overhead; the
differences do not.

Example (a build before and after a change, both on the bench config of bench/listener.sh):
    bench/paired.py 18501,18503 3000 /hook
"""
import http.client
import ssl
import statistics
import sys
import time

ports = [int(port) for port in sys.argv[1].split(",")]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
path = sys.argv[3] if len(sys.argv) > 3 else "/hook"
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
connections = {port: http.client.HTTPSConnection("127.0.0.1", port, context=context) for port in ports}


def request(port):
    connection = connections[port]
    started = time.perf_counter_ns()
    connection.request("GET", path)
    connection.getresponse().read()
    return (time.perf_counter_ns() - started) / 1e3


for port in ports:
    for _ in range(50):
        request(port)
latencies = {port: [] for port in ports}
for round_number in range(rounds):
    first = round_number % len(ports)
    for port in ports[first:] + ports[:first]:
        latencies[port].append(request(port))
base = ports[0]
for port in ports:
    line = f"{port}: median {statistics.median(latencies[port]):.1f} µs"
    if port != base:
        differences = [b - a for a, b in zip(latencies[base], latencies[port])]
        line += f"; paired difference from {base}: median {statistics.median(differences):+.1f} µs"
    print(line)
