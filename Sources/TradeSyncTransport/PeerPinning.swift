import TradeSyncClock

/// Which node IDs the node accepts over TLS, and which one it expects at each address it
/// dials: the `[[peer]]` tables of the config.
///
/// A peer is authenticated when the node ID its TLS certificate proves
/// (``TLSIdentity/provenNodeID(leafDER:)``) passes ``check(presented:direction:address:)``:
/// - outbound: it equals the ID pinned for the dialled address;
/// - inbound: it is one of the pinned IDs (a peer that only dials in has no address).
///
/// Anything else is refused, and the reason names the presented ID and the expected one(s)
/// in full text form (``NodeIDText/full(_:)``).
public struct PeerPinning: Sendable, Equatable {
    /// One pinned peer.
    public struct Pin: Sendable, Equatable {
        public let id: NodeID
        /// Where to dial it; nil for a peer that only dials in.
        public let address: PeerAddress?

        /// Pins `id`, dialled at `address` when given.
        public init(id: NodeID, address: PeerAddress?) {
            self.id = id
            self.address = address
        }
    }

    /// The pins in config order.
    public let pins: [Pin]

    /// Pins these peers (an empty list accepts nobody over TLS).
    public init(pins: [Pin]) { self.pins = pins }

    /// The ID pinned for `address`, if any.
    public func pinnedID(for address: PeerAddress) -> NodeID? {
        pins.first { $0.address == address }?.id
    }

    /// Decides whether the node may talk to a peer that proved `presented`.
    /// - Parameters:
    ///   - direction: who dialled.
    ///   - address: the dialled address (outbound) or the remote address (inbound), as
    ///     the log shows it.
    ///   - expected: for an outbound connection, the ID pinned for the dialled address.
    /// - Returns: nil when accepted, else the refusal's one-line reason.
    public func check(presented: NodeID, direction: LinkDirection, address: String, expected: NodeID?)
        -> CertificateRefusal?
    {
        switch direction {
        case .outbound:
            guard let expected else {
                return CertificateRefusal(
                    "peer at \(address) presented node \(NodeIDText.full(presented)), but no node ID is pinned for that address")
            }
            if presented == expected { return nil }
            return CertificateRefusal(
                "peer at \(address) presented node \(NodeIDText.full(presented)), expected the pinned \(NodeIDText.full(expected))")
        case .inbound:
            if pins.contains(where: { $0.id == presented }) { return nil }
            let list = pins.map { NodeIDText.full($0.id) }.joined(separator: ", ")
            return CertificateRefusal(
                "peer at \(address) presented node \(NodeIDText.full(presented)), which is not a pinned peer (pinned: \(list.isEmpty ? "none" : list))")
        }
    }
}
