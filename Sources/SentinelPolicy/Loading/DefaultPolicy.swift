/// The built-in default policy: the same text as `sentinel.yaml` at the repository root (a test
/// keeps the two identical). `sentinel policy init` writes it; `--policy builtin:default` loads it.
public enum DefaultPolicy {
    /// The policy text.
    public static let text = #"""
# sentinel.yaml — what an agent run under Sentinel Guard may do.
#
# Everything not allowed here is denied; a denial goes to a human for approval (see `approval`)
# and every decision is recorded in the audit log. Check a change with `sentinel policy validate`
# and try a rule with `sentinel policy explain`. The full reference is docs/POLICY.md.

# Files. Relative entries resolve against the directory you run Sentinel in (keep this file beside
# your workspace), `~` is your home directory, and every backend reads them so: in a sandbox the
# workspace is /workspace, and ./workspace below means it. Deny wins: blocked_paths beat
# allowed_paths.
allowed_paths:
  - ./workspace
  # The workspace sentinel-isolate and docker-compose.yml use when none is named.
  - ./sandbox-workspace
# Secrets, named one by one. The rest of /etc stays readable, because programs need it: the TLS
# trust stores, resolv.conf, hosts, nsswitch.conf, the loader cache.
blocked_paths:
  # The system's: password hashes, sudo rules, host and TLS private keys, Kerberos keys.
  - /etc/shadow
  - /etc/shadow-
  - /etc/gshadow
  - /etc/gshadow-
  - /etc/sudoers
  - /etc/sudoers.d
  - /etc/security/opasswd
  - /etc/ssh/ssh_host_rsa_key
  - /etc/ssh/ssh_host_ecdsa_key
  - /etc/ssh/ssh_host_ed25519_key
  - /etc/ssh/ssh_host_dsa_key
  - /etc/ssl/private
  - /etc/letsencrypt
  - /etc/krb5.keytab
  # Yours: SSH and GPG keys, cloud and cluster credentials, registry and package tokens.
  - ~/.ssh
  - ~/.gnupg
  - ~/.aws
  - ~/.azure
  - ~/.config/gcloud
  - ~/.kube
  - ~/.docker/config.json
  - ~/.netrc
  - ~/.git-credentials
  - ~/.config/gh
  - ~/.npmrc
  - ~/.pypirc
  # Password stores, keyrings and browser profiles (saved passwords, cookies).
  - ~/.password-store
  - ~/.local/share/keyrings
  - ~/.mozilla
  - ~/.config/google-chrome
  - ~/.config/chromium
  - ~/.config/BraveSoftware
read_only_paths: []
# Writing to a file with more than one hard link is denied: the link may lead outside.
allow_hardlinked_writes: false

# Commands. The check is on the executable that would run (`ls` and `/bin/ls` are the same
# rule). Interpreters and shells (python, bash, sh, node, …) are always denied.
allowed_commands:
  - echo
  - ls
  # - {command: git, args_deny: ["push", "--upload-pack*"]}
blocked_command_bases: []

# Hosts. `exact` matches the name only; `subdomain` also its subdomains. Entries may also be
# `*.example.com` (subdomains only), `.example.com` (the name and its subdomains) or `*`.
host_match_mode: exact
allowed_hosts:
  - host: api.openai.com
    schemes: [https]
    ports: [443]
  - host: pypi.org
    schemes: [https]
    ports: [443]
  - host: files.pythonhosted.org
    schemes: [https]
    ports: [443]

# Address rules for every URL and connect: private, loopback, link-local and cloud-metadata
# addresses are denied unless allow_private_network is true (metadata addresses always are).
network_failsafe:
  socket_connect: true
  allow_private_network: false
  blocked_hosts: []
  blocked_ips: []
  allowed_ips: []

# Phrases refused by input scanning (case-insensitive).
blocked_keywords:
  - ignore previous instructions

phishing:
  enabled: true
  blocked_tlds: [".zip", ".xyz", ".top", ".gq"]

policy_integrity:
  tamper_detection: true

# How a denial reaches a human: auto | popup | console | reject (SENTINEL_APPROVAL_MODE overrides).
approval:
  mode: auto
  timeout_seconds: 60

audit:
  path: ./audit.log

# Limits and environment of `sentinel-isolate` runs.
sandbox:
  pids_limit: 256
  memory: 512m
  cpus: 1.0
  tmpfs_size: 64m
  env_allow: []

"""#
}
