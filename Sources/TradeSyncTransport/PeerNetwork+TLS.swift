import Logging
import NIOCore
import NIOSSL
import Synchronization
import TradeSyncClock

/// How the node protects its peer connections.
public enum TransportSecurity: Sendable {
    /// Plain TCP, no authentication: only with the explicit `insecure` setting.
    case insecure
    /// Mutual TLS 1.3 with the node's Ed25519 certificate (``TLSIdentity``); a peer is
    /// accepted only when the node ID its certificate proves is pinned (``PeerPinning``).
    case tls(TLSContexts, pinning: PeerPinning)
}

/// The pins in effect, shared by every connection's verification callback and replaced
/// when the node reloads its config (``PeerNetwork/updatePinning(_:)``).
final class PinningStore: Sendable {
    private let pinning: Mutex<PeerPinning>

    init(_ pinning: PeerPinning) { self.pinning = Mutex(pinning) }

    var current: PeerPinning {
        get { pinning.withLock { $0 } }
        set { pinning.withLock { $0 = newValue } }
    }
}

/// What TLS proved about one connection. Written by the certificate verification
/// callback (on the channel's event loop), read by the connection's driver task.
public final class LinkProof: Sendable {
    private struct State {
        var proven: NodeID?
        var refusal: String?
        var failure: String?
    }

    private let state = Mutex(State())

    init() {}

    /// The node ID the peer's certificate proved (set once the certificate was accepted).
    public var provenID: NodeID? { state.withLock { $0.proven } }
    /// Why the peer's certificate was refused, if it was.
    public var refusal: String? { state.withLock { $0.refusal } }
    /// The first TLS error the connection met (a failed handshake, a bad record).
    var failure: String? { state.withLock { $0.failure } }

    /// True when the peer refused the handshake on purpose (a TLS alert saying it does not
    /// accept our certificate, or no common algorithm): redialling soon will meet the same.
    var peerRefused: Bool {
        guard let failure else { return false }
        return TLSFailureText.refusalCodes.contains { failure.contains($0) }
    }

    func prove(_ id: NodeID) { state.withLock { $0.proven = id } }
    func refuse(_ reason: String) { state.withLock { $0.refusal = reason } }
    func fail(_ error: any Error) {
        let text = TLSFailureText.describe(error)
        state.withLock { if $0.failure == nil { $0.failure = text } }
    }

    /// Why a HELLO naming `helloID` must be refused on this connection, or nil when the
    /// HELLO names the node the certificate proved.
    func helloRefusal(_ helloID: NodeID) -> String? {
        guard let proven = provenID else {
            return "HELLO names \(NodeIDText.full(helloID)) but no TLS certificate proved an identity"
        }
        guard proven != helloID else { return nil }
        return "HELLO names \(NodeIDText.full(helloID)) but its TLS certificate proves \(NodeIDText.full(proven))"
    }
}

extension PeerNetwork {
    /// Adds the TLS handler to a new channel (inside its initializer, on its event loop)
    /// when the node runs TLS. Returns the connection's ``LinkProof``, nil for plain TCP.
    ///
    /// Both directions verify with the same callback: the leaf certificate must carry an
    /// Ed25519 key signing it, and its node ID must pass ``PeerPinning/check(presented:direction:address:expected:)``.
    /// A refusal is logged as a warning naming the presented ID, the address and the
    /// expected ID(s) (the first time for that host and reason; repeats at debug level),
    /// and fails the handshake.
    /// - Throws: NIO's pipeline errors, or NIOSSL's when the client handler cannot be made.
    static func secure(
        _ channel: any Channel, direction: LinkDirection, address: String, expected: NodeID?,
        security: TransportSecurity, pins: PinningStore, refusals: RefusalLog, logger: Logger
    ) throws -> LinkProof? {
        guard case .tls(let contexts, _) = security else { return nil }
        let proof = LinkProof()
        let verify: NIOSSLCustomVerificationCallback = { certificates, promise in
            // The pins in effect now: a config reload (SIGHUP) may have changed them.
            let verdict = Self.verdict(
                certificates, pinning: pins.current, direction: direction, address: address, expected: expected)
            switch verdict {
            case .success(let id):
                proof.prove(id)
                logger.debug("TLS: peer at \(address) proved node \(NodeIDText.full(id))")
                promise.succeed(.certificateVerified)
            case .failure(let refusal):
                proof.refuse(refusal.description)
                if refusals.isNew(refusal.description, direction: direction, address: address) {
                    logger.warning("TLS refused: \(refusal.description)")
                } else {
                    logger.debug("TLS refused: \(refusal.description) (again)")
                }
                promise.succeed(.failed)
            }
        }
        let handler: any ChannelHandler =
            direction == .inbound
            ? NIOSSLServerHandler(context: contexts.server, customVerificationCallback: verify)
            : try NIOSSLClientHandler(context: contexts.client, serverHostname: nil, customVerificationCallback: verify)
        try channel.pipeline.syncOperations.addHandler(handler)
        return proof
    }

