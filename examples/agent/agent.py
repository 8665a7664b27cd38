"""An agent whose only way out of its sandbox is sentinel proxy, which lets it reach one host.

It asks the allowed host for something, then another host, then tries to go around the proxy.
Run it as README.md's "Try it" shows:

    sentinel-isolate --workspace agent-workspace --policy examples/agent/sentinel.yaml \\
        --network proxied --proxy-hosts-file examples/agent/hosts \\
        --env SSL_CERT_FILE=/workspace/demo-ca.pem -- .venv/bin/python agent.py

HTTPS_PROXY, set by the sandbox, sends every request to the proxy; SSL_CERT_FILE names the
certificate authority the demo's stand-in host uses (a real host needs none).
"""
import sys
import urllib.request


def fetch(url, opener=urllib.request.build_opener()):
    try:
        with opener.open(url, timeout=15) as response:
            return f"{response.status} {response.read().decode().strip()}"
    except OSError as error:  # URLError, a refused CONNECT ("Tunnel connection failed: 403"), …
        return f"failed: {getattr(error, 'reason', error)}"


print("python:", sys.prefix)
print("allowed host:", fetch("https://api.example.test:8443/"))
print("another host:", fetch("https://other.example.test:8443/"))
# Around the proxy: no proxy handler, so urllib resolves and connects by itself.
print("around the proxy:", fetch("https://api.example.test:8443/", urllib.request.build_opener(urllib.request.ProxyHandler({}))))
