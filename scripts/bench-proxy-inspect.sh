#!/usr/bin/env bash
# What inspection costs: an HTTPS request to an inspected host (the proxy ends the client's TLS,
# decides the request, injects a header, and opens its own verified TLS upstream) against the
# same request through a plain CONNECT tunnel, in the same run, to the same TLS origin:
#
#   1. latency of one request on a new connection (CONNECT + TLS + GET of 64 bytes), p50 and p99
#      over BENCH_REQUESTS requests per mode, interleaved so both modes see the same load;
#   2. throughput of one response of BENCH_BYTES (default 256 MiB), median of BENCH_RUNS.
#
# Everything runs on loopback: the origin (Python's ssl, a test CA made here with openssl) on
# 127.0.0.2, names mapped by the proxy's --hosts-file. Usage: scripts/bench-proxy-inspect.sh
# Environment: BENCH_REQUESTS (500), BENCH_BYTES (268435456), BENCH_RUNS (3), SKIP_BUILD=1 to use
# the existing release binary, SENTINEL_BINARY=PATH for another (a debug build, say).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${SENTINEL_BINARY:-}" && "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --product sentinel >&2
fi
SENTINEL="${SENTINEL_BINARY:-$(swift build -c release --show-bin-path)/sentinel}"
[[ -x "$SENTINEL" ]] || { echo "bench-proxy-inspect: no binary at $SENTINEL" >&2; exit 2; }
command -v openssl >/dev/null || { echo "bench-proxy-inspect: openssl is not installed" >&2; exit 2; }

export SENTINEL
exec python3 - <<'PY'
import http.client, os, shutil, socket, ssl, statistics, subprocess, sys, tempfile, threading, time

SENTINEL = os.environ["SENTINEL"]
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 500))
TOTAL = int(os.environ.get("BENCH_BYTES", 256 << 20))
RUNS = int(os.environ.get("BENCH_RUNS", 3))
ORIGIN = "127.0.0.2"
work = tempfile.mkdtemp(prefix="sentinel-bench-inspect-")

