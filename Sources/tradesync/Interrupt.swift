import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM noted instead of ending the process at once, for the commands that
/// must finish cleanly: `log --follow` ends its loop and exits 0; `export` removes its
/// temporary file, then dies of the signal as usual (``reraise()``). The handler only
/// sets a flag; everything else happens on the main thread.
enum Interrupt {
    private static let flag = Atomic<Bool>(false)
    private static let signalNumber = Atomic<Int32>(0)

    /// True once SIGINT or SIGTERM arrived.
    static var interrupted: Bool { flag.load(ordering: .relaxed) }

    /// Installs the handlers (without SA_RESTART, so a sleep or a read is cut short) and
    /// unblocks both signals: a parent may have started us with them blocked (a blocked
    /// mask is inherited), and then Ctrl-C would never reach the handler.
    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { number in
            Interrupt.signalNumber.store(number, ordering: .relaxed)
            Interrupt.flag.store(true, ordering: .relaxed)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    /// Restores the default action of the signal that arrived and raises it again, so the
    /// process ends as an interrupted one (status 128+n in a shell).
    static func reraise() -> Never {
        let number = signalNumber.load(ordering: .relaxed)
        let chosen = number == 0 ? SIGINT : number
        signal(chosen, SIG_DFL)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, chosen)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        raise(chosen)
        exit(128 + chosen)
    }
}
