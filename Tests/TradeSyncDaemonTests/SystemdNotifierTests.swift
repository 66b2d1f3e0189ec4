import Foundation
import NIOCore
import Testing
import TradeSyncDaemon

@Suite struct SystemdNotifierTests {
    @Test("Systemd: the watchdog interval is half WATCHDOG_USEC, only with a NOTIFY_SOCKET and for our own PID")
    func watchdogInterval() {
        let pid = String(ProcessInfo.processInfo.processIdentifier)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"]).watchdogInterval == .seconds(15))
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "200000", "WATCHDOG_PID": pid]).watchdogInterval == .milliseconds(100))
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "200000"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "0"]).watchdogInterval == nil)
    }

    @Test("Systemd: without NOTIFY_SOCKET (or with an empty one) notify sends nothing")
    func noSocket() {
        #expect(SystemdNotifier(environment: [:]).notify("READY=1") == false)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]).socketPath == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify.sock"]).notify("READY=1") == false)
    }
}
