// Everything about a request that can be checked before a socket is opened.
//
// A request is refused here, before any connection, when it could be read two ways on the wire
// (CR, LF or NUL in a header: request smuggling and header injection), when it sets a framing or
// routing header the client owns, or when its URL disagrees with the host, port and scheme the
// caller checked with the policy. Nothing in this file decides whether a request is allowed:
// that is the policy's job, done by the caller before it calls the client.

import SentinelPolicy

/// Byte-level rules of HTTP/1.1 syntax (RFC 9110 §5.6.2, §5.5; RFC 9112 §3).
enum HTTPSyntax {
    /// `tchar`: the characters of a token (a method or a field name).
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// Whether `text` is a non-empty token.
    static func isToken(_ text: String) -> Bool {
        !text.utf8.isEmpty && text.utf8.allSatisfy(isTokenCharacter)
    }

    /// The first byte of a field value that may not appear in one: any control character but
    /// horizontal tab (so CR, LF and NUL above all), and DEL.
    static func forbiddenValueByte(_ text: String) -> UInt8? {
        text.utf8.first { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }
    }

    /// ASCII case-insensitive comparison, as field names are compared.
    static func equalsIgnoringASCIICase(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8) { lowercased($0) == lowercased($1) }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
    }

    /// `text` in quotes for a message, with control characters escaped (a message must never
    /// carry the CR or LF it complains about) and cut to 100 characters.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == 100 {
                out += "…"
                break
            }
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x0d: out += "\\r"
            case 0x0a: out += "\\n"
            case 0x00..<0x20, 0x7f..<0xa0, 0x2028, 0x2029: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The path and query as a request line carries them: ASCII only, so every byte at or above
    /// 0x80 is percent-encoded (as WHATWG URL serialisation does); ASCII is sent as written.
    static func originForm(path: String, query: String?) -> String {
        var text = path.isEmpty ? "/" : path
        if let query { text += "?" + query }
        guard text.utf8.contains(where: { $0 >= 0x80 }) else { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.utf8.count * 3)
        for byte in text.utf8 {
            if byte >= 0x80 {
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A request checked and turned into what goes on the wire, plus where it goes.
struct PreparedRequest: Sendable {
    /// The method, as written.
    let method: String
    /// `/path?query`.
    let originForm: String
    /// Every header field to send, the client's own (`Host`, `Connection`, `Content-Length`)
    /// included.
    let headers: [(name: String, value: String)]
    /// The body, if any.
    let body: [UInt8]?
    /// Whether TLS is used (`https`).
    let usesTLS: Bool
    /// The name for SNI and certificate checks; `nil` when the URL host is an IP address.
    let serverName: String?
    /// The URL host when it is an IP address, which the certificate must then name.
    let literalAddress: IPAddress?
    /// Where to connect, in the order to try.
    let endpoints: [IPEndpoint]
    /// `host:port` for messages.
    let authority: String
    /// The time limit of the whole exchange.
    let timeout: Duration

    /// Header fields the client writes itself; a request that sets one is refused. `Host` comes
    /// from the URL (RFC 9112 §3.2), `Connection`, `Content-Length` and `Transfer-Encoding` frame
    /// the message (two framings are the root of request smuggling), and `Upgrade` would switch
    /// to a protocol this client does not speak.
    static let reservedHeaders = ["host", "connection", "content-length", "transfer-encoding", "upgrade"]

    init(
        _ request: HTTPRequest, scheme: String, hostName: String?, port: Int, addresses: [IPAddress]
    ) throws(HTTPClientError) {
        func refuse(_ message: String) -> HTTPClientError {
            HTTPClientError(code: .invalidRequest, message: message + "; nothing was sent")
        }

        guard request.timeout > .zero else {
            throw refuse("the request's timeout is \(request.timeout); give it a positive time limit")
        }

        // The URL, read by the policy engine's own parser so that the host checked and the host
        // written into `Host` and SNI cannot be two readings of one text.
        let target: RequestTarget
        do {
            target = try RequestTarget.parse(url: request.url)
        } catch {
            throw refuse(error.description)
        }
        let givenScheme = String(decoding: scheme.utf8.map(HTTPSyntax.lowercased), as: UTF8.self)
        guard givenScheme == "http" || givenScheme == "https" else {
            throw refuse("the scheme \(HTTPSyntax.quoted(scheme)) is not supported; the client speaks http and https")
        }
        guard target.scheme == givenScheme else {
            throw refuse("the URL's scheme \(HTTPSyntax.quoted(target.scheme ?? "")) is not the checked scheme "
                + "\(HTTPSyntax.quoted(givenScheme)); pass the scheme of the URL that was checked")
        }
        guard (1...65535).contains(port) else {
            throw refuse("the port \(port) is outside 1–65535")
        }
        guard Int(target.port) == port else {
            throw refuse("the URL's port \(target.port) is not the checked port \(port); "
                + "pass the port of the URL that was checked")
        }

        switch target.host {
        case .name(let name):
            guard let hostName else {
                throw refuse("the URL names the host \(HTTPSyntax.quoted(name)) but no host name was given "
                    + "for TLS and Host; pass the checked host name")
            }
            let given: NormalizedHost
            do {
                given = try HostName.normalize(hostName)
            } catch {
                throw refuse(error.description)
            }
            guard given == target.host else {
                throw refuse("the URL's host \(HTTPSyntax.quoted(name)) is not the checked host "
                    + "\(HTTPSyntax.quoted(hostName)); pass the host of the URL that was checked")
            }
            serverName = name
            literalAddress = nil
        case .address(let address):
            if let hostName {
                let given = try? HostName.normalize(hostName)
                guard given == target.host else {
                    throw refuse("the URL's host is the address \(address), not the checked host "
                        + "\(HTTPSyntax.quoted(hostName)); pass no host name for an IP-address URL")
                }
            }
            // The Host header, TLS and the certificate all speak of this address, so it is the
            // only one that may be dialled.
            if let other = addresses.first(where: { $0 != address }) {
                throw refuse("the URL's host is the address \(address), but the address \(other) was given "
                    + "to connect to; an IP-address URL is sent to that address only")
            }
            serverName = nil
            literalAddress = address
        }
        guard !addresses.isEmpty else {
            throw refuse("no address was given to connect to; pass the checked answers of the lookup")
        }

        guard HTTPSyntax.isToken(request.method) else {
            throw refuse("the method \(HTTPSyntax.quoted(request.method)) is not an HTTP token "
                + "(letters, digits and !#$%&'*+-.^_`|~)")
        }
        guard request.method != "CONNECT" else {
            throw refuse("the method CONNECT opens a tunnel, which this client does not do")
        }

        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(request.headers.count + 3)
        // The Host header: the URL's host (an IPv6 address in brackets, without a zone, which
        // means nothing to the server), with the port only when it is not the scheme's default.
        let hostText: String
        switch target.host {
        case .name(let name): hostText = name
        case .address(let address): hostText = address.isIPv4 ? address.description : "[\(address.withoutZone)]"
        }
        let defaultPort: UInt16 = givenScheme == "https" ? 443 : 80
        let hostHeader = target.port == defaultPort ? hostText : "\(hostText):\(target.port)"
        headers.append((name: "Host", value: hostHeader))

        for (name, value) in request.headers {
            guard HTTPSyntax.isToken(name) else {
                throw refuse("the header name \(HTTPSyntax.quoted(name)) is not an HTTP token "
                    + "(letters, digits and !#$%&'*+-.^_`|~; no space, colon, CR or LF)")
            }
            if let byte = HTTPSyntax.forbiddenValueByte(value) {
                let what = switch byte {
                case 0x0d: "a carriage return (CR)"
                case 0x0a: "a line feed (LF)"
                case 0x00: "a NUL byte"
                default: "the control character U+\(String(byte, radix: 16, uppercase: true))"
                }
                throw refuse("the value of the header \(name) contains \(what), which could end the header and "
                    + "inject another (request smuggling); remove it")
            }
            let lowered = String(decoding: name.utf8.map(HTTPSyntax.lowercased), as: UTF8.self)
            guard !Self.reservedHeaders.contains(lowered) else {
                throw refuse("the request sets the header \(name), which the client sets itself "
                    + "(Host from the URL, Connection: close, Content-Length from the body); remove it")
            }
            headers.append((name: name, value: value))
        }
        headers.append((name: "Connection", value: "close"))
        if let body = request.body {
            headers.append((name: "Content-Length", value: String(body.count)))
        }

        method = request.method
        originForm = HTTPSyntax.originForm(path: target.path, query: target.query)
        self.headers = headers
        body = request.body
        usesTLS = givenScheme == "https"
        endpoints = addresses.map { IPEndpoint(address: $0, port: target.port) }
        authority = "\(target.host.uriHost):\(target.port)"
        timeout = request.timeout
    }
}