    /// The node ID the presented chain's leaf proves, if pinning accepts it.
    static func verdict(
        _ certificates: [NIOSSLCertificate], pinning: PeerPinning, direction: LinkDirection, address: String,
        expected: NodeID?
    ) -> Result<NodeID, CertificateRefusal> {
        guard let leaf = certificates.first else {
            return .failure(CertificateRefusal("peer at \(address) presented no certificate"))
        }
        let der: [UInt8]
        do { der = try leaf.toDERBytes() } catch {
            return .failure(CertificateRefusal("peer at \(address): certificate cannot be encoded: \(error)"))
        }
        switch TLSIdentity.provenNodeID(leafDER: der) {
        case .failure(let refusal):
            return .failure(CertificateRefusal("peer at \(address): \(refusal.description)"))
        case .success(let id):
            if let refusal = pinning.check(presented: id, direction: direction, address: address, expected: expected) {
                return .failure(refusal)
            }
            return .success(id)
        }
    }
}

/// The TLS refusals already logged as warnings, so a peer that redials every few seconds
/// is reported once per host and reason, not at every attempt. Holds at most
/// ``keysMax`` reasons; past that it starts again (a few repeated warnings, no growth).
final class RefusalLog: Sendable {
    static let keysMax = 1024
    private let keys = Mutex(Set<String>())

    /// True the first time this reason is seen from this host (ports ignored).
    func isNew(_ reason: String, direction: LinkDirection, address: String) -> Bool {
        let host = PeerAddress(address)?.host ?? address
        let key = "\(direction.rawValue) \(host) " + reason.replacing(address, with: host)
        return keys.withLock { keys in
            if keys.count >= Self.keysMax { keys.removeAll() }
            return keys.insert(key).inserted
        }
    }
}

/// One line for a TLS failure: BoringSSL's reason codes with what they mean here, instead
/// of NIOSSL's nested error with source paths.
enum TLSFailureText {
    /// What the reason codes seen between two nodes mean.
    static let meanings: [String: String] = [
        "NO_COMMON_SIGNATURE_ALGORITHMS": "no common signature algorithm (nodes sign and verify ed25519 only)",
        "SSLV3_ALERT_HANDSHAKE_FAILURE": "the peer aborted the handshake (its certificate cannot sign ed25519, or no common parameters)",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the peer refused our certificate (our node ID is not pinned there)",
        "PEER_DID_NOT_RETURN_A_CERTIFICATE": "the peer presented no certificate",
        "DECRYPTION_FAILED_OR_BAD_RECORD_MAC": "a record failed to decrypt (replayed or altered bytes)",
        "WRONG_VERSION_NUMBER": "the peer does not speak TLS 1.3 (plain TCP: is it running insecure?)",
        "UNSUPPORTED_PROTOCOL": "the peer offers no TLS 1.3",
        "TLSV1_ALERT_PROTOCOL_VERSION": "the peer refused TLS 1.3",
    ]

    /// Codes by which the peer refuses us for good (until an operator changes its config).
    static let refusalCodes = [
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "SSLV3_ALERT_HANDSHAKE_FAILURE", "NO_COMMON_SIGNATURE_ALGORITHMS",
        "TLSV1_ALERT_PROTOCOL_VERSION",
    ]

    /// `CODE (meaning), …` for BoringSSL errors; the error's own text otherwise.
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        var codes: [String] = []
        var rest = Substring(text)
        while codes.count < 4, let marker = rest.firstRange(of: "OPENSSL_internal:") {
            let code = rest[marker.upperBound...].prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
            if !code.isEmpty && !codes.contains(String(code)) { codes.append(String(code)) }
            rest = rest[marker.upperBound...]
        }
        if codes.isEmpty && text.contains("EOF during handshake") {
            return "the peer closed the connection during the handshake"
        }
        guard !codes.isEmpty else { return text }
        return codes.map { code in meanings[code].map { "\(code) (\($0))" } ?? code }.joined(separator: ", ")
    }
}
