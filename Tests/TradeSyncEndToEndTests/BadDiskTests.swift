import Foundation
import Testing
import TradeSyncControl

/// True when this process may mount a tmpfs (root with CAP_SYS_ADMIN), which the
/// read-only and full-disk cases need; elsewhere they are reported as skipped.
let canMountTmpfs: Bool = {
    let probe = Harness.tempDir("mount-probe")
    defer { try? FileManager.default.removeItem(at: probe) }
    guard (try? Harness.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe.path]))?.status == 0 else {
        return false
    }
    _ = try? Harness.run("/bin/umount", [probe.path])
    return true
}()

/// Mounts a tmpfs of `size` (mount(8) syntax, e.g. `1m`) at `directory`, creating it.
func mountTmpfs(_ directory: URL, size: String) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let result = try Harness.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", directory.path])
    guard result.status == 0 else { throw HarnessError("mount tmpfs at \(directory.path): \(result.stderr)") }
}

/// What the disk does to a node: missing or stale checkpoints, a read-only data
/// directory, a full disk. Each gives a clear error or a correct recovery, never a
/// crash or silent loss.
@Suite(.serialized) struct BadDiskEndToEndTests {
    /// Starts a node, writes `count` puts, returns it running.
    static func node(_ root: URL, writes count: Int, first: Int = 1) throws -> NodeProcess {
        let node = NodeProcess(name: "n", root: root, port: Harness.freePort())
        try node.start()
        try put(node, from: first, count: count)
        return node
    }

    static func put(_ node: NodeProcess, from first: Int, count: Int) throws {
        for value in first..<(first + count) {
            let result = try node.cli(["put", "KOR:USA:X:852352:\(2000 + value)", "value_usd=\(value)"])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    @Test("E2E: deleted checkpoint: full replay, same digest; stale checkpoint: its tail replayed, same digest")
    func deletedAndStaleCheckpoint() throws {
        let root = Harness.tempDir("checkpoint")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = try Self.node(root, writes: 3)
        defer { node.stop() }
        #expect(node.stop() == 0)
        let checkpoint = node.dataDir.appendingPathComponent("checkpoint")
        let old = try Data(contentsOf: checkpoint)  // covers 3 entries

        try node.start()
        #expect(node.log().contains("3 from the checkpoint, 0 replayed"), "\(node.log())")
        try Self.put(node, from: 4, count: 2)
        let before = try node.status()
        #expect(before.entries == 5)
        #expect(node.stop() == 0)

        // Deleted: the whole log is replayed.
        try FileManager.default.removeItem(at: checkpoint)
        try node.start()
        #expect(try node.status().digest == before.digest)
        #expect(node.log().contains("0 from the checkpoint, 5 replayed"), "\(node.log())")
        #expect(node.stop() == 0)

        // Stale (an older, valid checkpoint): loaded, and the 2 entries after it replayed.
        try old.write(to: checkpoint)
        try node.start()
        #expect(try node.status().digest == before.digest)
        #expect(node.log().contains("3 from the checkpoint, 2 replayed"), "\(node.log())")
        #expect(node.stop() == 0)

        // Damaged: ignored with a warning naming it, full replay, same digest.
        var damaged = try Data(contentsOf: checkpoint)
        damaged[damaged.count / 2] ^= 0x40
        try damaged.write(to: checkpoint)
        try node.start()
        #expect(try node.status().digest == before.digest)
        #expect(node.log().contains("checkpoint not used") && node.log().contains("CRC mismatch"), "\(node.log())")
        #expect(node.stop() == 0)
        let verified = try Harness.run("tradesync", ["verify", "--data-dir", node.dataDir.path])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains(before.digest))
    }

    @Test("E2E: read-only data directory: one-line error naming the file, exit 1, no stack trace", .enabled(if: canMountTmpfs))
    func readOnlyDataDirectory() throws {
        let root = Harness.tempDir("readonly")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = NodeProcess(name: "n", root: root, port: Harness.freePort())
        try mountTmpfs(node.dataDir, size: "4m")
        defer { _ = try? Harness.run("/bin/umount", [node.dataDir.path]) }
        try node.start()
        try Self.put(node, from: 1, count: 3)
        let before = try node.status()
        #expect(node.stop() == 0)

        #expect(try Harness.run("/bin/mount", ["-o", "remount,ro", node.dataDir.path]).status == 0)
        let result = try Harness.run(
            "tradesyncd", ["--data-dir", node.dataDir.path, "--listen", "127.0.0.1:\(Harness.freePort())"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(node.dataDir.path) && result.stderr.contains("Read-only file system"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"), "\(result.stderr)")
        // verify reads a read-only directory.
        let verified = try Harness.run("tradesync", ["verify", "--data-dir", node.dataDir.path])
        #expect(verified.status == 0 && verified.stdout.contains(before.digest), "\(verified.stderr)")

        #expect(try Harness.run("/bin/mount", ["-o", "remount,rw", node.dataDir.path]).status == 0)
        try node.start()
        #expect(try node.status().digest == before.digest)
        #expect(node.stop() == 0)
    }

    @Test("E2E: full disk: the import is refused whole with ENOSPC, the node serves on, nothing acknowledged is lost", .enabled(if: canMountTmpfs))
    func fullDisk() throws {
        let root = Harness.tempDir("full")
        defer { try? FileManager.default.removeItem(at: root) }
        let node = NodeProcess(name: "n", root: root, port: Harness.freePort())
        // Room for the key, a segment and a few entries, not for the 9,553 of the cement file.
        try mountTmpfs(node.dataDir, size: "512k")
        defer { _ = try? Harness.run("/bin/umount", [node.dataDir.path]) }
        try node.start()
        defer { node.stop() }
        try Self.put(node, from: 1, count: 3)
        let before = try node.status()

        let file = Harness.dataFile("comtrade_legacy_bulk_cement-252310_1988-2020.csv")
        let imported = try node.cli(["import", file, "--skip-invalid"])
        #expect(imported.status != 0)
        #expect(imported.stderr.contains("No space left on device"), "\(imported.stderr)")
        // Refused whole: nothing of the import is held, the node still serves and writes.
        let after = try node.status()
        #expect(after.entries == before.entries && after.digest == before.digest)
        try Self.put(node, from: 4, count: 1)
        let last = try node.status()
        #expect(last.entries == 4)
        #expect(node.stop() == 0)

        // A restart holds exactly what was acknowledged (the final checkpoint may not fit:
        // then the log is replayed).
        try node.start()
        #expect(try node.status().digest == last.digest)
        #expect(node.stop() == 0)
        let verified = try Harness.run("tradesync", ["verify", "--data-dir", node.dataDir.path])
        #expect(verified.status == 0 && verified.stdout.contains(last.digest), "\(verified.stderr)")
    }
}
