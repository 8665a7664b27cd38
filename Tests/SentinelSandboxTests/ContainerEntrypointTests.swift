// The container entrypoint's readings of the kernel's tables, pure: which mount is read-only,
// which mounts an unguarded command may keep writing (never the guard's records, a tree above
// them, or a second mount of them), and whether a container has a route out.

import Testing
@testable import SentinelSandbox

@Suite("the container entrypoint's mount and route tables")
struct ContainerEntrypointTests {
    /// A container's mountinfo as Docker 20.10 makes it (trimmed), with the records' volume
    /// mounted a second time at /data/alias.
    static let mountInfo = """
        600 500 0:52 / / ro,relatime master:1 - overlay overlay rw,lowerdir=/x
        601 600 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
        602 600 0:56 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
        603 600 8:1 /srv/ws /workspace rw,relatime - ext4 /dev/sda1 rw
        604 603 8:1 /srv/sentinel.yaml /workspace/sentinel.yaml ro,relatime - ext4 /dev/sda1 rw
        605 600 8:1 /var/lib/docker/volumes/p_sentinel-guard-audit/_data /var/log/sentinel rw,relatime - ext4 /dev/sda1 rw
        606 600 0:60 / /tmp rw,nosuid,noexec - tmpfs tmpfs rw,size=65536k
        607 600 8:1 /var/lib/docker/volumes/p_sentinel-guard-audit/_data/sub /data/alias rw,relatime - ext4 /dev/sda1 rw
        608 600 8:1 /var/lib/docker/containers/c/hosts /etc/hosts rw,relatime - ext4 /dev/sda1 rw
        609 600 8:1 /srv/with\\040space /mnt/with\\040space rw,relatime - ext4 /dev/sda1 rw
        """

    @Test("a read-only mount is told from a writable one, by exact mount point")
    func readOnlyMount() {
        let table = MountTable(text: Self.mountInfo)
        #expect(table.isReadOnlyMount(at: "/workspace/sentinel.yaml"))
        #expect(!table.isReadOnlyMount(at: "/workspace"))
        #expect(!table.isReadOnlyMount(at: "/workspace/other.yaml"), "not a mount point at all")
        #expect(table.entries.contains { $0.mountPoint == "/mnt/with space" })
    }

    @Test("the unguarded command keeps every mount but the records, their ancestors and their aliases")
    func writableMounts() {
        let points = MountTable(text: Self.mountInfo).writableMountPoints(protecting: "/var/log/sentinel")
        #expect(points == ["/proc", "/dev", "/workspace", "/workspace/sentinel.yaml", "/tmp", "/etc/hosts", "/mnt/with space"])
    }

    @Test("a default route through an interface other than loopback is a way out", arguments: [
        ("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n", "", true),
        ("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n", "", false),
        ("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n", "", false),
        ("", "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n", true),
        ("", "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n", false),
    ] as [(String, String, Bool)])
    func defaultRoute(ipv4: String, ipv6: String, out: Bool) {
        #expect(RouteTable.hasDefaultRoute(ipv4: ipv4, ipv6: ipv6) == out)
    }
}
