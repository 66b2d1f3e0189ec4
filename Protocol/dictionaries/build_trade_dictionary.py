#!/usr/bin/env python3
"""Builds the zlib preset dictionary trade-1 (PROTOCOL.md, "Preset dictionary").

The dictionary holds the byte patterns that occur in canonical entry encodings
(PROTOCOL.md, "Entry") as imports produce them: length-prefixed reporter, partner,
flow and commodity runs, year/month and the `all`/`all` breakdown tail, the put tag and
presence byte, quantity units. It is trained on the entries themselves, not on text:

1. Training files are imported by the real importer and authored as a node authors an
   import (`tradesync-compression-bench --dump`): one origin, seqs 1, 2, 3..., one HLC
   reading, empty contexts. The input here is that dump: `varint length | entry` each.
2. Of every entry only the part after the dot and HLC is used (context, key, operation):
   the origin and the clock are not predictable, and keeping them would date the
   dictionary.
3. Each source gives the same number of samples (spread evenly over the file), so a big
   file does not drown a small one.
4. Segments are chosen as zstd's COVER does (Liu et al., zstd `cover.c`): the samples are
   cut into epochs; in each, the k-byte window whose distinct d-byte substrings ("dmers")
   occur in the most samples wins, and its dmers then count zero. Rounds repeat until the
   dictionary is full.
5. Segments are laid out by score, best last: deflate distances to the end of the
   dictionary are the shortest, so the most frequent fragments are the cheapest to use.

Deterministic: same inputs and options, same bytes (no hashing of unordered sets leaks
into the order; ties break by position). Only the standard library.

Usage (the whole pipeline; writes trade-1.bin and the Swift source):
    swift build -c release --product tradesync-compression-bench
    python3 Protocol/dictionaries/build_trade_dictionary.py \\
        --bench .build/release/tradesync-compression-bench --write
Options: --data DIR (/work/shared/data/trade), --gen PATH (/work/shared/bench/gen_trade.py),
--size BYTES (8192), -k (40), -d (6), --sweep (print sizes for several sizes/k/d, write nothing).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN_PATH = os.path.join(HERE, "trade-1.bin")
SWIFT_PATH = os.path.join(ROOT, "Sources", "TradeSyncWire", "PresetDictionary+Trade1.swift")

# Training sources: the real files the importer reads (SOURCES.md numbers 1, 3, 4, 5, 6)
# and gen_trade.py seed 1. Held out for measurement: file 2 (bicycles) and gen seed 2.
TRAINING_FILES = [
    "comtrade_legacy_bulk_cement-252310_1988-2020.csv",
    "comtrade_legacy_selectedcols_usa-chn_hs2_2017.csv",
    "comtradeplus_csv_chn-deu-usa_total-by-partner_2022.csv",
    "comtradeplus_csv_tha-imports-8542_2014-2024.csv",
    "comtrade_api_v1_get_C_A_HS_chn-2010.json",
]
HELD_OUT_FILES = ["comtrade_legacy_api_bicycles-871200_2016-2019.csv"]
GEN_ROWS = 20000
SAMPLES_PER_SOURCE = 3000


def read_varint(data, offset):
    value, shift = 0, 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def split_payload(data):
    """The entries of a dump (`varint length | entry` each)."""
    entries, offset = [], 0
    while offset < len(data):
        length, offset = read_varint(data, offset)
        entries.append(data[offset:offset + length])
        offset += length
    return entries


def tail(entry):
    """The entry after version, origin, seq and HLC: context, key, operation."""
    _, offset = read_varint(entry, 1 + 32)
    return entry[offset + 8:]


def spread(items, count):
    """`count` items spread evenly over `items` (all when there are fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


def cover(samples, size, k, d):
    """COVER segment selection; returns the dictionary bytes, best segment last."""
    freq = {}
    for sample in samples:
        for dmer in {sample[i:i + d] for i in range(len(sample) - d + 1)}:
            freq[dmer] = freq.get(dmer, 0) + 1
    original = dict(freq)
    min_count = max(2, len(samples) // 1000)  # a dmer in fewer samples is noise (values)
    epochs = max(1, size // k)
    per_epoch = max(1, len(samples) // epochs)
    chosen = []  # (score, order, segment)
    total = 0
    for _round in range(8):
        progress = False
        for epoch in range(epochs):
            if total >= size:
                break
            best = (0, b"")
            for sample in samples[epoch * per_epoch:(epoch + 1) * per_epoch]:
                for start in range(0, max(1, len(sample) - k + 1)):
                    segment = sample[start:start + k]
                    score = sum(freq.get(m, 0) for m in {segment[i:i + d] for i in range(len(segment) - d + 1)})
                    if score > best[0]:
                        best = (score, segment)
            score, segment = best
            if score == 0:
                continue
            segment = trim(segment, original, d, min_count)
            for i in range(len(segment) - d + 1):
                freq[segment[i:i + d]] = 0
            chosen.append((score, len(chosen), segment))
            total += len(segment)
            progress = True
        if total >= size or not progress:
            break
    chosen.sort(key=lambda item: (item[0], -item[1]))  # ascending score: best last
    data = b"".join(segment for _, _, segment in chosen)
    return data[len(data) - size:] if len(data) > size else data


def trim(segment, freq, d, min_count):
    """Drops leading and trailing bytes whose dmers occur in fewer than `min_count`
    samples (random value digits), as zstd's COVER trims zero-frequency ends."""
    start, end = 0, len(segment)
    while end - start > d and freq.get(segment[start:start + d], 0) < min_count:
        start += 1
    while end - start > d and freq.get(segment[end - d:end], 0) < min_count:
        end -= 1
    return segment[start:end]


def deflated_size(payload, zdict):
    if zdict:
        c = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, zdict=zdict)
    else:
        c = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY)
    return len(c.compress(payload) + c.flush())


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def evaluate(sources, zdict, batch_size, threshold):
    """Mean payload bytes per entry as a sender would send them (plain if not shorter)."""
    result = {}
    for name, entries in sources:
        batches = [entries[i:i + batch_size] for i in range(0, min(len(entries), 3000), batch_size)]
        batches = [b for b in batches if len(b) == batch_size] or [entries]
        total = count = 0
        for batch in batches:
            payload = b"".join(varint(len(e)) + e for e in batch)
            size = len(payload)
            if size >= threshold:
                size = min(size, deflated_size(payload, zdict))
            total += size
            count += len(batch)
        result[name] = total / count
    return result


def load_sources(args, workdir):
    gen1 = os.path.join(workdir, "gen_trade_seed1.csv")
    gen2 = os.path.join(workdir, "gen_trade_seed2.csv")
    for seed, path in ((1, gen1), (2, gen2)):
        subprocess.run([sys.executable, args.gen, "--rows", str(GEN_ROWS), "--seed", str(seed), "-o", path], check=True)
    files = [os.path.join(args.data, f) for f in TRAINING_FILES + HELD_OUT_FILES] + [gen1, gen2]
    subprocess.run([args.bench, "--dump", workdir, "--dump-only"] + files, check=True, stdout=subprocess.DEVNULL)
    sources = []
    for path in files:
        with open(os.path.join(workdir, os.path.basename(path) + ".payload"), "rb") as f:
            sources.append((os.path.basename(path), split_payload(f.read())))
    return sources


def swift_source(data, dictid):
    """The generated Swift file: DICTID and the bytes as hex, 48 bytes a line."""
    hexed = data.hex()
    lines = ["        " + hexed[i:i + 96] for i in range(0, len(hexed), 96)]
    return (
        "// Generated by Protocol/dictionaries/build_trade_dictionary.py from Protocol/dictionaries/trade-1.bin.\n"
        "// Do not edit: change the script and regenerate (PROTOCOL.md, \"Preset dictionary\").\n"
        "\n"
        "extension PresetDictionary {\n"
        "    /// DICTID of `trade-1`: the Adler-32 of its bytes (RFC 1950 §2.2).\n"
        "    static let trade1ID: UInt32 = 0x%08x\n"
        "\n"
        "    /// The bytes of `trade-1` (%d bytes) in hex, equal to `Protocol/dictionaries/trade-1.bin`.\n"
        "    static let trade1Hex = \"\"\"\n%s\n        \"\"\"\n"
        "}\n" % (dictid, len(data), "\n".join(lines)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="tradesync-compression-bench binary")
    ap.add_argument("--data", default="/work/shared/data/trade")
    ap.add_argument("--gen", default="/work/shared/bench/gen_trade.py")
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("-k", type=int, default=40)
    ap.add_argument("-d", type=int, default=6)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--write", action="store_true", help="write trade-1.bin and the Swift source")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        sources = load_sources(args, workdir)
    training_names = set(TRAINING_FILES) | {"gen_trade_seed1.csv"}
    samples = []
    for name, entries in sources:
        if name in training_names:
            samples += [tail(e) for e in spread(entries, SAMPLES_PER_SOURCE)]
    configs = [(args.size, args.k, args.d)]
    if args.sweep:
        configs = [(s, k, d) for s in (2048, 4096, 8192) for k in (16, 24, 32) for d in (6, 8)]
    names = [name for name, _ in sources]
    print("size k d | batch | " + " | ".join(names))
    for batch in (1, 10, 100):
        base = evaluate(sources, b"", batch, 256)
        print("no dictionary (threshold 256) | %d | " % batch + " | ".join("%.1f" % base[n] for n in names))
    for size, k, d in configs:
        data = cover(samples, size, k, d)
        for batch in (1, 10, 100):
            row = evaluate(sources, data, batch, 0)
            print("%d %d %d | %d | " % (len(data), k, d, batch) + " | ".join("%.1f" % row[n] for n in names))
    if args.write and not args.sweep:
        with open(BIN_PATH, "wb") as f:
            f.write(data)
        with open(SWIFT_PATH, "w") as f:
            f.write(swift_source(data, zlib.adler32(data)))
        print("wrote %s (%d bytes, DICTID 0x%08x) and %s" % (BIN_PATH, len(data), zlib.adler32(data), SWIFT_PATH))


if __name__ == "__main__":
    main()
