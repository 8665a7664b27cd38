#!/usr/bin/env bash
# Benchmarks `sentinel proxy` (release build) against a direct loopback connection and against
# Debian's squid, in the same run, with the same allow-list:
#
#   1. CONNECT tunnel throughput for 1 GiB (BENCH_BYTES): direct, through sentinel, through squid;
#   2. the latency a new tunnel adds (CONNECT + 1-byte round trip vs. a direct connect + round
#      trip), p50 and p99 over BENCH_CONNECTIONS connections;
#   3. memory per idle tunnel: the proxy's RSS before and after BENCH_IDLE idle tunnels.
#
# Everything runs on loopback (servers on 127.0.0.2). Usage: scripts/bench-proxy.sh
# Environment: BENCH_BYTES (default 1073741824), BENCH_RUNS (3), BENCH_CONNECTIONS (2000),
# BENCH_IDLE (1000), SKIP_BUILD=1 to use the existing release binary, SENTINEL_BINARY=PATH for another.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --product sentinel >&2
fi
SENTINEL="${SENTINEL_BINARY:-$(swift build -c release --show-bin-path)/sentinel}"
SQUID="$(command -v squid || echo /usr/sbin/squid)"
[[ -x "$SENTINEL" ]] || { echo "bench-proxy: no release binary at $SENTINEL" >&2; exit 2; }
[[ -x "$SQUID" ]] || { echo "bench-proxy: squid is not installed (apt-get install squid)" >&2; exit 2; }

export SENTINEL SQUID
exec python3 - <<'PY'
import os, resource, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

SENTINEL = os.environ["SENTINEL"]
SQUID = os.environ["SQUID"]
TOTAL = int(os.environ.get("BENCH_BYTES", 1 << 30))
RUNS = int(os.environ.get("BENCH_RUNS", 3))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 2000))
IDLE = int(os.environ.get("BENCH_IDLE", 1000))
ORIGIN = "127.0.0.2"
CHUNK = 256 * 1024

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def free_port(host):
    s = socket.socket(); s.bind((host, 0)); port = s.getsockname()[1]; s.close(); return port

# --- Origin servers: a sink (counts bytes until EOF, answers the count) and an echo server. ---
def serve(listener, handler):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=handler, args=(conn,), daemon=True).start()

def sink(conn):
    # Length-prefixed, not end-of-stream: squid closes a CONNECT tunnel on half-close.
    header = b""
    while len(header) < 8:
        data = conn.recv(8 - len(header))
        if not data: conn.close(); return
        header += data
    want = int.from_bytes(header, "big")
    buf = bytearray(1 << 20); n = 0
    while n < want:
        r = conn.recv_into(buf, min(len(buf), want - n))
        if r == 0: break
        n += r
    conn.sendall(n.to_bytes(8, "big")); conn.close()

def echo(conn):
    try:
        while True:
            data = conn.recv(65536)
            if not data: break
            conn.sendall(data)
    except OSError:
        pass
    conn.close()

def listen(handler):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ORIGIN, 0)); s.listen(4096)
    threading.Thread(target=serve, args=(s, handler), daemon=True).start()
    return s.getsockname()[1]

sink_port, echo_port = listen(sink), listen(echo)

work = tempfile.mkdtemp(prefix="sentinel-bench-proxy-")
# squid drops root for its effective user (proxy), which must write its logs here.
os.chmod(work, 0o777)
with open(f"{work}/hosts", "w") as f: f.write(f"{ORIGIN} bench.test\n")
with open(f"{work}/allowed-domains.txt", "w") as f: f.write("bench.test\n")
with open(f"{work}/sentinel.yaml", "w") as f:
    f.write(f"allowed_hosts:\n  - {{host: bench.test, ports: [{sink_port}, {echo_port}]}}\n"
            "network_failsafe:\n  allow_private_network: true\napproval:\n  mode: reject\n")

# --- sentinel proxy ---
sentinel_port = free_port("127.0.0.1")
sentinel = subprocess.Popen(
    [SENTINEL, "proxy", "--listen", f"127.0.0.1:{sentinel_port}", "--policy", f"{work}/sentinel.yaml",
     "--hosts-file", f"{work}/hosts", "--audit-log", f"{work}/audit.log"],
    stderr=open(f"{work}/sentinel.err", "w"), env={"PATH": "/usr/bin:/bin", "SENTINEL_APPROVAL_MODE": "reject"})

