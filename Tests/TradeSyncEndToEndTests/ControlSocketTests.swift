import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 6 §5: the control socket, the node's only local access path, is created with mode
/// 0660, given to the configured group, and a caller outside it gets a clear error.
@Suite struct ControlSocketTests {
    /// Mode bits, owner and group of `path`.
    static func ownership(_ path: String) -> (mode: UInt32, uid: UInt32, gid: UInt32)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt32(info.st_mode & 0o777), UInt32(info.st_uid), UInt32(info.st_gid))
    }

    @Test("E2E: the control socket is mode 0660 and belongs to control_group; others are refused with a clear error")
    func modeGroupAndPermissionDenied() throws {
        let root = Harness.tempDir("control-group")
        defer { try? FileManager.default.removeItem(at: root) }
        // Group "daemon" (gid 1) exists on Debian and Ubuntu; the node runs as this user.
        let groupName = "daemon"
        let groupID = try #require(getgrnam(groupName)).pointee.gr_gid
        let node = NodeProcess(name: "a", root: root, port: Harness.freePort())
        let config = root.appendingPathComponent("a.toml").path
        try """
            data_dir = "\(node.dataDir.path)"
            listen = "127.0.0.1:\(node.port)"
            control_group = "\(groupName)"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        node.configFile = config
        try node.start()
        defer { node.stop() }
        let owned = try #require(Self.ownership(node.control))
        #expect(owned.mode == 0o660)
        #expect(owned.gid == groupID)
        #expect(owned.uid == getuid())

        // The data directory (mode 0750, the node's group) keeps the group out: the node says so.
        #expect(node.log().contains("its directory \(node.dataDir.path) (mode 0750"), "\(node.log())")
        #expect(node.log().contains("so members of control_group 'daemon' cannot reach it"))

        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return }
        let cli = Harness.binDir.appendingPathComponent("tradesync").path
        chmod(root.path, 0o755)
        // A group member who cannot search the directory is told so.
        let blocked = try Harness.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=\(groupID)", "--clear-groups", cli, "status", "--control", node.control])
        #expect(blocked.status == 3)
        #expect(
            blocked.stderr.contains("its directory \(node.dataDir.path) (mode 0750, owner root, group root) is not searchable by you"),
            "\(blocked.stderr)")
        // Another user, outside the group: refused, exit 3, the message says why and what to do.
        chmod(node.dataDir.path, 0o755)
        let outsider = try Harness.run(
            "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", cli, "status", "--control", node.control])
        #expect(outsider.status == 3)
        #expect(
            outsider.stderr.contains(
                "permission denied on control socket \(node.control) (mode 0660, owner root, group daemon): run tradesync as the node's user or as a member of the socket's group (config control_group)"),
            "\(outsider.stderr)")
        // A member of the group gets in.
        let member = try Harness.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=\(groupID)", "--clear-groups", cli, "status", "--json", "--control", node.control])
        #expect(member.status == 0, "\(member.stderr)")
        #expect(member.stdout.contains("\"node_id\""))
    }

    @Test("E2E: a control_group that does not exist is a config error (exit 2) naming the file and the group")
    func missingGroup() throws {
        let root = Harness.tempDir("control-nogroup")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = root.appendingPathComponent("a.toml").path
        try """
            data_dir = "\(root.appendingPathComponent("a").path)"
            listen = "127.0.0.1:\(Harness.freePort())"
            control_group = "no-such-group-tradesync"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try Harness.run("tradesyncd", ["--config", config])
        #expect(result.status == 2)
        #expect(
            result.stderr.contains("\(config): control_group 'no-such-group-tradesync': no such group (create it, or remove control_group)"),
            "\(result.stderr)")
    }
}
