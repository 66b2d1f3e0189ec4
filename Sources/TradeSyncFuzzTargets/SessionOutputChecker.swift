import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

/// Checks every output list a ``SyncSession`` returns against the contract of its
/// documentation and `Protocol/PROTOCOL.md` "Session flow":
/// - after `.close`, no input yields any output; `.close` is the last output of its call;
/// - an open session's outputs end with exactly one `.wakeAt`;
/// - every `.send` is exactly one frame our decoder accepts and whose message decodes
///   (a BATCH's entries too), starting with HELLO;
/// - an ERROR send is followed at once by `.close` with the same code, and every close
///   for our own reason (not the peer's ERROR, not a disconnect) is preceded by it;
/// - BATCHes go out numbered 1, 2, 3, … within the configured entry limit, and never
///   carry an entry the peer sent us;
/// - `.persist` requests are numbered 1, 2, 3, …; an ACK goes out only after the harness
///   answered `.persisted` for its batch, in batch order, each once;
/// - at most one `.fetch` is outstanding.
struct SessionOutputChecker {
    let batchEntriesMax: Int
    private(set) var isClosed = false
    private(set) var closeCode: ErrorCode?
    private(set) var sends = 0
    private(set) var batchesSent: UInt64 = 0
    private(set) var acksSent: UInt64 = 0
    private(set) var persistsRequested: UInt64 = 0
    private(set) var persisted: Set<UInt64> = []
    private(set) var fetchOutstanding = false
    private(set) var handshakes = 0
    /// Dots the peer sent us (they must never be sent back).
    private(set) var fromPeer: Set<Dot> = []

    init(batchEntriesMax: Int) { self.batchEntriesMax = batchEntriesMax }

    /// The harness answered the outstanding fetch.
    mutating func fetchAnswered() { fetchOutstanding = false }

    /// The harness answered `.persisted` for `id`.
    mutating func persistAnswered(_ id: BatchID) { persisted.insert(id.rawValue) }

    /// Checks the outputs of one `handle` call.
    mutating func check(_ outputs: [SyncSession.Output], after input: String) throws(FuzzFailure) {
        if isClosed {
            try expect(outputs.isEmpty, "\(outputs.count) outputs after .close (input \(input))")
            return
        }
        var errorSentCode: ErrorCode?
        for (index, output) in outputs.enumerated() {
            let isLast = index == outputs.count - 1
            if let code = errorSentCode {
                guard case .close(let error) = output else {
                    throw FuzzFailure(.session, "ERROR (code \(code)) followed by \(output) instead of .close")
                }
                try expect(error.errorCode == code, "ERROR code \(code) sent, closed with \(error) (\(error.errorCode))")
            }
            switch output {
            case .send(let bytes):
                errorSentCode = try checkSend(bytes)
            case .fetch:
                try expect(!fetchOutstanding, "a second .fetch while one is outstanding")
                fetchOutstanding = true
            case .persist(let entries, let id):
                persistsRequested += 1
                try expect(id.rawValue == persistsRequested, ".persist for \(id), expected batch \(persistsRequested)")
                try expect(!entries.isEmpty, ".persist of no entries for \(id)")
                for item in entries { fromPeer.insert(item.entry.dot) }
            case .wakeAt:
                try expect(isLast, ".wakeAt is not the last output")
            case .handshakeCompleted:
                handshakes += 1
                try expect(handshakes == 1, "handshake completed \(handshakes) times")
            case .peerVector, .inSync, .peerHello, .peerHeads:
                break
            case .close(let error):
                try expect(isLast, ".close is not the last output (input \(input))")
                let ownReason: Bool = switch error {
                case .peerError, .disconnected: false
                default: true
                }
                try expect(ownReason == (errorSentCode != nil), "closed with \(error); ERROR sent: \(errorSentCode.map { "\($0)" } ?? "no")")
                isClosed = true
                closeCode = error.errorCode
            }
        }
        if let code = errorSentCode, !isClosed {
            throw FuzzFailure(.session, "ERROR (code \(code)) is the last output, without .close")
        }
        if !isClosed {
            guard case .wakeAt = outputs.last else {
                throw FuzzFailure(.session, "open session's outputs do not end with .wakeAt (input \(input))")
            }
        }
    }

    /// Checks one sent frame; returns the ERROR code when it is an ERROR.
    private mutating func checkSend(_ bytes: [UInt8]) throws(FuzzFailure) -> ErrorCode? {
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        let next = Result { () throws(WireError) in try decoder.next() }
        guard case .success(let one) = next else { throw FuzzFailure(.session, "our decoder refuses a sent frame: \(next)") }
        guard let frame = one else { throw FuzzFailure(.session, "a .send holds no whole frame") }
        try expect(decoder.bufferedByteCount == 0, "a .send holds more than one frame")
        let message: Message
        do throws(WireError) {
            message = try Message.decode(frame)
        } catch {
            throw FuzzFailure(.session, "a sent \(MessageType.name(frame.type)) does not decode: \(error)")
        }
        do throws(FuzzFailure) {
            _ = try MessageChecks.check(frame)
        } catch {
            throw FuzzFailure(.session, "sent frame: \(error.message)")
        }
        sends += 1
        try expect((sends == 1) == (message.type == .hello), "send \(sends) is \(message.type)")
        switch message {
        case .batch(let batch):
            batchesSent += 1
            try expect(batch.id.rawValue == batchesSent, "sent \(batch.id), expected batch \(batchesSent)")
            try expect(batch.entryCount <= batchEntriesMax, "sent \(batch.entryCount) entries, limit \(batchEntriesMax)")
            let entries: [Entry]
            do throws(WireError) {
                entries = try batch.decodeEntries(dictionaries: PresetDictionary.known)
            } catch {
                throw FuzzFailure(.session, "sent \(batch.id) does not decode: \(error)")
            }
            for entry in entries where fromPeer.contains(entry.dot) {
                throw FuzzFailure(.session, "sent \(entry.dot) back to the peer that sent it")
            }
        case .ack(let ack):
            acksSent += 1
            try expect(ack.batchID.rawValue == acksSent, "ACK for \(ack.batchID), expected batch \(acksSent)")
            try expect(persisted.contains(ack.batchID.rawValue), "ACK for \(ack.batchID) before its .persisted")
        case .error(let error):
            return error.code
        case .hello, .vector, .ping, .pong, .heads:
            break
        }
        return nil
    }

    private func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
        if !condition { throw FuzzFailure(.session, message()) }
    }
}
