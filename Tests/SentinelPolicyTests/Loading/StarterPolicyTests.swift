// The starter policy (`sentinel policy init`, the shipped sentinel.yaml) names secrets one by one:
// an agent under it can still read the TLS trust stores, resolv.conf, hosts and the loader cache,
// which every HTTPS request, name lookup and program start needs, and cannot read the system's
// password hashes, sudo rules, private keys or the user's credentials and browser stores.

import Foundation
import Testing
@testable import SentinelPolicy

@Suite("the starter policy blocks secrets, not the files programs need")
struct StarterPolicyTests {
    /// The starter policy as `sentinel guard` reads it, with `~` a throwaway home.
    static func policy(home: String) throws -> Policy {
        let document = try PolicyLoader(environment: [:]).parse(DefaultPolicy.text)
        return try Policy(document: document, context: PolicyContext(baseDirectory: home + "/project", homeDirectory: home))
    }

    static let home = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path + "/sentinel-starter-home"

    /// Under the guard a read is decided only when it is under a blocked path (everything else
    /// opens silently), so "readable" means: under no blocked entry; "blocked": refused with a rule.
    @Test("secrets are blocked by name", arguments: [
        "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d/90-cloud-init-users", "/etc/ssh/ssh_host_ed25519_key",
        "/etc/ssl/private/server.key", "~/.ssh/id_ed25519", "~/.gnupg/private-keys-v1.d/x.key", "~/.aws/credentials",
        "~/.config/gcloud/credentials.db", "~/.kube/config", "~/.docker/config.json", "~/.netrc", "~/.git-credentials",
        "~/.config/gh/hosts.yml", "~/.npmrc", "~/.pypirc", "~/.password-store/bank.gpg", "~/.local/share/keyrings/login.keyring",
        "~/.mozilla/firefox/abc.default/logins.json", "~/.config/google-chrome/Default/Cookies", "~/.config/chromium/Default/Login Data",
    ])
    func blocked(path: String) throws {
        let policy = try Self.policy(home: Self.home)
        let absolute = path.hasPrefix("~") ? Self.home + path.dropFirst() : path
        #expect(policy.pathRules.blocked.contains { PathResolver.isPath(absolute, within: $0.path) }, "\(absolute)")
        let verdict = policy.checkPath(absolute, access: .read, workingDirectory: "/")
        #expect(!verdict.isAllowed)
        #expect(verdict.rule.hasPrefix("blocked_paths["), "\(verdict)")
    }

    @Test("what programs need stays readable", arguments: [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/openssl.cnf", "/etc/ca-certificates.conf", "/etc/resolv.conf", "/etc/hosts",
        "/etc/nsswitch.conf", "/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/etc/localtime", "/etc/gai.conf",
        "/usr/lib/ssl/certs", "~/.docker/cli-plugins", "~/.config/git/config", "~/.local/share/other",
    ])
    func readable(path: String) throws {
        let policy = try Self.policy(home: Self.home)
        let absolute = path.hasPrefix("~") ? Self.home + path.dropFirst() : path
        #expect(!policy.pathRules.blocked.contains { PathResolver.isPath(absolute, within: $0.path) }, "\(absolute)")
    }

    @Test("it blocks neither /etc nor the home as a whole")
    func noWholeEtc() throws {
        let document = try PolicyLoader(environment: [:]).parse(DefaultPolicy.text)
        #expect(!document.blockedPaths.contains { ["/etc", "/etc/", "/"].contains($0.value) })
        #expect(!document.blockedPaths.contains { $0.value == "~" || $0.value == "~/" })
    }
}
