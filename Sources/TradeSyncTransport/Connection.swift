import Logging
import NIOCore
import Synchronization
import TradeSyncClock
import TradeSyncLog
import TradeSyncSession
import TradeSyncWire

/// Converts the process's monotonic clock into the pure core's ``MonotonicInstant``.
public enum MonotonicClock {
    private static let origin = ContinuousClock.now

    /// Nanoseconds since the first call in this process.
    public static func now() -> MonotonicInstant {
        let elapsed = ContinuousClock.now - origin
        let (seconds, attoseconds) = elapsed.components
        return MonotonicInstant(nanoseconds: UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000))
    }
}

/// Drives one ``SyncSession`` over one TCP connection: feeds it bytes, timer ticks and
/// local-vector changes, and carries out its outputs (send, fetch, persist, wake) in order.
///
/// All inputs go through one `AsyncStream` consumed by a single task, so the session sees
/// them serially and its outputs (notably persist-then-ack) keep their order.
public enum Connection {
    /// How a connection ended: the one-line reason (nil for a local shutdown) and, when
    /// the session itself closed, its typed reason.
    public struct End: Sendable {
        public var reason: String?
        public var error: SyncError?
        /// TLS refused the peer's certificate (wrong or unpinned node ID, not Ed25519).
        public var tlsRefused = false
    }

    /// Runs the session until either side closes. Returns how it ended.
    ///
    /// With TLS (`proof` not nil) the session's bytes are the decrypted stream, the peer's
    /// HELLO must name the node its certificate proved (else the connection is closed with
    /// an ERROR naming both IDs), and a handshake failure or certificate refusal becomes
    /// the end's reason.
    public static func run(
        channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, link: LinkID, direction: LinkDirection, address: String,
        configuration: SyncSession.Configuration, host: any SessionHost, proof: LinkProof? = nil, logger: Logger
    ) async -> End {
        let (inputs, continuation) = AsyncStream<SyncSession.Input>.makeStream()
        var reason: String?
        var sessionError: SyncError?
        let sawTLS = TLSSighting()
        do {
            try await channel.executeThenClose { inbound, outbound in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer {
                            continuation.yield(.disconnected)
                            continuation.finish()
                        }
                        do {
                            var first = proof == nil
                            for try await buffer in inbound {
                                if first {
                                    first = false
                                    if TLSSighting.looksLikeTLS(Array(buffer.readableBytesView.prefix(3))) {
                                        sawTLS.note()
                                        channel.channel.close(promise: nil)
                                        break
                                    }
                                }
                                continuation.yield(.received(Array(buffer.readableBytesView), now: MonotonicClock.now()))
                            }
                        } catch {
                            proof?.fail(error)
                            logger.debug("connection read ended: \(error)")
                        }
                    }
                    let close: @Sendable () -> Void = { channel.channel.close(promise: nil) }
                    var driver = Driver(
                        session: SyncSession(configuration: configuration), link: link, direction: direction,
                        address: address, host: host, proof: proof, continuation: continuation, outbound: outbound,
                        close: close, logger: logger)
                    reason = await driver.run(inputs: inputs)
                    sessionError = driver.closeError
                    driver.cancelTimer()
                    // Closing the channel ends the inbound reader; then nothing is left to wait for.
                    channel.channel.close(promise: nil)
                    group.cancelAll()
                }
            }
        } catch {
            if reason == nil { reason = "connection error: \(error)" }
        }
        continuation.finish()
        if sawTLS.seen {
            return End(reason: TLSSighting.reason, error: nil, tlsRefused: true)
        }
        if let refusal = proof?.refusal {
            return End(reason: "TLS refused: \(refusal)", error: nil, tlsRefused: true)
        }
        if let proof, let failure = proof.failure, proof.provenID == nil || proof.peerRefused {
            return End(reason: "TLS handshake failed: \(failure)", error: sessionError, tlsRefused: proof.peerRefused)
        }
        return End(reason: reason, error: sessionError)
    }
}

