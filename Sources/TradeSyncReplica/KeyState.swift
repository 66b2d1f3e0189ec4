import TradeSyncClock
import TradeSyncLog
import TradeSyncModel

/// One surviving version of a key: an applied entry whose dot no applied context covers.
public struct Version: Hashable, Sendable {
    public let dot: Dot
    public let hlc: HLCTimestamp
    public let operation: Operation

    /// The winner rule's order: highest HLC timestamp, then highest origin ID.
    func beats(_ other: Version) -> Bool {
        hlc != other.hlc ? hlc > other.hlc : dot.origin > other.dot.origin
    }
}

/// A sibling as shown to readers: one distinct operation and every surviving dot that
/// carries it (equal values collapse into one sibling, both dots covered).
public struct Sibling: Hashable, Sendable {
    /// The put or tombstone this sibling holds.
    public let operation: Operation
    /// The surviving dots with this operation, ascending.
    public let dots: [Dot]
    /// The highest HLC among ``dots``.
    public let hlc: HLCTimestamp
}

/// A key as readers see it: the winner first, then the other siblings.
public struct KeyView: Sendable, Equatable {
    public let key: TradeKey
    /// Winner first, then the rest in winner-rule order. More than one = a conflict.
    public let siblings: [Sibling]
    /// The causal context a write to this key would carry (covers every sibling).
    public let context: VersionVector

    /// The deterministic winner (highest HLC, then highest origin ID).
    public var winner: Sibling { siblings[0] }
    /// True when concurrent versions with different values survive.
    public var isConflict: Bool { siblings.count > 1 }
    /// True when the winner is a tombstone.
    public var isDeleted: Bool { winner.operation.isDelete }
}

/// The replicated state of one key (dotted version vector set).
///
/// `context` is the join of the dots and causal contexts of every entry applied to this
/// key; `versions` are the applied entries whose dots no applied context covers. Both are
/// functions of the *set* of applied entries, not of their order, so replicas that have
/// applied the same entries hold equal states (Almeida et al., DAIS 2014, §4).
///
/// Storage: the context is kept only when it differs from the join of the surviving
/// versions' dots (``derivedContext(of:)``), which it equals for most keys (one write, or
/// writes that each saw the previous one: `{origin: seq}` of the one version). Then
/// ``explicitContext`` is nil and the key costs no vector allocation (a Swift dictionary,
/// ~150 B, before). ``context`` reads the same either way.
struct KeyState: Sendable {
    /// The context when it is not ``derivedContext(of:)`` of ``versions``; nil otherwise.
    private(set) var explicitContext: VersionVector?
    /// Surviving versions, ascending by dot.
    private(set) var versions: [Version] = []

    init() {}

    /// A state whose context is ``derivedContext(of:)`` of `versions` (ascending by dot).
    init(derivedFrom versions: [Version]) { self.versions = versions }

    /// A state with this context and these versions (ascending by dot); the context is
    /// stored only when it is not derivable from the versions.
    init(context: VersionVector, versions: [Version]) {
        self.versions = versions
        explicitContext = Self.isDerived(context, versions) ? nil : context
    }

    /// The join of every applied entry's dot and context (covers every version).
    var context: VersionVector { explicitContext ?? Self.derivedContext(of: versions) }

    /// The join of the versions' dots: origin → highest surviving seq. O(versions).
    static func derivedContext(of versions: [Version]) -> VersionVector {
        var vector = VersionVector()
        for version in versions { vector.add(version.dot) }
        return vector
    }

    /// True when `context` equals ``derivedContext(of:)`` of `versions`; the single-version
    /// case (most keys) allocates nothing.
    static func isDerived(_ context: VersionVector, _ versions: [Version]) -> Bool {
        if versions.count == 1 {
            let dot = versions[0].dot
            return context.counters.count == 1 && context[dot.origin] == dot.seq
        }
        return context == derivedContext(of: versions)
    }

    /// Applies an entry; returns false when it arrived already superseded (obsolete).
    mutating func apply(_ entry: Entry) -> Bool {
        var context = self.context
        let obsolete = context.covers(entry.dot)
        versions.removeAll { entry.context.covers($0.dot) }
        if !obsolete {
            let version = Version(dot: entry.dot, hlc: entry.hlc, operation: entry.operation)
            let index = versions.firstIndex { version.dot < $0.dot } ?? versions.endIndex
            versions.insert(version, at: index)
        }
        context.merge(entry.context)
        context.add(entry.dot)
        explicitContext = Self.isDerived(context, versions) ? nil : context
        return !obsolete
    }

    /// The surviving versions grouped by equal operation, winner first.
    var siblings: [Sibling] {
        var groups: [(best: Version, dots: [Dot], hlc: HLCTimestamp)] = []
        for version in versions {
            if let index = groups.firstIndex(where: { $0.best.operation == version.operation }) {
                groups[index].dots.append(version.dot)
                groups[index].hlc = max(groups[index].hlc, version.hlc)
                if version.beats(groups[index].best) { groups[index].best = version }
            } else {
                groups.append((best: version, dots: [version.dot], hlc: version.hlc))
            }
        }
        groups.sort { $0.best.beats($1.best) }
        return groups.map { Sibling(operation: $0.best.operation, dots: $0.dots, hlc: $0.hlc) }
    }

    /// The winning version, if any survives.
    var winner: Version? {
        versions.reduce(nil) { best, version in best.map { version.beats($0) ? version : $0 } ?? version }
    }

    /// Number of distinct operations among the surviving versions.
    var siblingCount: Int {
        var distinct: [Operation] = []
        for version in versions where !distinct.contains(version.operation) { distinct.append(version.operation) }
        return distinct.count
    }
}
