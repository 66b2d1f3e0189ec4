import TradeSyncLog
import TradeSyncModel

/// The named maxima of protocol v1 (`Protocol/PROTOCOL.md`, section "Limits").
///
/// Every loop, buffer and queue on the wire path is bounded by one of these. The table in
/// `PROTOCOL.md` repeats them, and a test checks that the two agree and that related
/// limits fit together (a full uncompressed batch fits in one frame). Record and entry
/// limits live in ``RecordLimits`` and ``EntryLimits``; the table repeats them too.
public enum Limits {
    /// Largest frame, in bytes, counted as the value of the length field: the type byte
    /// plus the body. Decoders refuse a larger length from the 4-byte header alone, before
    /// buffering any of the body. 1 MiB bounds per-connection memory while leaving room for
    /// a full uncompressed batch (``batchBytesMax``) and its header.
    public static let frameBytesMax = 1024 * 1024

    /// Most entries in one BATCH, in entries. Bounds the work of one persist (one fsync for
    /// up to 4096 entries) and the length of the receiver's decode loop.
    public static let batchEntriesMax = 4096

    /// Largest uncompressed batch payload a sender builds, in bytes (the sum over entries
    /// of varint length + canonical encoding). 768 KiB leaves 256 KiB of a frame for the
    /// batch header, so a batch fits even when deflate does not help.
    public static let batchBytesMax = 768 * 1024

    /// Largest BATCH header, in bytes: the type byte, batchID, entryCount and
    /// uncompressedLength varints at their widest (10 bytes each), and the flags byte.
    /// ``batchBytesMax`` + this must not exceed ``frameBytesMax`` (a test checks it).
    public static let batchHeaderBytesMax = 1 + 10 + 10 + 1 + 10

    /// Largest uncompressed payload a receiver inflates, in bytes. Checked against the
    /// declared length before inflating, and inflate never produces more than the
    /// declaration, so a zlib bomb costs at most this much memory. Equal to
    /// ``frameBytesMax`` so an uncompressed batch and an inflated one have the same bound.
    public static let inflatedBytesMax = 1024 * 1024

    /// Smallest uncompressed batch payload the sender tries to deflate without a preset
    /// dictionary, in bytes. Below this the zlib header, trailer and block overhead rarely
    /// pay for themselves (measured: no one-entry batch of 64–127 bytes ever gained). With
    /// a dictionary the peer announced, ``PresetDictionary/deflateThresholdBytes`` applies.
    /// Source: `Protocol/PROTOCOL.md`, "BATCH" and "Preset dictionary".
    public static let deflateThresholdBytes = 256

    /// Longest reason text in an ERROR message, in bytes of UTF-8. Enough for a sentence
    /// with two version ranges or a limit and a value; senders truncate at a character
    /// boundary.
    public static let reasonBytesMax = 1024

    /// Most origins in a VECTOR or ACK version vector, in origins. One origin per office
    /// that ever wrote; 4096 such origins encode to at most 4096 × 42 bytes ≈ 168 KiB,
    /// well inside one frame.
    public static let vectorOriginsMax = 4096

    /// Time allowed from connect until the peer's HELLO and VECTOR have both arrived.
    /// Ten seconds covers a slow TLS handshake on a poor link; a silent or wrong peer
    /// (a port scanner, an HTTP client) is dropped quickly.
    public static let handshakeTimeout: Duration = .seconds(10)

    /// Time without sending anything after which a session sends PING. A third of
    /// ``idleTimeout``, so two PINGs can be lost before the peer gives up.
    public static let pingInterval: Duration = .seconds(15)

    /// Time without receiving anything after which a session closes. Three ping
    /// intervals: a half-open TCP connection is noticed within a minute.
    public static let idleTimeout: Duration = .seconds(45)

    /// Most batches a sender has in flight (sent, not yet acknowledged), in batches; a
    /// receiver refuses more. Four batches of up to 768 KiB keep a link busy across the
    /// receiver's fsync while bounding what a receiver must hold (about 3 MiB).
    public static let windowBatchesMax = 4

    /// The window when both HELLOs set ``WideWindowFeature/bit``, in batches: 16 batches of
    /// 4,096 entries (~0.75 MB of columnar payload at 11.6 B/entry) cover a 50 Mbit/s link's
    /// bandwidth-delay product at round trips up to ~100 ms plus the receiver's persist time
    /// per batch; four did not at 40 ms (`docs/PERFORMANCE.md`, fifth round). A receiver then
    /// holds at most 16 batches (12 MiB of payload).
    public static let windowBatchesMaxWide = 16

    /// ``frameBytesMax`` with its name, for errors.
    public static let frameBytes = NamedLimit("frameBytesMax", frameBytesMax)
    /// ``batchEntriesMax`` with its name.
    public static let batchEntries = NamedLimit("batchEntriesMax", batchEntriesMax)
    /// ``inflatedBytesMax`` with its name.
    public static let inflatedBytes = NamedLimit("inflatedBytesMax", inflatedBytesMax)
    /// ``reasonBytesMax`` with its name.
    public static let reasonBytes = NamedLimit("reasonBytesMax", reasonBytesMax)
    /// ``vectorOriginsMax`` with its name.
    public static let vectorOrigins = NamedLimit("vectorOriginsMax", vectorOriginsMax)
    /// ``windowBatchesMax`` with its name.
    public static let windowBatches = NamedLimit("windowBatchesMax", windowBatchesMax)
}
