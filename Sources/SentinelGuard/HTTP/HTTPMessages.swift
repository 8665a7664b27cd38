// The request and response of the pinned HTTP client, as plain values.
//
// They carry no NIO types so that programs using compatibility mode (and `SentinelGuard`'s public
// API) do not depend on SwiftNIO's API.

/// One HTTP request, as a program in compatibility mode asks for it.
///
/// The client sets the framing and routing headers itself (`Host` from the URL,
/// `Connection: close`, `Content-Length` for a body); a request that sets any of them, or
/// `Transfer-Encoding` or `Upgrade`, is refused rather than silently rewritten, so what the
/// program asked for and what goes on the wire never differ.
public struct HTTPRequest: Sendable {
    /// The method, an RFC 9110 token such as `GET` or `POST` (case-sensitive, sent as written).
    public var method: String
    /// The absolute URL, `http://` or `https://`. The fragment is not sent.
    public var url: String
    /// Header fields in the order they are sent. Names are tokens; values may hold no control
    /// character other than horizontal tab.
    public var headers: [(name: String, value: String)]
    /// The body, sent with `Content-Length`; `nil` sends no body and no `Content-Length`.
    public var body: [UInt8]?
    /// The longest the whole exchange may take: connecting, TLS, sending and reading the response.
    public var timeout: Duration

    /// Creates a request.
    public init(
        method: String = "GET",
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// The final response to an `HTTPRequest` (interim 1xx responses are skipped).
public struct HTTPResponse: Sendable {
    /// The status code (`200`, `302`…). Redirects are returned, never followed.
    public var status: Int
    /// The standard reason phrase of `status` (`OK`), empty for an unregistered code. NIO's
    /// decoder does not keep the server's own text, which carries no meaning (RFC 9112 §4).
    public var reason: String
    /// Header fields in the order the server sent them, names as written.
    public var headers: [(name: String, value: String)]
    /// The body, after removing the chunked transfer coding; content codings such as gzip are
    /// left as they are.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, reason: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// The values of every header field called `name` (compared without regard to ASCII case),
    /// in the order they were received.
    public func headerValues(named name: String) -> [String] {
        headers.filter { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }.map(\.value)
    }
}
