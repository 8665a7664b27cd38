#!/usr/bin/env python3
# How busy a direct 1 GiB loopback TCP stream keeps this machine: the CPU a proxy would have to
# share (docs/PERFORMANCE.md, egress proxy). Prints MB/s and the share of all cores in use.
import socket, os, time
N = 1 << 30
def cpu():
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f)); idle = v[3] + v[4]; return sum(v), idle
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1); port = srv.getsockname()[1]
pid = os.fork()
if pid == 0:
    c, _ = srv.accept(); got = 0
    while True:
        b = c.recv(1 << 20)
        if not b: break
        got += len(b)
    os._exit(0)
s = socket.create_connection(("127.0.0.1", port)); buf = b"x" * (1 << 20)
t0, (tot0, idle0) = time.time(), cpu()
sent = 0
while sent < N:
    s.sendall(buf); sent += len(buf)
s.close(); os.waitpid(pid, 0)
t1, (tot1, idle1) = time.time(), cpu()
busy = 1 - (idle1 - idle0) / (tot1 - tot0)
print(f"direct: {N/(t1-t0)/1e6:.0f} MB/s, machine busy {busy*100:.0f}% of 2 cores over {t1-t0:.2f}s")
