import NIOCore
import NIOPosix
import NIOSSL

/// A relay on 127.0.0.1 that forwards every accepted connection to `127.0.0.1:upstream`.
///
/// - Plain (no credentials): a TCP forwarder; TLS passes through end to end, and the
///   bytes the dialling side sends can be recorded (``Recorder``).
/// - TLS-terminating (`credentials` set): a man in the middle with its own key. It
///   completes TLS with whoever dials it, presenting `credentials`, and dials upstream with
///   TLS presenting the same certificate, relaying the decrypted bytes.
final class TestRelay: Sendable {
    let port: Int
    private let server: any Channel

    init(upstream: Int, credentials: TestCredentials? = nil, recorder: Recorder? = nil) throws {
        let contexts = try credentials.map {
            (
                server: try NIOSSLContext(configuration: $0.configuration(server: true)),
                client: try NIOSSLContext(configuration: $0.configuration(server: false))
            )
        }
        server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let contexts {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLServerHandler(context: contexts.server, customVerificationCallback: TestCredentials.acceptAny))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        GlueHandler(upstream: upstream, tls: contexts?.client, recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = server.localAddress?.port ?? 0
    }

    func stop() { try? server.close().wait() }
}

/// One side of a relayed connection. The front side (accepted) dials upstream when it
/// becomes active, on its own event loop, and pairs with the back side's handler; each
/// forwards what it reads to the other. Both live on one loop, so no locking.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let upstream: Int?
    private let tls: NIOSSLContext?
    private let recorder: Recorder?
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var waiting: [ByteBuffer] = []

    /// The front side: dials `upstream` (with TLS when `tls` is set).
    init(upstream: Int, tls: NIOSSLContext?, recorder: Recorder?) {
        self.upstream = upstream
        self.tls = tls
        self.recorder = recorder
    }

    /// The back side, paired with `front`.
    private init(front: GlueHandler) {
        upstream = nil
        tls = nil
        recorder = nil
        partner = front
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        guard let upstream else {
            partner?.attach(self)
            return
        }
        let front = NIOLoopBound(self, eventLoop: context.eventLoop)
        let tls = tls
        ClientBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(
                                context: tls, serverHostname: nil, customVerificationCallback: TestCredentials.acceptAny))
                    }
                    try channel.pipeline.syncOperations.addHandler(GlueHandler(front: front.value))
                }
            }
            .connect(host: "127.0.0.1", port: upstream)
            .whenFailure { _ in front.value.context?.close(promise: nil) }
    }

    /// Pairs the front side with its now-connected back side and sends what waited.
    private func attach(_ back: GlueHandler) {
        partner = back
        for buffer in waiting { back.forward(buffer) }
        waiting = []
        back.flushForward()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        recorder?.record(Array(buffer.readableBytesView))
        if let partner, partner.context != nil { partner.forward(buffer) } else { waiting.append(buffer) }
    }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.flushForward() }

    /// Closes the other leg 2 s after this one closed, so a leg still in its TLS
    /// handshake finishes it (the node at its end then sees and names the certificate
    /// the relay presented, not an EOF).
    func channelInactive(context: ChannelHandlerContext) {
        if let other = partner?.context?.channel {
            context.eventLoop.scheduleTask(in: .seconds(2)) { other.close(promise: nil) }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func forward(_ buffer: ByteBuffer) { context?.write(wrapOutboundOut(buffer), promise: nil) }
    private func flushForward() { context?.flush() }
}