/// Notes that a plain-TCP (insecure) connection received a TLS record: the peer runs TLS.
/// No frame can start like one (its length would exceed `frameBytesMax` many times over).
private final class TLSSighting: Sendable {
    static let reason =
        "the peer speaks TLS (it runs TLS 1.3 with pinned peers, this node runs insecure): pin each other's node IDs and drop insecure"
    private let flag = Mutex(false)

    var seen: Bool { flag.withLock { $0 } }
    func note() { flag.withLock { $0 = true } }

    /// A TLS record header: content type 20–23, then major version 3.
    static func looksLikeTLS(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && (20...23).contains(bytes[0]) && bytes[1] == 3
    }
}

/// The per-connection loop state. Not shared: owned by the connection's driver task.
private struct Driver {
    var session: SyncSession
    let link: LinkID
    let direction: LinkDirection
    let address: String
    let host: any SessionHost
    /// What TLS proved about the peer; nil for plain TCP.
    let proof: LinkProof?
    let continuation: AsyncStream<SyncSession.Input>.Continuation
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let close: @Sendable () -> Void
    let logger: Logger
    var pending: [SyncSession.Input] = []
    var timer: Task<Void, Never>?
    var closed = false
    /// The session's reason, once it emitted `.close`.
    var closeError: SyncError?
    /// Received batches waiting for the persister task, in the order the session emitted them.
    var persistJobs: AsyncStream<(entries: [SignedEntry], batchID: BatchID)>.Continuation?
    /// The session's counters for the reporter task; only the newest is kept.
    var counterReports: AsyncStream<SessionCounters>.Continuation?

    /// Runs the session; returns the reason it ended.
    ///
    /// Received batches are persisted by a task of their own, one at a time and in order,
    /// while this loop goes on reading and decoding the next ones: a catch-up's decode
    /// overlaps the node's check, write and apply of the batch before (the session keeps up
    /// to a window of batches unacknowledged and ACKs them in order as `.persisted` comes
    /// back). On the way out the batches already queued are still persisted, in order: each
    /// arrived whole and passed its checks, so a session that ends on a later frame (a
    /// protocol violation, a closed socket, shutdown) keeps them; the window bounds that work.
    /// A batch the node refuses ends the persister, and those behind it are dropped
    /// unacknowledged.
    ///
    /// Counters reach the node through a reporter task that keeps only the newest: waiting
    /// for the node's actor here would hold the next batch's decode until the batch before
    /// it is applied, which is the very overlap the persister is for.
    mutating func run(inputs: AsyncStream<SyncSession.Input>) async -> String? {
        let (counters, countersIn) = AsyncStream<SessionCounters>.makeStream(bufferingPolicy: .bufferingNewest(1))
        counterReports = countersIn
        let reporter = Task { [host, link] in
            for await latest in counters { await host.counters(link: link, latest) }
        }
        let (jobs, jobsIn) = AsyncStream<(entries: [SignedEntry], batchID: BatchID)>.makeStream()
        persistJobs = jobsIn
        let persister = Task { [host, link, address, continuation] in
            for await job in jobs {
                do {
                    let persisted = try await host.persist(job.entries, link: link)
                    continuation.yield(.persisted(job.batchID, localVector: persisted.vector))
                    for dot in persisted.forks { continuation.yield(.resend(origin: dot.origin, fromSeq: dot.seq)) }
                } catch let refusal as SyncError {
                    // The node refuses what the peer sent (a forged entry): the session tells it why.
                    continuation.yield(.refuse(refusal))
                    return
                } catch {
                    continuation.yield(.refuse(.closing("cannot persist batch from \(address): \(error)")))
                    return
                }
            }
        }
        let reason = await loop(inputs: inputs)
        jobsIn.finish()
        await persister.value
        countersIn.yield(session.counters)
        countersIn.finish()
        await reporter.value
        return reason
    }

