import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 7 §1: the daemon speaks sd_notify(3) to a `NOTIFY_SOCKET` of the test's own.
@Suite struct SystemdNotifyTests {
    /// A datagram socket bound at `path` (a leading `@`: the abstract namespace).
    final class NotifySocket {
        let fd: Int32

        init(path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8)
            let abstract = bytes.first == UInt8(ascii: "@")
            if abstract { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            let length = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
            }
            guard bound == 0 else { throw HarnessError("bind \(path): \(String(cString: strerror(errno)))") }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        /// Datagrams received until `predicate` holds for the list or `seconds` pass.
        func receive(seconds: Double, until predicate: ([String]) -> Bool) -> [String] {
            var messages: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && !predicate(messages) {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
            }
            return messages
        }
    }

    @Test(
        "E2E: under a NOTIFY_SOCKET (path and abstract): STATUS while opening, READY=1 once serving, WATCHDOG=1 every half WATCHDOG_USEC, STOPPING=1 and exit 0 on SIGTERM",
        arguments: ["path", "abstract"])
    func readyWatchdogStopping(kind: String) throws {
        let root = Harness.tempDir("notify-\(kind)")
        defer { try? FileManager.default.removeItem(at: root) }
        let path = kind == "path" ? root.appendingPathComponent("notify.sock").path : "@tradesync-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let listener = try NotifySocket(path: path)
        let process = Process()
        process.executableURL = Harness.binDir.appendingPathComponent("tradesyncd")
        let port = Harness.freePort()
        process.arguments = [
            "--data-dir", root.appendingPathComponent("a").path, "--listen", "127.0.0.1:\(port)", "--insecure",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = path
        environment["WATCHDOG_USEC"] = "200000"
        process.environment = environment
        process.standardError = FileHandle.nullDevice
        try process.run()
        let started = listener.receive(seconds: 20) { messages in
            messages.contains { $0.contains("READY=1") } && messages.filter { $0 == "WATCHDOG=1" }.count >= 3
        }
        #expect(started.first?.hasPrefix("STATUS=opening the log in ") == true, "\(started)")
        let ready = try #require(started.first { $0.contains("READY=1") })
        #expect(ready.contains("STATUS=serving: 0 entries, listening on 127.0.0.1:\(port)"), "\(ready)")
        // 100 ms apart (half of 200 ms): three within a second or so.
        #expect(started.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(started)")
        process.terminate()
        let stopping = listener.receive(seconds: 10) { $0.contains { $0.contains("STOPPING=1") } }
        process.waitUntilExit()
        #expect(stopping.contains { $0.contains("STOPPING=1") }, "\(stopping)")
        #expect(process.terminationStatus == 0)
    }
}
