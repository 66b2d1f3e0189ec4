import TradeSyncClock
import TradeSyncLog
import TradeSyncWire

/// The receiving half: bytes → frames → messages, and the rules on their order
/// (`Protocol/PROTOCOL.md`, "Session flow").
extension SyncSession {
    /// Bytes fed to the frame decoder at a time, so that it never holds more than one
    /// partial frame plus this much, whatever the size of a `.received` chunk.
    static let feedSliceBytes = 64 * 1024

    mutating func onReceived(_ bytes: [UInt8], now instant: MonotonicInstant) {
        precondition(phase != .idle, "SyncSession: .received before .connected")
        advanceTime(to: instant)
        lastReceivedAt = now
        counters.bytesIn += UInt64(bytes.count)
        for start in stride(from: 0, to: bytes.count, by: Self.feedSliceBytes) where phase != .closed {
            decoder.feed(Array(bytes[start..<min(start + Self.feedSliceBytes, bytes.count)]))
            drainFrames()
        }
    }

    /// Handles every complete frame buffered. Bounded: each frame consumes at least 5 bytes.
    private mutating func drainFrames() {
        while phase != .closed {
            let frame: Frame
            do throws(WireError) {
                guard let next = try decoder.next() else { return }
                frame = next
            } catch {
                fail(.wire(error))
                return
            }
            counters.framesIn += 1
            onFrame(frame)
        }
    }

    private mutating func onFrame(_ frame: Frame) {
        let isError = frame.type == MessageType.error.rawValue
        if phase == .awaitingHello && frame.type != MessageType.hello.rawValue && !isError {
            fail(.protocolViolation("expected HELLO (0x01) as the first message, got \(MessageType.name(frame.type))"))
            return
        }
        let message: Message
        do throws(WireError) {
            message = try Message.decode(frame)
        } catch {
            fail(.wire(error))
            return
        }
        switch message {
        case .hello(let hello): onHello(hello)
        case .vector(let vector): onVector(vector)
        case .batch(let batch): onBatch(batch)
        case .ack(let ack): onAck(ack)
        case .ping(let nonce): send(.pong(nonce: nonce))
        case .pong(let nonce): onPong(nonce)
        case .error(let error): close(.peerError(code: error.code, reason: error.reason))
        case .heads(let heads): onHeads(heads)
        }
    }

    private mutating func onHello(_ hello: Hello) {
        guard phase == .awaitingHello else { return fail(.protocolViolation("second HELLO")) }
        emit(.peerHello(hello))
        let chosen: UInt16
        do throws(WireError) {
            chosen = try ProtocolVersion.negotiate(ours: configuration.versions, theirs: hello.versions)
        } catch {
            return fail(.versionMismatch(ours: configuration.versions, theirs: hello.versions))
        }
        guard hello.nodeID != configuration.localID else { return fail(.sameNode(hello.nodeID)) }
        peerID = hello.nodeID
        version = chosen
        sendDictionary = PresetDictionary.announced(in: configuration.features & hello.features).first
        awaitingHeads = configuration.features & hello.features & HeadsFeature.bit != 0
        windowBatches = WideWindowFeature.windowBatches(ours: configuration.features, theirs: hello.features)
        phase = .awaitingVector
        emit(.handshakeCompleted(peer: hello.nodeID, peerLogInstance: hello.logInstanceID, version: chosen))
        send(.vector(localVector))
        // Announcing HEADS in HELLO promises them (empty when the driver gave none).
        if configuration.features & HeadsFeature.bit != 0 || localHeads != nil { send(.heads(localHeads ?? [])) }
    }

    private mutating func onVector(_ vector: VersionVector) {
        guard phase == .awaitingVector else { return fail(.protocolViolation("second VECTOR")) }
        phase = .syncing
        peerKnown = vector
        sentVector = vector
        emit(.peerVector(vector))
        // With HEADS on both sides, stream only once the peer's heads are compared: a fork
        // must be found before the entries after the forked dot are sent.
        if !awaitingHeads { requestFetch(force: true) }
    }

