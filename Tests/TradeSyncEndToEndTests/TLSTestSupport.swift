import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SwiftASN1
import Synchronization
import TradeSyncClock
import TradeSyncTransport
import X509

/// A certificate and its key for a test TLS endpoint that is not a TradeSync node.
struct TestCredentials: Sendable {
    let certificate: NIOSSLCertificate
    let key: NIOSSLPrivateKey
    /// The node ID the certificate proves (Ed25519 only).
    let nodeID: NodeID?
    /// The signature schemes this endpoint signs with.
    let signing: [SignatureAlgorithm]

    /// A certificate bound to an Ed25519 key, made exactly as a node makes its own.
    static func ed25519(_ key: Curve25519.Signing.PrivateKey = .init()) throws -> TestCredentials {
        let identity = try TLSIdentity(signingKey: key)
        return TestCredentials(
            certificate: identity.certificate, key: identity.privateKey, nodeID: identity.nodeID, signing: [.ed25519])
    }

    /// A valid self-signed certificate for a fresh P-256 key.
    static func p256() throws -> TestCredentials {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("not a TradeSync node") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date() - 3600, notValidAfter: Date() + 86400, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(),
            issuerPrivateKey: Certificate.PrivateKey(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return TestCredentials(
            certificate: try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der),
            key: try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem), nodeID: nil,
            signing: [.ecdsaSecp256R1Sha256])
    }

    /// TLS 1.3 settings presenting this certificate and accepting any peer certificate
    /// (the verification callback of ``acceptAny``), verifying ed25519 and ECDSA.
    func configuration(server: Bool) -> TLSConfiguration {
        var configuration =
            server
            ? TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
            : TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = [.certificate(certificate)]
        configuration.privateKey = .privateKey(key)
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([])
        configuration.signingSignatureAlgorithms = signing
        configuration.verifySignatureAlgorithms = [.ed25519, .ecdsaSecp256R1Sha256]
        return configuration
    }

    /// A verification callback that accepts whatever the peer presents.
    static func acceptAny(_ chain: [NIOSSLCertificate], _ promise: EventLoopPromise<NIOSSLVerificationResult>) {
        promise.succeed(.certificateVerified)
    }
}

/// What a ``TLSTestClient`` saw: whether the handshake completed, the first error, the
/// decrypted bytes, and whether the connection closed.
final class TLSOutcome: Sendable {
    private struct State {
        var handshook = false
        var error: String?
        var received: [UInt8] = []
        var closed = false
    }

    private let state = Mutex(State())

    var handshook: Bool { state.withLock { $0.handshook } }
    var error: String? { state.withLock { $0.error } }
    var received: [UInt8] { state.withLock { $0.received } }
    var closed: Bool { state.withLock { $0.closed } }

    func handshake() { state.withLock { $0.handshook = true } }
    func fail(_ error: any Error) { state.withLock { if $0.error == nil { $0.error = "\(error)" } } }
    func append(_ bytes: [UInt8]) { state.withLock { $0.received += bytes } }
    func close() { state.withLock { $0.closed = true } }
}

/// Feeds a ``TLSOutcome`` from the pipeline (after the TLS handler).
final class OutcomeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let outcome: TLSOutcome

    init(_ outcome: TLSOutcome) { self.outcome = outcome }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { outcome.handshake() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        outcome.append(Array(unwrapInboundIn(data).readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        outcome.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) { outcome.close() }
}

/// A TLS 1.3 client that is not a node: presents `credentials` to a node's listener.
struct TLSTestClient {
    let channel: any Channel
    let outcome: TLSOutcome
    /// The client's own port on 127.0.0.1 (how the node's log names it), read at connect.
    let localPort: Int

    /// Connects to 127.0.0.1:`port` and starts the handshake; with nil credentials, a
    /// plain TCP connection (to replay recorded bytes).
    static func connect(port: Int, credentials: TestCredentials?) throws -> TLSTestClient {
        let context = try credentials.map { try NIOSSLContext(configuration: $0.configuration(server: false)) }
        let outcome = TLSOutcome()
        let channel = try ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(
                                context: context, serverHostname: nil,
                                customVerificationCallback: TestCredentials.acceptAny))
                    }
                    try channel.pipeline.syncOperations.addHandler(OutcomeHandler(outcome))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            // Read on the event loop as the connect completes: a refusing node may close the
            // connection before this thread gets to look, and a closed channel has no address.
            .map { channel in (channel, channel.localAddress?.port ?? -1) }
            .wait()
        return TLSTestClient(channel: channel.0, outcome: outcome, localPort: channel.1)
    }

    /// Waits until the handshake completed or the connection failed or closed.
    func settle(seconds: Double = 10) -> Bool {
        Harness.waitUntil(seconds: seconds) { outcome.handshook || outcome.closed || outcome.error != nil }
    }

    func send(_ bytes: [UInt8]) throws {
        try channel.writeAndFlush(ByteBuffer(bytes: bytes)).wait()
    }

    func close() { channel.close(promise: nil) }
}

/// Collects bytes crossing a relay.
final class Recorder: Sendable {
    private let chunks = Mutex<[[UInt8]]>([])
    func record(_ bytes: [UInt8]) { chunks.withLock { $0.append(bytes) } }
    var recorded: [[UInt8]] { chunks.withLock { $0 } }
}
