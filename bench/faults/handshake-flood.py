#!/usr/bin/env python3
# A TLS handshake flood against a running agent: PID PORT SECONDS CLIENTS METRICS-KEY. CLIENTS
# processes open, handshake and close connections as fast as they can for SECONDS, half with
# TLS 1.2 and half with TLS 1.3; meanwhile this process scrapes the metrics endpoint every 0.25 s on
# a new connection from 127.0.0.2 (another client). Then it waits up to 20 s for resident memory to settle. Prints the figures as
# JSON: handshakes, scrapes and failed scrapes, and VmRSS (KiB) before, at the end, and settled.
import json, multiprocessing, socket, ssl, sys, time
pid, port, seconds, clients, key = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def context(version=None):
    made = ssl.create_default_context(); made.check_hostname = False; made.verify_mode = ssl.CERT_NONE
    if version: made.minimum_version = made.maximum_version = version
    return made

def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])

def flood(index, until, counts):
    made = context(ssl.TLSVersion.TLSv1_2 if index % 2 == 0 else ssl.TLSVersion.TLSv1_3)
    done = 0
    while time.time() < until:
        try:
            made.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)).close()
            done += 1
        except OSError:
            pass
    counts.put(done)

def scrape(made):
    try:
        with made.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=2, source_address=("127.0.0.2", 0))) as tls:
            tls.settimeout(2)
            tls.sendall(b"GET /etcha/v1/system/metrics?key=%s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % key.encode())
            data = b""
            while True:
                more = tls.recv(65536)
                if not more: break
                data += more
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False

before = rss()
until = time.time() + seconds
counts = multiprocessing.Queue()
workers = [multiprocessing.Process(target=flood, args=(i, until, counts)) for i in range(clients)]
for worker in workers: worker.start()
made, scrapes, failed = context(), 0, 0
while time.time() < until:
    scrapes += 1
    failed += 0 if scrape(made) else 1
    time.sleep(0.25)
handshakes = sum(counts.get() for _ in workers)
for worker in workers: worker.join()
peak = rss()
settled = peak
for _ in range(40):
    time.sleep(0.5)
    settled = rss()
    if settled - before < 10 * 1024: break
print(json.dumps({"seconds": seconds, "clients": clients, "handshakes": handshakes, "scrapes": scrapes,
                  "failedScrapes": failed, "rssBeforeKiB": before, "rssEndKiB": peak, "rssSettledKiB": settled}))
