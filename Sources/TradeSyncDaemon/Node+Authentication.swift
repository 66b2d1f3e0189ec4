import Foundation
import Logging
import TradeSyncClock
import TradeSyncReplica
import TradeSyncSession
import TradeSyncTransport

/// Signed entries and authorization as the daemon applies them (issue 6 §3–4): which
/// origins a peer may send, forged entries refused and their sender marked, refusals
/// counted per peer.
extension Node {
    /// How a batch arriving on `link` is checked: signatures always; the origins the peer
    /// may send as its `[[peer]]` entry in the config says (any when it says nothing). The
    /// peer is the node its TLS certificate proved (over plain TCP, the one its HELLO named).
    func receivePolicy(link: LinkID) -> ReceivePolicy {
        let peer = links[link].flatMap { $0.authenticated ?? $0.peer }
        return ReceivePolicy(origins: peer.flatMap { config.allowedOrigins(of: $0) }, requireSignatures: true)
    }

    /// A forged or altered entry arrived on `link`: logs it naming origin, dots and the
    /// peer, marks the peer in the peer book, counts it, and returns the session error
    /// that refuses the batch (ERROR `forgedEntry`).
    func markForged(_ error: NodeError, link: LinkID) -> SyncError {
        let peer = links[link]?.peer
        forgedBatches += 1
        sessionLogger(link, address: links[link]?.address ?? "?", peer: peer).error(
            "FORGED: refused a batch from peer \(peer?.short ?? "?"): \(error.description); nothing of it was written, the session is closed and the peer is marked")
        if let key = linkRecords[link], var record = peers[key] {
            record.forged = "\(utcTimestamp()) \(error.description)"
            update(key, record)
        }
        return .forgedEntry(error.description)
    }

    /// Counts entries refused by authorization against the peer that sent them and logs
    /// the first reason.
    func noteRefusals(_ refusals: Refusals, link: LinkID) {
        let peer = links[link]?.peer
        sessionLogger(link, address: links[link]?.address ?? "?", peer: peer).warning(
            "refused \(refusals.total) entr\(refusals.total == 1 ? "y" : "ies") from peer \(peer?.short ?? "?") (\(refusals.origin) of origins it may not send, \(refusals.reporter) for reporters their origin may not author): \(refusals.reason ?? "")")
        if let key = linkRecords[link], var record = peers[key] {
            record.refused = (record.refused ?? 0) + refusals.total
            update(key, record)
        }
    }
}