# --- squid, same allow-list, same hosts file, no cache, no access log ---
squid_port = free_port("127.0.0.1")
with open(f"{work}/squid.conf", "w") as f:
    f.write(f"""http_port 127.0.0.1:{squid_port}
pid_filename {work}/squid.pid
cache_log {work}/cache.log
access_log none
cache deny all
cache_mem 8 MB
coredump_dir {work}
hosts_file {work}/hosts
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
max_filedescriptors 65536
acl allowed dstdomain "{work}/allowed-domains.txt"
acl bench_ports port {sink_port} {echo_port}
acl CONNECT method CONNECT
http_access allow CONNECT allowed bench_ports
http_access deny all
""")
squid = subprocess.Popen([SQUID, "-N", "-f", f"{work}/squid.conf"], stdout=subprocess.DEVNULL,
                         stderr=open(f"{work}/squid.err", "w"))

def wait_port(port):
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"bench-proxy: nothing listens on {port}; see {work}")

def tunnel(proxy_port, target_port):
    s = socket.create_connection(("127.0.0.1", proxy_port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(f"CONNECT bench.test:{target_port} HTTP/1.1\r\nHost: bench.test:{target_port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(1)
        if not data: raise RuntimeError(f"proxy {proxy_port} closed: {head!r}")
        head += data
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        raise RuntimeError(f"proxy {proxy_port} refused: {head!r}")
    return s

def direct(target_port):
    s = socket.create_connection((ORIGIN, target_port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def throughput(open_connection):
    s = open_connection(sink_port)
    block = b"\0" * CHUNK
    sent = 0
    start = time.perf_counter()
    s.sendall(TOTAL.to_bytes(8, "big"))
    while sent < TOTAL:
        s.sendall(block); sent += len(block)
    got = b""
    while len(got) < 8:
        data = s.recv(8 - len(got))
        if not data: break
        got += data
    elapsed = time.perf_counter() - start
    s.close()
    assert int.from_bytes(got, "big") == sent, "the sink did not receive every byte"
    return sent / elapsed / 1e6

def latency(open_connection, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        s = open_connection(echo_port)
        s.sendall(b"x")
        assert s.recv(1) == b"x"
        samples.append((time.perf_counter() - start) * 1e6)
        s.close()
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1])
    return 0

def idle_memory(proxy_port, pid):
    before = rss_kib(pid)
    tunnels = [tunnel(proxy_port, echo_port) for _ in range(IDLE)]
    time.sleep(0.5)
    after = rss_kib(pid)
    for t in tunnels: t.close()
    return (after - before) / IDLE

try:
    wait_port(sentinel_port); wait_port(squid_port)
    via_sentinel = lambda port: tunnel(sentinel_port, port)
    via_squid = lambda port: tunnel(squid_port, port)
    # Warm up every path once.
    for opener in (direct, via_sentinel, via_squid):
        s = opener(echo_port); s.sendall(b"w"); s.recv(1); s.close()

    results = {"direct": [], "sentinel": [], "squid": []}
    for _ in range(RUNS):
        results["direct"].append(throughput(direct))
        results["sentinel"].append(throughput(via_sentinel))
        results["squid"].append(throughput(via_squid))
    best = {k: max(v) for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"Throughput, {TOTAL / (1 << 30):.2f} GiB per run, {RUNS} runs (MB/s, best / median):")
    for k in ("direct", "sentinel", "squid"):
        print(f"  {k:9} {best[k]:9.0f} / {med[k]:9.0f}")
    print(f"  sentinel / direct = {med['sentinel'] / med['direct']:.2f} (goal >= 0.9)")
    print(f"  sentinel / squid  = {med['sentinel'] / med['squid']:.2f} (goal >= 1.0)")

    d50, d99 = latency(direct, CONNECTIONS)
    s50, s99 = latency(via_sentinel, CONNECTIONS)
    q50, q99 = latency(via_squid, CONNECTIONS)
    print(f"New connection + 1-byte round trip, {CONNECTIONS} connections (microseconds, p50 / p99):")
    print(f"  direct    {d50:8.0f} / {d99:8.0f}")
    print(f"  sentinel  {s50:8.0f} / {s99:8.0f}   added: {s50 - d50:.0f} / {s99 - d99:.0f} (goal p99 <= 1000)")
    print(f"  squid     {q50:8.0f} / {q99:8.0f}   added: {q50 - d50:.0f} / {q99 - d99:.0f}")

    print(f"Memory per idle tunnel ({IDLE} tunnels, RSS delta):")
    print(f"  sentinel  {idle_memory(sentinel_port, sentinel.pid):.1f} KiB")
    print(f"  squid     {idle_memory(squid_port, squid.pid):.1f} KiB (squid -N: one process)")
finally:
    sentinel.send_signal(signal.SIGTERM)
    squid.send_signal(signal.SIGTERM)
    for p in (sentinel, squid):
        try: p.wait(timeout=10)
        except subprocess.TimeoutExpired: p.kill()
    shutil.rmtree(work, ignore_errors=True)
PY
