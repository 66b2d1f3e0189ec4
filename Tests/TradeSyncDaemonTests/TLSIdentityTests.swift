import Crypto
import FoundationEssentials
import NIOSSL
import SwiftASN1
import Testing
import TradeSyncClock
import TradeSyncTransport
import X509

/// DER of a self-signed certificate for `publicKey`, signed by `signer`.
private func certificateDER(publicKey: Certificate.PublicKey, signer: Certificate.PrivateKey) throws -> [UInt8] {
    let name = try DistinguishedName { CommonName("test") }
    let algorithm: Certificate.SignatureAlgorithm = signer.supportedSignatureAlgorithms.first ?? .ed25519
    let certificate = try Certificate(
        version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
        notValidBefore: Date() - 60, notValidAfter: Date() + 3600, issuer: name, subject: name,
        signatureAlgorithm: algorithm, extensions: Certificate.Extensions(), issuerPrivateKey: signer)
    var serializer = DER.Serializer()
    try serializer.serialize(certificate)
    return serializer.serializedBytes
}

/// Issue 6 §2: the certificate bound to the node key, and what a presented certificate proves.
@Suite struct TLSIdentityTests {
    @Test("TLSIdentity: the certificate's key is the node key, self-signed, and proves the node ID")
    func boundToNodeKey() throws {
        let key = Curve25519.Signing.PrivateKey()
        let identity = try TLSIdentity(signingKey: key)
        let expected = try #require(NodeID(bytes: Array(SHA256.hash(data: key.publicKey.rawRepresentation))))
        #expect(identity.nodeID == expected)
        let certificate = try Certificate(derEncoded: identity.certificateDER)
        #expect(Curve25519.Signing.PublicKey(certificate.publicKey)?.rawRepresentation == key.publicKey.rawRepresentation)
        #expect(certificate.signatureAlgorithm == .ed25519)
        #expect(certificate.issuer == certificate.subject)
        #expect("\(certificate.subject)" == "CN=\(NodeIDText.full(expected))")
        #expect(try TLSIdentity.provenNodeID(leafDER: identity.certificateDER).get() == expected)
        #expect(try identity.certificate.toDERBytes() == identity.certificateDER)
    }

    @Test("TLSIdentity: a P-256 certificate proves nothing: certificate key is not Ed25519")
    func p256Refused() throws {
        let key = P256.Signing.PrivateKey()
        let der = try certificateDER(publicKey: Certificate.PublicKey(key.publicKey), signer: Certificate.PrivateKey(key))
        #expect(
            TLSIdentity.provenNodeID(leafDER: der)
                == .failure(CertificateRefusal("certificate key is not Ed25519 (P256.PublicKey)")))
    }

    @Test("TLSIdentity: an Ed25519 certificate signed by another key, and garbage, are refused")
    func notSelfSigned() throws {
        let subject = Curve25519.Signing.PrivateKey()
        let der = try certificateDER(
            publicKey: Certificate.PublicKey(subject.publicKey),
            signer: Certificate.PrivateKey(Curve25519.Signing.PrivateKey()))
        #expect(
            TLSIdentity.provenNodeID(leafDER: der)
                == .failure(CertificateRefusal("certificate is not signed by its own Ed25519 key")))
        guard case .failure(let refusal) = TLSIdentity.provenNodeID(leafDER: [0x30, 0x03, 0x02, 0x01, 0x00]) else {
            Issue.record("garbage accepted")
            return
        }
        #expect(refusal.description.hasPrefix("certificate cannot be parsed: "))
    }

    @Test("TLSIdentity: TLS contexts build for TLS 1.3 with ed25519")
    func contexts() throws {
        let identity = try TLSIdentity(signingKey: Curve25519.Signing.PrivateKey())
        _ = try identity.contexts()
        #expect(TLSIdentity.signatureAlgorithms == [.ed25519])
    }

    @Test("PeerPinning: outbound must prove the ID pinned for the address; inbound any pinned ID; refusals name IDs in full")
    func pinning() {
        let ids = (0..<3).map { _ in TLSIdentity.nodeID(of: Curve25519.Signing.PrivateKey().publicKey) }
        let address = PeerAddress(host: "10.1.2.3", port: 7400)
        let pinning = PeerPinning(pins: [.init(id: ids[0], address: address), .init(id: ids[1], address: nil)])
        #expect(pinning.pinnedID(for: address) == ids[0])
        #expect(pinning.check(presented: ids[0], direction: .outbound, address: "10.1.2.3:7400", expected: ids[0]) == nil)
        #expect(
            pinning.check(presented: ids[1], direction: .outbound, address: "10.1.2.3:7400", expected: ids[0])
                == CertificateRefusal(
                    "peer at 10.1.2.3:7400 presented node \(NodeIDText.full(ids[1])), expected the pinned \(NodeIDText.full(ids[0]))"
                ))
        #expect(pinning.check(presented: ids[1], direction: .inbound, address: "10.9.9.9:5555", expected: nil) == nil)
        #expect(
            pinning.check(presented: ids[2], direction: .inbound, address: "10.9.9.9:5555", expected: nil)
                == CertificateRefusal(
                    "peer at 10.9.9.9:5555 presented node \(NodeIDText.full(ids[2])), which is not a pinned peer (pinned: \(NodeIDText.full(ids[0])), \(NodeIDText.full(ids[1])))"
                ))
        #expect(
            PeerPinning(pins: []).check(presented: ids[2], direction: .inbound, address: "x:1", expected: nil)?.description
                .hasSuffix("which is not a pinned peer (pinned: none)") == true)
    }
}
