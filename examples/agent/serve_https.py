#!/usr/bin/env python3
"""Stands in for the one host README.md's agent may reach: an HTTPS server on loopback, with a
certificate authority of its own (made with openssl, thrown away afterwards).

    python3 examples/agent/serve_https.py --ca agent-workspace/demo-ca.pem --pid-file server.pid

It writes the authority's certificate to --ca, starts serving, and returns; the server answers
every GET with "hello from HOST" and stops by itself after --lifetime seconds (or `kill`).
--foreground keeps it in the foreground (containers).
"""
import argparse
import http.server
import os
import pathlib
import signal
import ssl
import subprocess
import sys
import tempfile


def make_certificates(directory, names):
    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True)

    d = pathlib.Path(directory)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "2", "-subj", "/CN=Sentinel demo CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", d / "host.key", "-out", d / "host.csr", "-subj", f"/CN={names[0]}")
    (d / "host.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=" + ",".join(f"DNS:{name}" for name in names) + "\n")
    openssl("x509", "-req", "-in", d / "host.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
            "-CAcreateserial", "-out", d / "host.pem", "-days", "2", "-extfile", d / "host.ext")
    return d / "ca.pem", d / "host.pem", d / "host.key"


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {self.headers.get('Host', '?').split(':')[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    log = sys.stderr

    def log_message(self, format, *arguments):
        print(f"serve_https: {self.address_string()} {format % arguments}", file=self.log, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--names", default="api.example.test,other.example.test")
    parser.add_argument("--ca", required=True, help="where to write the authority's certificate")
    parser.add_argument("--pid-file", help="where to write the server's process id")
    parser.add_argument("--lifetime", type=int, default=600, help="seconds before the server stops by itself")
    parser.add_argument("--log", help="append a line per request to this file (default: stderr)")
    parser.add_argument("--foreground", action="store_true")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        ca, certificate, key = make_certificates(directory, options.names.split(","))
        pathlib.Path(options.ca).write_bytes(ca.read_bytes())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
    if options.log:
        Hello.log = open(options.log, "a")
    server = http.server.ThreadingHTTPServer((options.address, options.port), Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = f"https://{options.names.split(',')[0]}:{options.port}"
    if not options.foreground:
        # Listening already: whoever runs the agent next finds the server there.
        child = os.fork()
        if child:
            if options.pid_file:
                pathlib.Path(options.pid_file).write_text(f"{child}\n")
            print(f"serve_https: {url} on {options.address} (pid {child}, CA in {options.ca})", flush=True)
            os._exit(0)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for descriptor in (0, 1, 2):  # nothing of the caller's stays open (a pipe would never close)
            os.dup2(devnull, descriptor)
    else:
        print(f"serve_https: {url} on {options.address}", flush=True)
    signal.signal(signal.SIGALRM, lambda *_: os._exit(0))
    signal.alarm(options.lifetime)
    server.serve_forever()


if __name__ == "__main__":
    main()
