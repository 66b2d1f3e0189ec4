import TradeSyncClock
import TradeSyncLog
import TradeSyncWire

/// The sending half: fetch → BATCH → ACK, the window, ACKs after persist, and in-sync
/// detection (`Protocol/PROTOCOL.md`, "Session flow").
extension SyncSession {
    /// Batches we may have unacknowledged: our configured window within the one both
    /// HELLOs agreed on.
    var sendWindow: Int { min(configuration.windowBatches, windowBatches) }

    /// Asks the node for the next entries the peer lacks, when the window has room, no
    /// fetch is outstanding, and (unless `force`) the local vector holds something not sent.
    mutating func requestFetch(force: Bool) {
        // Fork evidence first, each entry alone (two copies of one dot never share a batch).
        while phase == .syncing, !evidenceQueue.isEmpty, inFlight.count < sendWindow {
            sendBatch([SignedEntry(evidenceQueue.removeFirst())])
        }
        guard phase == .syncing, !awaitingHeads, fetchAfter == nil, inFlight.count < sendWindow else { return }
        if !force && localVector.isDominated(by: sentVector) {
            drained = true
            return
        }
        fetchAfter = sentVector
        localVectorAtFetch = localVector
        drained = false
        emit(.fetch(after: sentVector, entriesMax: configuration.batchEntriesMax, bytesMax: configuration.batchBytesMax))
    }

    mutating func onFetched(_ entries: [SignedEntry]) {
        guard let after = fetchAfter else { preconditionFailure("SyncSession: .fetched without an outstanding .fetch") }
        fetchAfter = nil
        guard phase == .syncing else { return }
        if entries.isEmpty {
            // Fetch again only if the node reported growth meanwhile; never spin on a stale vector.
            if localVector == localVectorAtFetch { drained = true } else { requestFetch(force: false) }
            return
        }
        let batch = selectBatch(entries, after: after)
        if !batch.isEmpty { sendBatch(batch) }
        requestFetch(force: false)
    }

    /// The prefix of a fetch reply that goes into one batch: entries acknowledged since the
    /// fetch was asked are skipped, and the batch stops at the entry or byte limit (the
    /// rest is fetched again).
    ///
    /// The batch grows by whole spans: the entries up to and including the next signed one
    /// (PROTOCOL.md "Signed entries": each origin's run in a batch ends at a signature, so
    /// the receiver can verify it). Unsigned entries at the end of the reply go in when
    /// they fit; a first span above the limits (never made by a signing node) is cut at them.
    /// - Precondition: per origin the reply starts at `after[origin] + 1` and is contiguous.
    private func selectBatch(_ entries: [SignedEntry], after: VersionVector) -> [SignedEntry] {
        var nextSeq: [NodeID: UInt64] = [:]
        var batch: [SignedEntry] = []
        var span: [SignedEntry] = []
        var payloadBytes = 0
        var spanBytes = 0
        var full = false
        // The current origin's next seq and sent counter, kept out of the dictionaries while
        // its run lasts (a reply is mostly one origin's run): lookups per run, not per entry.
        var runOrigin: NodeID?
        var expected: UInt64 = 0
        var sent: UInt64 = 0
        for item in entries {
            let entry = item.entry
            let dot = entry.dot
            if dot.origin != runOrigin {
                if let origin = runOrigin { nextSeq[origin] = expected }
                runOrigin = dot.origin
                expected = nextSeq[dot.origin] ?? after[dot.origin] + 1
                sent = sentVector[dot.origin]
            }
            precondition(dot.seq == expected, "fetch reply has \(dot) where seq \(expected) was due")
            expected += 1
            if dot.seq <= sent { continue }  // sentVector covers it: the peer has it
            let size = BatchMessage.payloadBytes(of: entry)
            if batch.count + span.count == configuration.batchEntriesMax
                || payloadBytes + spanBytes + size > configuration.batchBytesMax
            {
                full = true
                break
            }
            span.append(item)
            spanBytes += size
            if item.signature != nil {
                batch += span
                payloadBytes += spanBytes
                span.removeAll(keepingCapacity: true)
                spanBytes = 0
            }
        }
        if !full || batch.isEmpty { batch += span }
        return batch
    }