def run(*args):
    subprocess.run(args, cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

# The origin's own PKI: the proxy trusts it with --upstream-ca; the plain-tunnel client trusts it
# directly; the inspected client trusts only the Sentinel CA.
key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
run("openssl", "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
run("openssl", "req", *key, "-keyout", "origin.key", "-out", "origin.csr", "-subj", "/CN=api.bench.test")
with open(os.path.join(work, "origin.ext"), "w") as f:
    f.write("subjectAltName=DNS:api.bench.test,DNS:plain.bench.test\nextendedKeyUsage=serverAuth\n")
run("openssl", "x509", "-req", "-in", "origin.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "origin.pem", "-days", "2", "-extfile", "origin.ext")

# --- The origin: HTTP/1.1 over TLS, one request per connection. ---
server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_context.load_cert_chain(os.path.join(work, "origin.pem"), os.path.join(work, "origin.key"))
server_context.set_alpn_protocols(["http/1.1"])
BLOCK = b"x" * (1 << 20)

def handle(raw):
    try:
        conn = server_context.wrap_socket(raw, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data: return
            head += data
        line = head.split(b"\r\n", 1)[0].decode()
        path = line.split(" ")[1]
        size = int(path.split("n=")[1]) if "n=" in path else 64
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        left = size
        while left > 0:
            chunk = BLOCK[:min(left, len(BLOCK))]
            conn.sendall(chunk); left -= len(chunk)
        conn.close()
    except (OSError, ssl.SSLError):
        pass
    finally:
        raw.close()

listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((ORIGIN, 0)); listener.listen(1024)
origin_port = listener.getsockname()[1]
def serve():
    while True:
        try: raw, _ = listener.accept()
        except OSError: return
        threading.Thread(target=handle, args=(raw,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()

# --- The proxy. ---
with open(os.path.join(work, "hosts"), "w") as f:
    f.write(f"{ORIGIN} api.bench.test\n{ORIGIN} plain.bench.test\n")
with open(os.path.join(work, "sentinel.yaml"), "w") as f:
    f.write(f"""allowed_hosts:
  - {{host: api.bench.test, ports: [{origin_port}], inspect: true, methods: [GET], paths: ["/*"],
     inject: [{{header: Authorization, value: "Bearer ${{BENCH_TOKEN}}"}}]}}
  - {{host: plain.bench.test, ports: [{origin_port}]}}
network_failsafe: {{allow_private_network: true}}
approval: {{mode: reject}}
""")
proxy_port = (lambda s: (s.bind(("127.0.0.1", 0)), s.getsockname()[1], s.close())[1])(socket.socket())
environment = dict(os.environ, BENCH_TOKEN="bench-secret", HOME=work)
proxy = subprocess.Popen([SENTINEL, "proxy", "--listen", f"127.0.0.1:{proxy_port}", "--policy", "sentinel.yaml",
                          "--hosts-file", "hosts", "--audit-log", "audit.log", "--ca-dir", "ca-dir",
                          "--upstream-ca", "ca.pem"], cwd=work, env=environment,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
line = proxy.stderr.readline()
if "listening" not in line:
    print("bench-proxy-inspect: the proxy did not start: " + line + proxy.stderr.read(), file=sys.stderr); sys.exit(2)
threading.Thread(target=lambda: proxy.stderr.read(), daemon=True).start()

contexts = {
    "plain": ssl.create_default_context(cafile=os.path.join(work, "ca.pem")),
    "inspect": ssl.create_default_context(cafile=os.path.join(work, "ca-dir", "ca.pem")),
}
hosts = {"plain": "plain.bench.test", "inspect": "api.bench.test"}

def request(mode, path):
    conn = http.client.HTTPSConnection("127.0.0.1", proxy_port, context=contexts[mode], timeout=60)
    conn.set_tunnel(hosts[mode], origin_port)
    conn.request("GET", path)
    response = conn.getresponse()
    received = 0
    while True:
        data = response.read(1 << 20)
        if not data: break
        received += len(data)
    conn.close()
    if response.status != 200: raise SystemExit(f"{mode} {path}: status {response.status}")
    return received

for mode in contexts: request(mode, "/warm")  # the first certificate is issued here, not measured

latency = {"plain": [], "inspect": []}
for _ in range(REQUESTS):
    for mode in ("plain", "inspect"):
        started = time.perf_counter(); request(mode, "/small"); latency[mode].append(time.perf_counter() - started)

throughput = {"plain": [], "inspect": []}
for _ in range(RUNS):
    for mode in ("plain", "inspect"):
        started = time.perf_counter(); got = request(mode, f"/big?n={TOTAL}")
        elapsed = time.perf_counter() - started
        assert got == TOTAL, (mode, got)
        throughput[mode].append(TOTAL / elapsed / 1e6)

proxy.terminate(); proxy.wait(timeout=30)
listener.close()
shutil.rmtree(work, ignore_errors=True)

def pct(values, p):
    values = sorted(values); return values[min(len(values) - 1, int(len(values) * p))]
us = lambda s: f"{s * 1e6:.0f}"
p50 = {m: pct(v, 0.50) for m, v in latency.items()}
p99 = {m: pct(v, 0.99) for m, v in latency.items()}
mbs = {m: statistics.median(v) for m, v in throughput.items()}
print(f"| measure | plain tunnel | inspected | inspected / plain |")
print(f"|---|---|---|---|")
print(f"| request on a new connection, p50 (µs), {REQUESTS} each | {us(p50['plain'])} | {us(p50['inspect'])} "
      f"(added {us(p50['inspect'] - p50['plain'])}) | {p50['inspect'] / p50['plain']:.2f}× |")
print(f"| request on a new connection, p99 (µs) | {us(p99['plain'])} | {us(p99['inspect'])} "
      f"(added {us(p99['inspect'] - p99['plain'])}) | {p99['inspect'] / p99['plain']:.2f}× |")
print(f"| one response of {TOTAL >> 20} MiB, median of {RUNS} (MB/s) | {mbs['plain']:.0f} | {mbs['inspect']:.0f} | "
      f"{mbs['inspect'] / mbs['plain']:.2f}× |")
PY
