import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncModel
import TradeSyncSession
import TradeSyncWire

/// Issue 5 §8: the preset dictionary is negotiated by HELLO feature bits. A session sends
/// dictionary-primed batches only to a peer that announced the dictionary, and accepts
/// them only when it announced it itself.
@Suite struct DictionaryNegotiationTests {
    let local: NodeID
    let peer: NodeID

    init() throws {
        local = try node(0x0A)
        peer = try node(0x0B)
    }

    /// A session whose peer's HELLO announced `peerFeatures`, which then fetched one entry
    /// of its own and sent it: returns the BATCH it sent.
    func sentBatch(ourFeatures: UInt32, peerFeatures: UInt32) throws -> BatchMessage {
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 7, versions: 1...1, features: ourFeatures))
        _ = session.handle(.connected(localVector: VersionVector([local: 1]), now: .zero))
        let bytes = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 9, features: peerFeatures)).encoded()
            + Message.vector(VersionVector()).encoded()
        _ = session.handle(.received(bytes, now: .zero))
        let outputs = session.handle(.fetched(signed([try makeEntry(local, 1)])))
        let batches = try sentMessages(outputs).compactMap { if case .batch(let batch) = $0 { batch } else { nil } }
        return try #require(batches.first)
    }

    @Test("Session: both sides announce trade-1: a one-entry batch goes out deflated with its DICTID, and is shorter")
    func bothAnnounce() throws {
        let bit = PresetDictionary.trade1.featureBit
        let primed = try sentBatch(ourFeatures: bit, peerFeatures: bit)
        #expect(primed.isDeflated)
        #expect(primed.dictionaryID == PresetDictionary.trade1.id)
        let plain = try sentBatch(ourFeatures: bit, peerFeatures: 0)
        #expect(!plain.isDeflated)
        #expect(plain.dictionaryID == nil)
        #expect(primed.payload.count < plain.payload.count)
        #expect(try primed.decodeEntries(dictionaries: [.trade1]) == plain.decodeEntries())
    }

    @Test("Session: only one side announces: no dictionary either way")
    func oneSided() throws {
        let bit = PresetDictionary.trade1.featureBit
        #expect(try sentBatch(ourFeatures: 0, peerFeatures: bit).dictionaryID == nil)
        #expect(try sentBatch(ourFeatures: bit, peerFeatures: 0).dictionaryID == nil)
    }

    @Test("Session: a dictionary-primed batch to a session that did not announce it: ERROR compression naming the DICTID")
    func refusedWhenNotAnnounced() throws {
        var session = SyncSession(configuration: .init(localID: local, logInstanceID: 7, versions: 1...1, features: 0))
        _ = session.handle(.connected(localVector: VersionVector(), now: .zero))
        let batch = BatchMessage(id: BatchID(rawValue: 1), entries: [try makeEntry(peer, 1)], dictionary: .trade1)
        #expect(batch.dictionaryID == PresetDictionary.trade1.id)
        let bytes = Message.hello(Hello(versions: 1...1, nodeID: peer, logInstanceID: 9, features: 1)).encoded()
            + Message.vector(VersionVector()).encoded() + Message.batch(batch).encoded()
        let outputs = session.handle(.received(bytes, now: .zero))
        guard case .close(.wire(let error))? = outputs.last else {
            Issue.record("not closed with a wire error: \(outputs)")
            return
        }
        #expect(error.errorCode == .compression)
        #expect(error.description.contains("9907a2d1"))
    }
}
