// Conversions between `IPAddress` and the C socket address structures.
//
// The egress proxy dials exactly the address the policy checked, and the seccomp supervisor
// reads the address a child passes to `connect(2)`; both go through these conversions, so there
// is one place where byte order and lengths are handled.

#if canImport(Glibc)
public import Glibc
#endif

/// An IP address and a port: what a socket connects to.
public struct IPEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// The address.
    public var address: IPAddress
    /// The port, in host byte order.
    public var port: UInt16

    /// An endpoint from an address and a port.
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// The endpoint a `sockaddr_in` describes.
    public init(_ socketAddress: sockaddr_in) {
        address = IPAddress(ipv4: UInt32(bigEndian: socketAddress.sin_addr.s_addr))
        port = UInt16(bigEndian: socketAddress.sin_port)
    }

    /// The endpoint a `sockaddr_in6` describes. A non-zero `sin6_scope_id` becomes the zone,
    /// written as its number.
    public init(_ socketAddress: sockaddr_in6) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        withUnsafeBytes(of: socketAddress.sin6_addr) { raw in
            for index in 0..<8 { high = high << 8 | UInt64(raw[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(raw[index]) }
        }
        let scope = socketAddress.sin6_scope_id
        address = IPAddress(ipv6High: high, low: low, zone: scope == 0 ? nil : String(scope), scopeID: scope)
        port = UInt16(bigEndian: socketAddress.sin6_port)
    }

    /// Reads an endpoint from the raw bytes of a socket address, as `connect(2)` receives them
    /// (`addr`, `addrlen`).
    ///
    /// The length rules are the kernel's (Linux `inet_stream_connect`, `inet6`'s
    /// `SIN6_LEN_RFC2133`): an `AF_INET` address needs 16 bytes; an `AF_INET6` address needs 24,
    /// and its scope id is read only when 28 or more are given. Any other family (including
    /// `AF_UNSPEC`, which disconnects, and `AF_UNIX`) is an error here: the caller decides
    /// what it means.
    public init(socketAddress bytes: UnsafeRawBufferPointer) throws(SocketAddressError) {
        guard bytes.count >= MemoryLayout<sa_family_t>.size else {
            throw SocketAddressError(code: .truncated, message:
                "the socket address is \(bytes.count) bytes long, too short to hold an address family")
        }
        let family = Int32(bytes.loadUnaligned(as: sa_family_t.self))
        switch family {
        case AF_INET:
            guard bytes.count >= MemoryLayout<sockaddr_in>.size else {
                throw SocketAddressError(code: .truncated, message:
                    "an AF_INET socket address needs \(MemoryLayout<sockaddr_in>.size) bytes, got \(bytes.count)")
            }
            self.init(bytes.loadUnaligned(as: sockaddr_in.self))
        case AF_INET6:
            // SIN6_LEN_RFC2133: the RFC 2133 layout without sin6_scope_id, which Linux still accepts.
            let rfc2133Length = 24
            guard bytes.count >= rfc2133Length else {
                throw SocketAddressError(code: .truncated, message:
                    "an AF_INET6 socket address needs at least \(rfc2133Length) bytes, got \(bytes.count)")
            }
            var socketAddress = sockaddr_in6()
            withUnsafeMutableBytes(of: &socketAddress) { target in
                let length = min(bytes.count, MemoryLayout<sockaddr_in6>.size)
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
            }
            self.init(socketAddress)
        default:
            throw SocketAddressError(code: .unsupportedFamily, message:
                "the socket address has family \(family), which is neither AF_INET (\(AF_INET)) nor AF_INET6 (\(AF_INET6))")
        }
    }

    /// The address as a `sockaddr_in`; `nil` for IPv6.
    public var sockaddrIn: sockaddr_in? {
        guard let value = address.ipv4Value else { return nil }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr.s_addr = value.bigEndian
        return socketAddress
    }

    /// The address as a `sockaddr_in6` with the zone's scope id; `nil` for IPv4 (no implicit
    /// IPv4-mapped form: dial an IPv4 address over an IPv4 socket).
    public var sockaddrIn6: sockaddr_in6? {
        guard let words = address.ipv6Words else { return nil }
        var socketAddress = sockaddr_in6()
        socketAddress.sin6_family = sa_family_t(AF_INET6)
        socketAddress.sin6_port = port.bigEndian
        socketAddress.sin6_scope_id = address.scopeID
        withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { raw in
            for index in 0..<8 {
                raw[index] = UInt8(truncatingIfNeeded: words.high >> (8 * UInt64(7 - index)))
                raw[index + 8] = UInt8(truncatingIfNeeded: words.low >> (8 * UInt64(7 - index)))
            }
        }
        return socketAddress
    }

    /// The address in a `sockaddr_storage` and its length, ready for `connect(2)` or `bind(2)`.
    public var sockaddrStorage: (storage: sockaddr_storage, length: socklen_t) {
        var storage = sockaddr_storage()
        let length: Int
        if let inet = sockaddrIn {
            length = MemoryLayout<sockaddr_in>.size
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: inet, as: sockaddr_in.self) }
        } else {
            length = MemoryLayout<sockaddr_in6>.size
            let inet6 = sockaddrIn6 ?? sockaddr_in6()
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: inet6, as: sockaddr_in6.self) }
        }
        return (storage, socklen_t(length))
    }

    /// Calls `body` with a pointer to the socket address and its length.
    public func withSockAddr<Result, Failure: Error>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var (storage, length) = sockaddrStorage
        return try withUnsafePointer(to: &storage) { (pointer) throws(Failure) -> Result in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(Failure) -> Result in
                try body(address, length)
            }
        }
    }

    /// `1.2.3.4:80` or `[2001:db8::1]:443` (the form a URL authority uses).
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}

/// Why a socket address could not be read.
public struct SocketAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Code: String, Sendable, Hashable {
        /// Fewer bytes than the family needs.
        case truncated
        /// Neither AF_INET nor AF_INET6.
        case unsupportedFamily
    }

    /// What was wrong.
    public let code: Code
    /// One sentence saying what was wrong.
    public let message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The sentence.
    public var description: String { message }
}
