/// Why `PinnedHTTPClient` could not complete a request. Every failure is an error: the client
/// never returns a partial response.
public struct HTTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The request cannot be sent as given (a header with CR, LF or NUL, a method that is not
        /// a token, a URL that disagrees with the checked host…). Nothing was sent.
        case invalidRequest
        /// No given address accepted a TCP connection (refused, unreachable…).
        case connectFailed
        /// The TLS handshake failed for a reason other than the certificate.
        case tlsFailed
        /// The server's certificate is not trusted or does not name the host.
        case certificateInvalid
        /// The connection or the whole exchange took longer than allowed.
        case timeout
        /// The response body is larger than the client's limit.
        case responseTooLarge
        /// The response is not valid HTTP/1.1, or asks for something the client did not offer.
        case malformedResponse
        /// The connection closed or failed before the response was complete.
        case connectionClosed
        /// The calling task was cancelled.
        case cancelled
        /// `shutdown()` was called.
        case shutDown
    }

    /// What went wrong.
    public let code: Code
    /// One sentence saying what went wrong and, where it helps, what to do.
    public let message: String
    /// The errno behind the failure, when there is one: for `.connectFailed`, that of the last
    /// address tried (`ECONNREFUSED`, `ENETUNREACH`…); for a socket error during the exchange,
    /// that error's.
    public let errno: Int32?

    /// Creates an error.
    public init(code: Code, message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// The sentence.
    public var description: String { message }
}
