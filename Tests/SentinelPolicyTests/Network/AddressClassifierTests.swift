import Testing
import SentinelPolicy

@Suite("Address classification")
struct AddressClassifierTests {
    /// Address text (glibc numeric rules) → category and the range reported.
    static let blocked: [(String, AddressCategory, String)] = [
        ("2130706433", .loopback, "127.0.0.0/8"),                     // #1
        ("0127.0.0.1", .publicUnicast, ""),                           // #11: 87.0.0.1 is public
        ("0251.0376.0251.0376", .cloudMetadata, "169.254.169.254/32"), // #12
        ("169.16689662", .cloudMetadata, "169.254.169.254/32"),       // #13
        ("0", .unspecified, "0.0.0.0/8"),                             // #15
        ("0.0.0.0", .unspecified, "0.0.0.0/8"),                       // #16
        ("0.1.2.3", .unspecified, "0.0.0.0/8"),                       // #17
        ("127.255.255.254", .loopback, "127.0.0.0/8"),                // #21
        ("::1", .loopback, "::1/128"),                                // #22
        ("0000::1", .loopback, "::1/128"),
        ("::", .unspecified, "::/128"),                               // #23
        ("::ffff:127.0.0.1", .loopback, "127.0.0.0/8"),               // #24
        ("::ffff:7f00:1", .loopback, "127.0.0.0/8"),                  // #25
        ("::ffff:169.254.169.254", .cloudMetadata, "169.254.169.254/32"), // #26
        ("::ffff:a9fe:a9fe", .cloudMetadata, "169.254.169.254/32"),
        ("::127.0.0.1", .reserved, "::/96"),                          // #27
        ("::169.254.169.254", .cloudMetadata, "169.254.169.254/32"),
        ("::ffff:0:7f00:1", .reserved, "::ffff:0:0:0/96"),            // #28
        ("::ffff:0:a9fe:a9fe", .cloudMetadata, "169.254.169.254/32"),
        ("64:ff9b::7f00:1", .loopback, "127.0.0.0/8"),                // #29
        ("64:ff9b::169.254.169.254", .cloudMetadata, "169.254.169.254/32"),
        ("64:ff9b:1::", .transition, "64:ff9b:1::/48"),               // #30
        ("64:ff9b:1:a9fe:a9:fe00::", .cloudMetadata, "169.254.169.254/32"),
        ("2002:7f00:1::", .transition, "2002::/16"),                  // #31
        ("2002:a9fe:a9fe::", .cloudMetadata, "169.254.169.254/32"),
        ("2002:808:808::1", .transition, "2002::/16"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", .transition, "2001::/32"), // #32
        ("2001:0:a9fe:a9fe::", .cloudMetadata, "169.254.169.254/32"), // Teredo server = metadata
        ("2001:0:4136:e378:8000:63bf:5601:5601", .cloudMetadata, "169.254.169.254/32"), // Teredo client (XOR)
        ("192.88.99.1", .transition, "192.88.99.0/24"),               // #33
        ("fe80::1%lo", .linkLocal, "fe80::/10"),                      // #34
        ("fc00::1", .uniqueLocal, "fc00::/7"),                        // #35
        ("fd12:3456::1", .uniqueLocal, "fc00::/7"),
        ("fd00:ec2::254", .cloudMetadata, "fd00:ec2::254/128"),       // #36
        ("fd20:ce::254", .cloudMetadata, "fd20:ce::254/128"),
        ("fd00:c1::a9fe:a9fe", .cloudMetadata, "fd00:c1::a9fe:a9fe/128"),
        ("fec0::1", .siteLocal, "fec0::/10"),                         // #37
        ("ff02::1", .multicast, "ff00::/8"),                          // #38
        ("224.0.0.1", .multicast, "224.0.0.0/4"),
        ("100::1", .discardOnly, "100::/64"),                         // #39
        ("2001:db8::1", .documentation, "2001:db8::/32"),
        ("2001:2::1", .benchmarking, "2001:2::/48"),
        ("2001:10::1", .reserved, "2001::/23"),
        ("10.0.0.1", .privateUse, "10.0.0.0/8"),                      // #40
        ("172.16.0.1", .privateUse, "172.16.0.0/12"),
        ("172.31.255.255", .privateUse, "172.16.0.0/12"),
        ("192.168.0.1", .privateUse, "192.168.0.0/16"),
        ("100.64.0.1", .sharedAddressSpace, "100.64.0.0/10"),         // #42
        ("100.127.255.254", .sharedAddressSpace, "100.64.0.0/10"),
        ("169.254.169.254", .cloudMetadata, "169.254.169.254/32"),    // #43
        ("169.254.170.2", .cloudMetadata, "169.254.170.2/32"),        // #44
        ("100.100.100.200", .cloudMetadata, "100.100.100.200/32"),    // #45
        ("192.0.0.192", .cloudMetadata, "192.0.0.192/32"),            // #46
        ("168.63.129.16", .cloudMetadata, "168.63.129.16/32"),        // #47
        ("169.254.1.1", .linkLocal, "169.254.0.0/16"),
        ("192.0.0.8", .reserved, "192.0.0.0/24"),
        ("198.18.0.1", .benchmarking, "198.18.0.0/15"),               // #53
        ("198.19.255.255", .benchmarking, "198.18.0.0/15"),
        ("192.0.2.1", .documentation, "192.0.2.0/24"),                // #54
        ("198.51.100.1", .documentation, "198.51.100.0/24"),
        ("203.0.113.1", .documentation, "203.0.113.0/24"),
        ("240.0.0.1", .reserved, "240.0.0.0/4"),                      // #55
        ("255.255.255.255", .broadcast, "255.255.255.255/32"),
        ("255.255.255.254", .reserved, "240.0.0.0/4"),
        ("3fff::1", .documentation, "3fff::/20"),
        ("5f00::1", .reserved, "5f00::/16"),
        ("4000::1", .reserved, "4000::/3"),
        ("::1:0:0:1", .reserved, "::/8"),
        ("fe00::1", .reserved, "fe00::/9"),
    ]

    @Test("special-purpose addresses and their embedded forms", arguments: blocked)
    func classify(_ text: String, _ category: AddressCategory, _ range: String) throws {
        let address = try #require(IPAddress(numericHost: text))
        let result = AddressClassifier.classify(address)
        #expect(result.category == category, "\(text): \(result)")
        #expect(result.range?.description ?? "" == range, "\(text): \(result)")
    }

    /// Negative controls: public, just outside the blocked ranges or carried transparently.
    static let publicAddresses = [
        "172.32.0.1", "172.15.255.255", "100.63.255.254", "100.128.0.1", "8.8.8.8", "1.1.1.1", "93.184.216.34",
        "87.0.0.1", "192.0.1.255", "192.88.98.255", "198.17.255.255", "198.20.0.0", "223.255.255.255",
        "169.253.255.255", "168.63.129.17", "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2001:200::1", "3fff:1000::1", "2000::1", "3ffe:ffff::1",
    ]

    @Test("negative controls stay public", arguments: publicAddresses)
    func negativeControl(_ text: String) throws {
        let address = try #require(IPAddress(numericHost: text))
        let result = AddressClassifier.classify(address)
        #expect(result.isPublic, "\(text): \(result)")
        #expect(result.range == nil)
        #expect(result.permits(allowPrivateNetwork: false))
    }

    @Test("messages name the category, the range and the embedding")
    func messages() throws {
        let metadata = AddressClassifier.classify(try #require(IPAddress(strict: "169.254.169.254")))
        #expect(metadata.description == "169.254.169.254 is a cloud metadata address (169.254.169.254/32)")
        let mapped = AddressClassifier.classify(try #require(IPAddress(strict: "::ffff:10.0.0.1")))
        #expect(mapped.description == "::ffff:10.0.0.1 is a private-use (RFC 1918) address (10.0.0.0/8, via IPv4-mapped 10.0.0.1)")
        #expect(mapped.embedded == EmbeddedIPv4(address: IPAddress(ipv4: 0x0a00_0001), kind: .mapped))
        let teredo = AddressClassifier.classify(try #require(IPAddress(strict: "2001:0:4136:e378:8000:63bf:5601:5601")))
        #expect(teredo.embedded?.kind == .teredoClient)
        #expect(teredo.embedded?.address.description == "169.254.169.254")
    }

    @Test("allow_private_network opens the private tiers only, never metadata or the always-blocked ones")
    func privateNetworkSwitch() throws {
        let opened = ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1", "fe80::1",
                      "fd12::1", "fec0::1", "::1", "::ffff:192.168.1.1", "64:ff9b::a00:1"]
        for text in opened {
            let result = AddressClassifier.classify(try #require(IPAddress(numericHost: text)))
            #expect(result.category.isPrivateNetwork, "\(text): \(result)")
            #expect(!result.permits(allowPrivateNetwork: false) && result.permits(allowPrivateNetwork: true), "\(text)")
        }
        let closed = ["169.254.169.254", "100.100.100.200", "fd00:ec2::254", "0.0.0.0", "::", "224.0.0.1",
                      "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1", "2002:a00:1::", "::a00:1", "100::1"]
        for text in closed {
            let result = AddressClassifier.classify(try #require(IPAddress(numericHost: text)))
            #expect(result.category.isAlwaysBlocked, "\(text): \(result)")
            #expect(!result.permits(allowPrivateNetwork: true), "\(text)")
        }
    }

    @Test("every category has one tier")
    func tiers() {
        for category in AddressCategory.allCases {
            let tiers = [category.isPublic, category.isPrivateNetwork, category.isAlwaysBlocked].filter { $0 }
            #expect(tiers.count == 1, "\(category)")
        }
        #expect(AddressCategory.cloudMetadata.severity > AddressCategory.reserved.severity)
        #expect(AddressCategory.reserved.severity > AddressCategory.loopback.severity)
        #expect(AddressCategory.loopback.severity > AddressCategory.publicUnicast.severity)
    }

    @Test("the range table parses and each range classifies as its own category")
    func table() {
        let ranges = AddressClassifier.ranges
        #expect(ranges.count > 40)
        for (network, category) in ranges {
            guard let category else { continue }
            // The first address of each range is inside it, unless a more specific entry covers it.
            let result = AddressClassifier.classify(network.address)
            #expect(result.category.severity >= category.severity, "\(network): \(result)")
        }
    }
}
