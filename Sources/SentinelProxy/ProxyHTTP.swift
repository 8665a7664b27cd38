// HTTP rules of the proxy that are about the protocol, not the policy: which headers are
// hop-by-hop (RFC 9110 §7.6.1), which ask for a chained proxy (egress-anchors §6 #87), how the
// request sent upstream is rewritten (RFC 9112 §3.2.2), and how a refusal reads.

import NIOCore
import NIOHTTP1
import SentinelPolicy

enum ProxyHTTP {
    /// Headers that describe one connection and never travel further (RFC 9110 §7.6.1), plus the
    /// legacy `Proxy-Connection` and the proxy credentials, which are for this proxy only.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer",
        "upgrade",
    ]

    /// Header names that ask a proxy to forward through another proxy or to another next hop
    /// (smokescreen's `X-Upstream-Https-Proxy`, the httpoxy `Proxy` header): refused, because
    /// this proxy connects only to the destination it checked.
    static let chainingNames: Set<String> = [
        "proxy", "x-upstream-https-proxy", "x-upstream-http-proxy", "x-upstream-proxy", "x-forwarded-proxy", "x-proxy-url",
    ]

    /// The first header of `headers` that asks for a chained proxy, if any: a name in
    /// `chainingNames`, any `X-Upstream-…` header, or any `Proxy-…` header other than the
    /// hop-by-hop ones this proxy removes. `_` counts as `-`, as it does for servers that map
    /// header names to CGI-style variables (`X_Upstream_Https_Proxy` is the same request).
    static func chainingHeader(in headers: HTTPHeaders) -> String? {
        for (name, _) in headers {
            let lowered = dashed(name)
            if chainingNames.contains(lowered) || lowered.hasPrefix("x-upstream-") { return name }
            if lowered.hasPrefix("proxy-"), !hopByHop.contains(lowered) { return name }
        }
        return nil
    }

    /// Names that decide how a message is framed or that belong to one connection: a second
    /// spelling of one of them, which a backend reads as the same header, gives it two framings
    /// or undoes what the proxy removed.
    static let framingAndHopByHop: Set<String> = hopByHop.union(["content-length", "transfer-encoding"])

    /// The problem with a header name of `headers`, if any: a name outside the RFC 9110 token
    /// grammar (§5.6.2), or one that is a framing or hop-by-hop header once `_` is read as `-`
    /// (`Transfer_Encoding`): servers that map names to CGI-style variables (HTTP_TRANSFER_ENCODING)
    /// or normalise `_` would see it beside the proxy's own framing.
    static func headerNameProblem(in headers: HTTPHeaders) -> String? {
        for (name, _) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                return "the header name \(name.debugDescription) is not an RFC 9110 token (letters, digits and "
                    + "!#$%&'*+-.^_`|~ only)"
            }
            guard name.utf8.contains(UInt8(ascii: "_")) else { continue }
            let dashed = dashed(name)
            if framingAndHopByHop.contains(dashed) {
                return "the header name \(name) is \(dashed) to a server that reads _ as -, so the destination could "
                    + "see a second framing or connection header beside the one the proxy sends"
            }
        }
        return nil
    }

    /// A header name lowercased with `_` read as `-`, the way CGI-style servers see it.
    static func dashed(_ name: String) -> String {
        String(name.lowercased().map { $0 == "_" ? "-" : $0 })
    }

    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// The request-framing problem of `headers`, if any: a request with both `Content-Length`
    /// and `Transfer-Encoding`, or with `Content-Length` values that disagree, is how requests
    /// are smuggled past a proxy (RFC 9112 §6.3); refused rather than guessed. So is a transfer
    /// coding other than `chunked` alone: the decoder removes the chunked layer only, and the
    /// proxy sends the body upstream with its own framing (see `upstreamHead`), which could not
    /// say what the other codings were.
    static func framingProblem(in headers: HTTPHeaders) -> String? {
        let lengths = headers["content-length"].flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces() }
        let codings = headers["transfer-encoding"]
        if !lengths.isEmpty, !codings.isEmpty {
            return "it has both Content-Length and Transfer-Encoding"
        }
        if Set(lengths).count > 1 { return "it has Content-Length values that disagree" }
        if let length = lengths.first, length.isEmpty || !length.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            return "its Content-Length \(length.debugDescription) is not a number"
        }
        if !codings.isEmpty, codings.count > 1 || codings[0].utf8.split(separator: UInt8(ascii: ",")).count != 1
            || Substring(codings[0]).trimmingSpaces().lowercased() != "chunked" {
            let text = codings.joined(separator: ", ").debugDescription
            return "its Transfer-Encoding is \(text); only chunked alone is forwarded"
        }
        return nil
    }

    /// Protocol rules that no policy relaxes: header names a backend could misread (400),
    /// chained-proxy headers (#87, 403) and ambiguous framing (403). The verdict and the status.
    static func protocolViolation(_ head: HTTPRequestHead) -> (Verdict, Int)? {
        if let problem = headerNameProblem(in: head.headers) {
            return (.deny(rule: "builtin:http-header-name",
                          reason: "The request is refused because \(problem); fix or remove the header in the client."),
                    400)
        }
        if let name = chainingHeader(in: head.headers) {
            return (.deny(
                rule: "builtin:proxy-chaining",
                reason: "The request carries the header \(name), which asks for another proxy or next hop; this "
                    + "proxy connects only to the destination it checked.",
                remedy: "Remove the \(name) header from the client's requests."), 403)
        }
        if let problem = framingProblem(in: head.headers) {
            return (.deny(rule: "builtin:http-framing", reason: "The request is ambiguous: \(problem)."), 403)
        }
        return nil
    }

    /// The first character of a request-target that RFC 3986 allows only percent-encoded (a
    /// quote, a space, `{`, `|`, `^`, a backtick, a control or non-ASCII byte), described for a
    /// sentence; `nil` when there is none. HTTP decoders accept some of them, but NIO's request
    /// encoder refuses to send them, so the proxy refuses them before deciding.
    static func unsendableCharacter(inTarget target: String) -> String? {
        let allowed = Set("-._~:/?#[]@!$&'()*+,;=%".utf8)
        for byte in target.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            default:
                if allowed.contains(byte) { continue }
                return byte >= 0x21 && byte < 0x7f ? "\"\(Character(Unicode.Scalar(byte)))\"" : "the byte 0x"
                    + String(byte, radix: 16, uppercase: true)
            }
        }
        return nil
    }

    /// Removes the hop-by-hop headers and those the `Connection` header names.
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        let named = headers["connection"].flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces().lowercased() }
        for name in hopByHop.union(named) where !name.isEmpty && name != "content-length" && name != "transfer-encoding" {
            headers.remove(name: name)
        }
    }

    /// The request head sent upstream: origin-form target, `Host` from the absolute URI (any
    /// `Host` the client sent is replaced), hop-by-hop headers removed, and `Connection: close`
    /// (one request per upstream connection, so the response ends where the connection does).
    ///
    /// The framing is the proxy's own: `transfer-encoding: chunked` when the client's body was
    /// chunked, its one `content-length` value when it had one, neither when it had no body. The
    /// encoder then frames exactly what the head says (`automaticallySetFramingHeaders` is off):
    /// NIO's automatic framing drops the length of a TRACE and writes the body of a GET whose
    /// coding is spelled `Chunked` unframed, and either way the body's bytes would reach the
    /// destination as a request of their own.
    static func upstreamHead(_ head: HTTPRequestHead, originForm: String, hostHeader: String) -> HTTPRequestHead {
        var headers = head.headers
        let chunked = !headers["transfer-encoding"].isEmpty
        let length = headers["content-length"].first.map { $0.split(separator: ",").first?.trimmingSpaces() ?? "" }
        removeHopByHop(&headers)
        headers.remove(name: "host")
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        headers.replaceOrAdd(name: "connection", value: "close")
        var rewritten = HTTPRequestHead(version: .http1_1, method: head.method, uri: originForm, headers: headers)
        rewritten.headers.add(name: "host", value: hostHeader)
        if chunked {
            rewritten.headers.add(name: "transfer-encoding", value: "chunked")
        } else if let length {
            rewritten.headers.add(name: "content-length", value: length)
        }
        return rewritten
    }

    /// The encoder settings for requests sent upstream: the head already says how the body is
    /// framed (see `upstreamHead`), and the encoder must not change it.
    static var upstreamEncoder: HTTPRequestEncoder.Configuration {
        var configuration = HTTPRequestEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        return configuration
    }

    /// The response head sent to the client: hop-by-hop headers removed, `Connection: close`.
    static func clientHead(_ head: HTTPResponseHead, requestVersion: HTTPVersion) -> HTTPResponseHead {
        var headers = head.headers
        removeHopByHop(&headers)
        headers.replaceOrAdd(name: "connection", value: "close")
        let version = requestVersion.minor == 0 ? HTTPVersion.http1_0 : HTTPVersion.http1_1
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    // MARK: - Refusals

    /// The response for a refused request: status, `X-Sentinel-Rule`, `X-Sentinel-Reason` and,
    /// when there is one, `X-Sentinel-Remedy`; a text body that says the same.
    static func refusal(_ refusal: EgressRefusal, allocator: ByteBufferAllocator) -> (HTTPResponseHead, ByteBuffer) {
        var text = "Sentinel Guard refused this request.\n"
        text += "Rule: \(refusal.rule)\n"
        text += "Reason: \(refusal.reason)\n"
        if let remedy = refusal.remedy {
            text += "To allow it, change the policy: \(remedy)\n"
        }
        let body = allocator.buffer(string: text)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "connection", value: "close")
        headers.add(name: "x-sentinel-rule", value: headerSafe(refusal.rule))
        headers.add(name: "x-sentinel-reason", value: headerSafe(refusal.reason))
        if let remedy = refusal.remedy {
            headers.add(name: "x-sentinel-remedy", value: headerSafe(remedy))
        }
        let status = HTTPResponseStatus(statusCode: refusal.status)
        return (HTTPResponseHead(version: .http1_1, status: status, headers: headers), body)
    }

    /// A refusal as raw bytes, for a connection whose HTTP encoder is already gone (CONNECT).
    static func rawRefusal(_ refusal: EgressRefusal, allocator: ByteBufferAllocator) -> ByteBuffer {
        let (head, body) = self.refusal(refusal, allocator: allocator)
        var buffer = allocator.buffer(capacity: 512 + body.readableBytes)
        buffer.writeString("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n")
        for (name, value) in head.headers {
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeString("\r\n")
        buffer.writeImmutableBuffer(body)
        return buffer
    }

    /// The answer to an accepted CONNECT, written as bytes: the encoder would add framing
    /// headers, and a 2xx answer to CONNECT must have none (RFC 9110 §9.3.6).
    static func connectEstablished(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(string: "HTTP/1.1 200 Connection established\r\n\r\n")
    }

    /// Header values carry printable ASCII only: anything else (non-ASCII letters in a reason,
    /// control characters from a client's request-target) is written as `\u{…}`.
    static func headerSafe(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value < 0x7f {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return out
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