    private mutating func loop(inputs: AsyncStream<SyncSession.Input>) async -> String? {
        pending.append(.connected(localVector: await host.localVector(), now: MonotonicClock.now()))
        pending.append(.heads(await host.localHeads()))
        var iterator = inputs.makeAsyncIterator()
        while !closed {
            let input: SyncSession.Input
            if !pending.isEmpty {
                input = pending.removeFirst()
            } else if let next = await iterator.next() {
                input = next
            } else {
                return "connection closed"
            }
            if case .disconnected = input {
                _ = session.handle(input)
                return "peer closed the connection"
            }
            if let reason = await perform(session.handle(input)) { return reason }
            // Counters go to the node once the queued inputs are handled, not between them.
            if pending.isEmpty { counterReports?.yield(session.counters) }
        }
        return nil
    }

    /// Carries out outputs in order. Returns a reason when the session must end.
    mutating func perform(_ outputs: [SyncSession.Output]) async -> String? {
        for output in outputs {
            switch output {
            case .send(let bytes):
                do { try await outbound.write(ByteBuffer(bytes: bytes)) } catch { return "send failed: \(error)" }
            case .fetch(let after, let entriesMax, let bytesMax):
                pending.append(.fetched(await host.fetch(after: after, entriesMax: entriesMax, bytesMax: bytesMax)))
            case .persist(let entries, let batchID):
                persistJobs?.yield((entries, batchID))
            case .wakeAt(let instant):
                schedule(at: instant)
            case .peerHello(let hello):
                if let proof, let refusal = proof.helloRefusal(hello.nodeID) {
                    return await refuseHello(refusal)
                }
                await host.peerHello(link: link, direction: direction, address: address, hello: hello)
            case .handshakeCompleted(let peer, _, let version):
                let continuation = continuation
                let keep = await host.sessionStarted(
                    link: link, direction: direction, address: address, peer: peer, version: version,
                    authenticated: proof?.provenID, notify: { continuation.yield(.localEntries($0)) },
                    close: { continuation.yield(.refuse(.closing($0))) })
                if !keep { return "duplicate session" }
                // Writes made durable between `.connected` (whose vector was read before the
                // handshake, TLS included) and the registration of `notify` just now were
                // announced to nobody: read the vector again, or the session would stop after
                // what it knew at connect (seen as a stall after one batch of an import).
                pending.append(.localEntries(await host.localVector()))
            case .peerHeads(let heads):
                let comparison = await host.compareHeads(heads, link: link)
                if !comparison.evidence.isEmpty { pending.append(.sendEvidence(comparison.evidence)) }
                pending.append(.headsCompared(resend: comparison.resend))
            case .peerVector(let vector):
                await host.peerVector(link: link, vector)
            case .inSync:
                await host.inSync(link: link)
            case .close(let error):
                closed = true
                closeError = error
                return error.description
            }
        }
        return nil
    }

    /// Closes a TLS connection whose HELLO names another node than its certificate proved:
    /// sends ERROR (unexpectedMessage) with the reason, which names both IDs.
    mutating func refuseHello(_ reason: String) async -> String {
        logger.warning("refused peer at \(address): \(reason)")
        let error = Message.error(ErrorMessage(code: .unexpectedMessage, reason: reason))
        try? await outbound.write(ByteBuffer(bytes: error.encoded()))
        closed = true
        closeError = .protocolViolation(reason)
        return reason
    }

    mutating func schedule(at instant: MonotonicInstant) {
        timer?.cancel()
        let delay = instant.duration(since: MonotonicClock.now())
        let continuation = continuation
        timer = Task {
            try? await Task.sleep(for: delay)
            if !Task.isCancelled { continuation.yield(.timer(now: MonotonicClock.now())) }
        }
    }

    func cancelTimer() { timer?.cancel() }
}
