// Credentials stay with the origin they were given for.
//
// A request's `Authorization` or `Cookie` is meant for the server the caller named. When that
// server redirects to another origin, sending them along hands them to a host the caller never
// chose (an open redirect on a trusted API is enough). Browsers (Fetch, "HTTP-redirect fetch",
// step 13) and curl (CVE-2018-1000007, CVE-2022-27776) drop them when the scheme, host or port
// changes; this client does the same. On a redirect within one origin they stay, as there.

import SentinelPolicy

/// Which header fields a redirect may carry on.
enum RedirectCredentials {
    /// Header fields that carry credentials, lowercased. `HTTPRequest` has no way for a caller
    /// to mark other fields as secret, so a credential in a custom field (`X-Api-Key`) is not
    /// known to be one and is sent on; docs/COMPAT.md says so.
    static let credentialHeaders: Set<String> = ["authorization", "cookie", "proxy-authorization"]

    /// The header fields to send to `next` after `current` redirected there: all of them within
    /// one origin, all but the credentials across origins. A URL that does not parse counts as
    /// another origin, so a doubt drops the credentials.
    static func headers(
        _ headers: [(name: String, value: String)], from current: String, to next: String
    ) -> [(name: String, value: String)] {
        if isSameOrigin(current, next) { return headers }
        return headers.filter { header in
            !credentialHeaders.contains(String(decoding: header.name.utf8.map(HTTPSyntax.lowercased), as: UTF8.self))
        }
    }

    /// Whether two URLs have the same origin (RFC 6454): scheme, host and port, the port being
    /// the scheme's default when none is written, and the host compared after normalisation
    /// (`API.Example.com.` is `api.example.com`).
    static func isSameOrigin(_ first: String, _ second: String) -> Bool {
        guard let a = try? RequestTarget.parse(url: first), let b = try? RequestTarget.parse(url: second) else {
            return false
        }
        return a.scheme == b.scheme && a.host == b.host && a.port == b.port
    }
}
