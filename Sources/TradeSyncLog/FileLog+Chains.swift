import TradeSyncClock

/// What ``FileLog/auditChains()`` found.
public struct ChainAudit: Sendable, Equatable {
    /// Origins whose entries the log holds.
    public var origins = 0
    /// Seals checked: each stored head recomputed and its signature verified.
    public var signatures = 0
    /// The first fault, naming origin and dot; nil when every chain checks out.
    public var problem: String?

    public init(origins: Int = 0, signatures: Int = 0, problem: String? = nil) {
        self.origins = origins
        self.signatures = signatures
        self.problem = problem
    }
}

extension FileLog {
    /// Recomputes every origin's hash chain from its entries and checks each seal the log
    /// stores: the head must be the one recomputed, the signature must verify over it with
    /// a key that hashes to the origin, and each origin's last entry must be sealed (every
    /// append ends sealed). Stops at the first fault. Reads 4096 entries at a time.
    ///
    /// Complexity: O(entries) SHA-256 of 72 bytes plus one Ed25519 verification per seal.
    /// - Throws: ``LogError`` when a read fails.
    public func auditChains() throws(LogError) -> ChainAudit {
        var audit = ChainAudit()
        for (origin, top) in vector.sorted {
            audit.origins += 1
            var head = EntryChain.genesis
            var after: UInt64 = 0
            var lastSealed: UInt64 = 0
            while after < top {  // bound: each pass reads up to 4096 entries
                let chunk = try sealedEntries(origin: origin, after: after, limit: 4096)
                guard !chunk.isEmpty else { break }
                for item in chunk {
                    head = EntryChain.next(head, entry: item.entry)
                    guard let seal = item.seal else { continue }
                    guard seal.head == head else {
                        audit.problem = "\(item.entry.dot): stored chain head differs from the one its entries give"
                        return audit
                    }
                    if let problem = EntryChain.problem(with: seal.signature, at: item.entry.dot, head: head) {
                        audit.problem = "\(item.entry.dot): \(problem)"
                        return audit
                    }
                    audit.signatures += 1
                    lastSealed = item.entry.dot.seq
                }
                after += UInt64(chunk.count)
            }
            if lastSealed != top {
                audit.problem = "\(Dot(origin: origin, seq: top)): the origin's last entry carries no signature"
                return audit
            }
        }
        return audit
    }
}
