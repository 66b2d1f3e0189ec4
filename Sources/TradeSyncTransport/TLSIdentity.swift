import Crypto
import FoundationEssentials
import NIOSSL
import SwiftASN1
import TradeSyncClock
import X509

/// The node's TLS 1.3 credentials: a self-signed X.509 certificate whose subject public key
/// is the node's own Ed25519 key (RFC 8410) and which that key signs, made in memory at
/// start. Nothing is written to disk; a restart makes a new certificate for the same key.
///
/// TLS 1.3's CertificateVerify (RFC 8446 §4.4.3) proves the peer holds the private key of
/// the certificate it presents, so the node ID computed from that key
/// (``TLSIdentity/nodeID(of:)``, SHA-256 of the raw 32-byte public key) is authenticated;
/// pinning that ID (``PeerPinning``) is the whole of the trust decision. No certificate
/// authority, no host names, no validity dates are checked.
public struct TLSIdentity: Sendable {
    /// The node ID the certificate proves: SHA-256 of the Ed25519 public key.
    public let nodeID: NodeID
    /// The certificate, DER-encoded.
    public let certificateDER: [UInt8]
    /// The certificate as NIOSSL presents it.
    public let certificate: NIOSSLCertificate
    /// The node's Ed25519 key as NIOSSL signs with it.
    public let privateKey: NIOSSLPrivateKey

    /// The only signature scheme offered and accepted: ed25519 (RFC 8446 §4.2.3, 0x0807).
    /// BoringSSL does not verify ed25519 unless it is listed.
    public static let signatureAlgorithms: [SignatureAlgorithm] = [.ed25519]

    /// Why credentials could not be made. One line.
    public struct SetupError: Error, Sendable, CustomStringConvertible {
        /// What failed, with swift-certificates' or BoringSSL's reason.
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Makes the certificate for `signingKey`: serial random, subject and issuer
    /// `CN=<full node ID>`, valid from one hour before `now` for 20 years (never checked by
    /// peers, present because X.509 requires it), signed with Ed25519 by the same key.
    /// - Throws: ``SetupError`` when swift-certificates or BoringSSL refuse the key or
    ///   the certificate (not expected for a valid Ed25519 key).
    public init(signingKey: Curve25519.Signing.PrivateKey, now: Date = Date()) throws(SetupError) {
        let id = Self.nodeID(of: signingKey.publicKey)
        let key = Certificate.PrivateKey(signingKey)
        do {
            let name = try DistinguishedName { CommonName(NodeIDText.full(id)) }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(signingKey.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + 20 * 365 * 86400,
                issuer: name, subject: name, signatureAlgorithm: .ed25519,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                },
                issuerPrivateKey: key)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            let der = serializer.serializedBytes
            let pem = try key.serializeAsPEM().pemString
            self.certificate = try NIOSSLCertificate(bytes: der, format: .der)
            self.privateKey = try NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem)
            self.certificateDER = der
        } catch {
            throw SetupError("cannot make the TLS certificate for node \(NodeIDText.full(id)): \(error)")
        }
        self.nodeID = id
    }

    /// The node ID of an Ed25519 public key: SHA-256 of its raw 32 bytes (the same as
    /// `NodeIdentity` computes from `node.key`).
    public static func nodeID(of publicKey: Curve25519.Signing.PublicKey) -> NodeID {
        let digest = Array(SHA256.hash(data: publicKey.rawRepresentation))
        guard let id = NodeID(bytes: digest) else { preconditionFailure("SHA-256 gave \(digest.count) bytes, not 32") }
        return id
    }

    /// The node ID a peer's leaf certificate proves, or why it proves none.
    ///
    /// Refuses a certificate that does not parse, whose key is not Ed25519 (RFC 8410), or
    /// that its own key did not sign. The last check is belt and braces: the handshake's
    /// CertificateVerify already proves the key.
    /// - Parameter leafDER: the DER bytes of the first certificate the peer sent.
    /// - Returns: the node ID, or a one-line reason such as
    ///   `certificate key is not Ed25519 (P256.PublicKey)`.
    public static func provenNodeID(leafDER: [UInt8]) -> Result<NodeID, CertificateRefusal> {
        let certificate: Certificate
        do { certificate = try Certificate(derEncoded: leafDER) } catch {
            return .failure(CertificateRefusal("certificate cannot be parsed: \(error)"))
        }
        guard let key = Curve25519.Signing.PublicKey(certificate.publicKey) else {
            return .failure(CertificateRefusal("certificate key is not Ed25519 (\(certificate.publicKey))"))
        }
        guard certificate.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            return .failure(CertificateRefusal("certificate is not signed by its own Ed25519 key"))
        }
        return .success(nodeID(of: key))
    }

    /// TLS settings shared by both directions: TLS 1.3 only, ed25519 only, this
    /// certificate, a peer certificate required, no trust roots (the custom verification
    /// callback decides, ``PeerNetwork``), no host name check.
    func configuration(server: Bool) -> TLSConfiguration {
        var configuration =
            server
            ? TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(certificate)], privateKey: .privateKey(privateKey))
            : TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = [.certificate(certificate)]
        configuration.privateKey = .privateKey(privateKey)
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([])
        configuration.signingSignatureAlgorithms = Self.signatureAlgorithms
        configuration.verifySignatureAlgorithms = Self.signatureAlgorithms
        return configuration
    }

    /// The server and client contexts for this identity (each made once: BoringSSL
    /// contexts are costly and shared by every connection).
    /// - Throws: ``SetupError`` naming BoringSSL's reason.
    public func contexts() throws(SetupError) -> TLSContexts {
        do {
            return TLSContexts(
                server: try NIOSSLContext(configuration: configuration(server: true)),
                client: try NIOSSLContext(configuration: configuration(server: false)))
        } catch {
            throw SetupError("cannot set up TLS 1.3 with an Ed25519 key: \(error)")
        }
    }
}

/// The two BoringSSL contexts a node uses: one for accepted connections, one for dialled.
public struct TLSContexts: Sendable {
    /// For connections the node accepts (requests and verifies a client certificate).
    public let server: NIOSSLContext
    /// For connections the node dials (presents the node's certificate when asked).
    public let client: NIOSSLContext
}

/// Why a peer's certificate proves no acceptable identity. One line, for the log and the
/// peer book.
public struct CertificateRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason, naming the address and the IDs involved (full text form).
    public let description: String
    /// Wraps a one-line reason.
    public init(_ description: String) { self.description = description }
}