    /// Batches of at most this many entries are built as rows as well in protocol v3, and
    /// sent as rows when that is shorter. Measured on `gen_trade.py` data: one-entry batches
    /// take about 95 bytes as rows with `trade-1` and 107 as columns; from about 10 entries
    /// on, columns win.
    static let rowsTriedEntriesMax = 16

    private mutating func sendBatch(_ entries: [SignedEntry]) {
        let id = BatchID(rawValue: nextBatchID)
        nextBatchID += 1
        var batch =
            (version ?? 1) >= 2
            ? BatchMessage(
                id: id, signed: entries, columnar: (version ?? 1) >= ProtocolVersion.columnarMin,
                payloadBytesMax: configuration.batchBytesMax, dictionary: sendDictionary)
            : BatchMessage(
                id: id, entries: entries.map(\.entry), payloadBytesMax: configuration.batchBytesMax,
                dictionary: sendDictionary)
        // A v3 receiver takes rows too: a few entries (a live edit) often travel shorter as
        // rows with the preset dictionary than as columns with their tables and counts.
        if batch.isColumnar && entries.count <= Self.rowsTriedEntriesMax {
            let rows = BatchMessage(
                id: id, signed: entries, payloadBytesMax: configuration.batchBytesMax, dictionary: sendDictionary)
            if rows.payload.count < batch.payload.count { batch = rows }
        }
        send(.batch(batch))
        if inFlight.isEmpty { ackWaitSince = now }
        inFlight.append(id)
        let dots = entries.map(\.entry.dot)
        sentVector.add(contentsOf: dots)
        // We hold what we send, even before the node reports it in `.localEntries`, so
        // the peer may continue from here without that counting as a gap.
        receivedVector.add(contentsOf: dots)
        counters.batchesSent += 1
        counters.entriesSent += UInt64(entries.count)
        counters.uncompressedBytesSent += UInt64(batch.uncompressedLength)
        counters.payloadBytesSent += UInt64(batch.payload.count)
    }

    mutating func onPersisted(_ batchID: BatchID, localVector vector: VersionVector) {
        localVector.merge(vector)
        receivedVector.merge(vector)
        guard let index = persistQueue.firstIndex(where: { $0.id == batchID && !$0.persisted }) else { return }
        persistQueue[index].persisted = true
        // ACK in batch order, each only once it and every earlier batch are persisted.
        while let first = persistQueue.first, first.persisted {
            persistQueue.removeFirst()
            send(.ack(Ack(batchID: first.id, vector: localVector)))
        }
        requestFetch(force: false)
    }

    /// The node found the peer's head for `origin` at `fromSeq` differing from its own
    /// entry there: send this origin again from `fromSeq`, so the peer receives our
    /// version of that dot and holds both entries (fork evidence).
    mutating func onResend(origin: NodeID, fromSeq seq: UInt64) {
        guard phase == .syncing, seq >= 1 else { return }
        sentVector.lower(origin, to: seq - 1)
        requestFetch(force: false)
    }

    /// The node compared the peer's HEADS: send the forked origins again from their
    /// differing dots, then start streaming (if it was waiting for this).
    mutating func onHeadsCompared(_ dots: [Dot]) {
        guard phase == .syncing else { return }
        for dot in dots where dot.seq >= 1 { sentVector.lower(dot.origin, to: dot.seq - 1) }
        let first = awaitingHeads
        awaitingHeads = false
        requestFetch(force: first)
    }

    /// Queues both copies of forked dots for the peer (see `.sendEvidence`).
    mutating func onSendEvidence(_ entries: [Entry]) {
        guard phase == .syncing else { return }
        evidenceQueue += entries
        requestFetch(force: false)
    }

    mutating func onLocalEntries(_ vector: VersionVector) {
        localVector.merge(vector)
        receivedVector.merge(vector)
        requestFetch(force: false)
    }

    /// Emits `.inSync` on the transition into: nothing in flight, no fetch outstanding,
    /// the last fetch came back empty, and the peer is known to hold all we hold.
    mutating func updateInSync() {
        guard phase == .syncing, let peer = peerID else { return }
        let inSync = inFlight.isEmpty && fetchAfter == nil && drained && localVector.isDominated(by: peerKnown)
        if inSync && !isInSync { emit(.inSync(peer: peer)) }
        isInSync = inSync
    }
}