    private mutating func onBatch(_ batch: BatchMessage) {
        guard phase == .syncing else { return fail(.protocolViolation("BATCH before VECTOR")) }
        let expected = lastBatchIDReceived + 1
        guard batch.id.rawValue == expected else {
            return fail(.protocolViolation("BATCH \(batch.id.rawValue) out of order, expected \(expected)"))
        }
        guard persistQueue.count < windowBatches else {
            return fail(.windowExceeded(batchID: batch.id.rawValue, windowBatchesMax: windowBatches))
        }
        let signedBatches = (version ?? 1) >= 2
        guard batch.isSigned == signedBatches else {
            return fail(
                .protocolViolation(
                    "BATCH \(batch.id.rawValue) \(batch.isSigned ? "has" : "lacks") a signature section in protocol v\(version ?? 1)"))
        }
        // Columnar payloads are v3's; a v3 receiver takes rows too.
        guard !batch.isColumnar || (version ?? 1) >= ProtocolVersion.columnarMin else {
            return fail(
                .protocolViolation("BATCH \(batch.id.rawValue) has a columnar payload (flag bit 2) in protocol v\(version ?? 1)"))
        }
        let signed: [SignedEntry]
        do throws(WireError) {
            signed = try batch.decodeSignedEntries(dictionaries: receiveDictionaries)
        } catch {
            return fail(.wire(error))
        }
        let entries = signed.map(\.entry)
        if let gap = firstGap(entries) { return fail(.protocolViolation("BATCH \(batch.id.rawValue): \(gap)")) }
        lastBatchIDReceived = expected
        let dots = entries.map(\.dot)
        receivedVector.add(contentsOf: dots)
        // The peer holds what it sends: never echo it back, and count it as known.
        sentVector.add(contentsOf: dots)
        peerKnown.add(contentsOf: dots)
        counters.batchesReceived += 1
        counters.entriesReceived += UInt64(entries.count)
        persistQueue.append((id: batch.id, persisted: false))
        emit(.persist(signed, batch.id))
        // The peer holds what it sent: report that, so "entries behind" is right on the
        // receiving side too, not only where ACKs arrive.
        if !entries.isEmpty { emit(.peerVector(peerKnown)) }
    }

    /// Describes the first origin whose run in `entries` starts beyond what this node
    /// holds or has already received (a gap), or nil.
    private func firstGap(_ entries: [Entry]) -> String? {
        var seen: Set<NodeID> = []
        var previous: NodeID?  // the origin of the entry before: a run needs no set lookup
        for entry in entries {
            let origin = entry.dot.origin
            if origin == previous { continue }
            previous = origin
            guard seen.insert(origin).inserted else { continue }
            let held = receivedVector[entry.dot.origin]
            if entry.dot.seq > held + 1 {
                return "origin \(entry.dot.origin.short) starts at seq \(entry.dot.seq), but only \(held) are held (gap)"
            }
        }
        return nil
    }

    private mutating func onAck(_ ack: Ack) {
        guard phase == .syncing else { return fail(.protocolViolation("ACK before VECTOR")) }
        guard let oldest = inFlight.first else {
            return fail(.protocolViolation("ACK for batch \(ack.batchID.rawValue) with no batch in flight"))
        }
        guard ack.batchID == oldest else {
            return fail(.protocolViolation(
                "ACK for batch \(ack.batchID.rawValue), expected batch \(oldest.rawValue) (oldest unacknowledged)"))
        }
        inFlight.removeFirst()
        ackWaitSince = now
        peerKnown.merge(ack.vector)
        sentVector.merge(ack.vector)
        emit(.peerVector(peerKnown))
        requestFetch(force: false)
    }

    private mutating func onHeads(_ heads: [Head]) {
        guard phase == .syncing else { return fail(.protocolViolation("HEADS before VECTOR")) }
        guard !headsReceived else { return fail(.protocolViolation("second HEADS")) }
        headsReceived = true
        if heads.isEmpty {
            onHeadsCompared([])
        } else {
            emit(.peerHeads(heads))
        }
    }

    private mutating func onPong(_ nonce: UInt64) {
        guard nonce >= 1 && nonce <= pingNonce else {
            return fail(.protocolViolation("PONG with nonce \(nonce), but the last PING sent had nonce \(pingNonce)"))
        }
    }
}
