import Testing
import TradeSyncClock
import TradeSyncLog

/// Seals in the log (format 3): stored with their records, read back, audited.
@Suite struct FileLogChainTests {
    /// `entries` of one origin sealed as its node seals them: at `sealedAt` (1-based seqs).
    static func sealed(_ entries: [Entry], signer: ChainSigner, at sealedAt: Set<UInt64>) throws -> [SealedEntry] {
        var head = EntryChain.genesis
        return try entries.map { entry in
            head = EntryChain.next(head, entry: entry)
            return SealedEntry(entry, seal: sealedAt.contains(entry.dot.seq) ? try signer.seal(head: head, at: entry.dot) : nil)
        }
    }

    @Test("Log: seals are stored with their records, survive a reopen, and the audit recomputes every head")
    func sealsRoundTripAndAudit() throws {
        try withTempDirectory { temp in
            let signer = try ChainSigner(rawPrivateKey: [UInt8](repeating: 7, count: 32))
            let entries = try makeEntries(signer.origin, 1...5)
            let items = try Self.sealed(entries, signer: signer, at: [2, 5])
            let log = try FileLog.open(directory: temp.path)
            _ = try log.write(sealed: Array(items[0..<2]))
            _ = try log.write(sealed: Array(items[2...]))
            try log.sync()
            log.close()
            let reopened = try FileLog.open(directory: temp.path)
            defer { reopened.close() }
            #expect(try reopened.sealedEntries(origin: signer.origin, after: 0, limit: 10) == items)
            #expect(try reopened.auditChains() == ChainAudit(origins: 1, signatures: 2, problem: nil))
        }
    }

    @Test("Log: the audit names the dot of a seal over another head, a foreign key, or an unsealed last entry")
    func auditFaults() throws {
        let signer = try ChainSigner(rawPrivateKey: [UInt8](repeating: 7, count: 32))
        let other = try ChainSigner(rawPrivateKey: [UInt8](repeating: 8, count: 32))
        let entries = try makeEntries(signer.origin, 1...3)
        let good = try Self.sealed(entries, signer: signer, at: [3])
        let wrongHead = try signer.seal(head: EntryChain.genesis, at: entries[2].dot)
        let head = try #require(good[2].seal?.head)
        let cases: [(String, [SealedEntry], String)] = [
            ("head", Array(good[0..<2]) + [SealedEntry(entries[2], seal: wrongHead)],
             "\(entries[2].dot): stored chain head differs"),
            ("key", Array(good[0..<2]) + [SealedEntry(entries[2], seal: EntrySeal(head: head, signature: try other.seal(head: head, at: entries[2].dot).signature))],
             "\(entries[2].dot): signed by key of node \(other.origin.short), not by its origin"),
            ("unsealed", entries.map { SealedEntry($0) }, "\(entries[2].dot): the origin's last entry carries no signature"),
        ]
        for (name, items, expected) in cases {
            try withTempDirectory { temp in
                let log = try FileLog.open(directory: temp.path)
                defer { log.close() }
                _ = try log.write(sealed: items)
                let audit = try log.auditChains()
                #expect(audit.problem?.hasPrefix(expected) == true, "\(name): \(String(describing: audit.problem))")
            }
        }
    }
}
