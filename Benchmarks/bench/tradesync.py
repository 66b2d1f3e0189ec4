"""TradeSync's side of the benchmarks: two `tradesyncd` nodes (TLS 1.3, each pinning the
other, as deployed) on a Link, driven through the `tradesync` CLI and, where a poll must
be cheap and precise, through the control socket directly (one JSON request per Unix
connection, the framing of Sources/TradeSyncControl/ControlFrame.swift).

Every function returns one Sample and sets up its own state (setup is not timed)."""
from __future__ import annotations

import json
import os
import socket
import struct
import time
from pathlib import Path

from .common import BenchError, Proc, Sample, fresh_dir, free_port, run, wait_until
from .net import Link, Site, WireCounter

TOOL = "tradesync"


# ---------------------------------------------------------------- control socket

def control(sock: Path, request: dict, timeout: float = 60) -> dict:
    """One control request; the JSON answer. Raises BenchError when the node answers an error."""
    body = json.dumps(request).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(struct.pack(">I", len(body)) + body + struct.pack(">I", 0))
        data = bytearray()
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
            if len(data) >= 4:
                n = struct.unpack(">I", data[:4])[0]
                if len(data) >= 8 + n and len(data) >= 8 + n + struct.unpack(">I", data[4 + n:8 + n])[0]:
                    break
    if len(data) < 4:
        raise BenchError(f"{TOOL}: control socket {sock} closed without an answer to {request['command']}")
    n = struct.unpack(">I", data[:4])[0]
    answer = json.loads(data[4:4 + n])
    if answer.get("error"):
        raise BenchError(f"{TOOL}: {request['command']} at {sock}: {answer['error']}")
    return answer


def answers(sock: Path) -> bool:
    try:
        control(sock, {"command": "peers"}, timeout=2)
        return True
    except (OSError, BenchError, ValueError):
        return False


def status(sock: Path) -> dict:
    return control(sock, {"command": "status"})


def digest(sock: Path) -> str:
    return status(sock)["status"]["digest"]


def entries(sock: Path) -> int:
    """Entries held, from the digest-free `peers` command."""
    return control(sock, {"command": "peers"})["status"]["entries"]


# ---------------------------------------------------------------- nodes

class Node:
    """One tradesyncd with its data directory; `start` waits until it answers."""

    def __init__(self, name: str, site: Site, port: int, data: Path, bin: Path):
        self.name, self.site, self.port, self.data, self.bin = name, site, port, Path(data), Path(bin)
        self.proc: Proc | None = None
        self.data.mkdir(parents=True, exist_ok=True)
        self.id = run([bin / "tradesyncd", "--print-id", "--data-dir", self.data], TOOL,
                      f"node {name}: --print-id").stdout.split()[0]

    @property
    def sock(self) -> Path:
        return self.data / "control.sock"

    @property
    def address(self) -> str:
        return f"{self.site.host}:{self.port}"

    def start(self, peers: list["Node"], wait: bool = True, extra: list | None = None):
        cmd = [self.bin / "tradesyncd", "--data-dir", self.data, "--listen", self.address,
               "--log-level", "warning", *(extra or [])]
        for p in peers:
            cmd += ["--peer", f"{p.id}@{p.address}"]
        self.proc = Proc(self.site.cmd(*cmd), self.data.parent / f"{self.name}.log", TOOL)
        if wait:
            self.wait_serving()
        return self

    def wait_serving(self, timeout: float = 120):
        wait_until(lambda: answers(self.sock), timeout, f"{TOOL}: node {self.name} never answered on {self.sock}",
                   interval=0.002, proc=self.proc)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise BenchError(f"{TOOL}: no VmRSS for pid {self.proc.pid}")

    def import_csv(self, csv: Path) -> dict:
        p = run([self.bin / "tradesync", "import", "--json", "--skip-invalid", "--no-progress",
                 "--control", self.sock, csv], TOOL, f"import {csv.name} at {self.name}")
        out = json.loads(p.stdout)
        out.pop("rejected", None)  # the generator repeats keys with other values; those rows are refused
        return out


def pair(link: Link, work: Path, bin: Path) -> tuple[Node, Node]:
    """Two fresh nodes on the link (data under work/a, work/b); not started."""
    fresh_dir(work)
    ns = bool(link.a.wrap)  # in fresh namespaces every port is free
    pa = 7400 if ns else free_port(link.a.host)
    pb = 7401 if ns else free_port(link.b.host)
    return Node("a", link.a, pa, work / "a", bin), Node("b", link.b, pb, work / "b", bin)


def wait_same_digest(a: Node, b: Node, timeout: float, interval: float = 0.005):
    """Waits until B holds A's entry count, then until its digest is A's; returns when."""
    want_entries = entries(a.sock)
    want = digest(a.sock)
    wait_until(lambda: entries(b.sock) >= want_entries, timeout,
               f"{TOOL}: node b never reached {want_entries} entries (see {b.proc.log})", interval, b.proc)
    wait_until(lambda: digest(b.sock) == want, timeout,
               f"{TOOL}: node b never reported A's digest {want[:16]}", interval, b.proc)
    return time.monotonic()


def wait_checkpointed(node: Node, timeout: float = 300):
    """Waits until node has no checkpoint being written or due (`status`:
    checkpoint_pending false): the node is at rest, its import's housekeeping done. A node
    below its checkpoint threshold (a small file) has none due. A node that does not report
    the field is not waited for."""
    def done():
        s = control(node.sock, {"command": "peers"})["status"]  # the status without its digests
        return not s.get("checkpoint_pending", False)
    wait_until(done, timeout, f"{TOOL}: node {node.name} never checkpointed its entries", 0.1, node.proc)


# ---------------------------------------------------------------- cases

def initial_sync(link: Link, csv: Path, work: Path, bin: Path) -> Sample:
    """A imports csv alone and checkpoints it (a node an office has run for a while, not
    one busy with its own import's housekeeping); then B starts empty. Time from B's launch
    until B reports A's digest. Wire bytes: TCP payload both ways on both nodes' listen ports."""
    a, b = pair(link, Path(work) / "ts-initial", bin)
    try:
        a.start([b])
        imported = a.import_csv(csv)
        wait_checkpointed(a)
        with WireCounter(link, [a.port, b.port], Path(work), TOOL) as wire:
            t0 = time.monotonic()
            b.start([a], wait=False)
            b.wait_serving()  # timed: B's start is part of catching up
            t1 = wait_same_digest(a, b, timeout=1800)
        held = entries(b.sock)
        return Sample(t1 - t0, wire.bytes, {"entries": held, "written": imported["written"],
                                            "bytes_per_entry": round(wire.bytes / max(held, 1), 2)})
    finally:
        b.stop()
        a.stop()


class Incremental:
    """A and B in sync on base_csv; each `once` imports 100 new rows at A and measures from
    the import being acknowledged (the CLI's answer: the entries are fsynced at A) until
    B holds durably as many entries as A then holds: A's count before the import plus the
    entries the CLI's answer says it wrote, so no request to A sits between the ack and the
    request to B. That request is a `wait` (what `tradesync wait --entries N` sends): B parks
    it and answers when its fsync covers the entries, so B is not interrupted by polls while
    it applies the batch (a poll loop costs B ~0.3 ms of work per poll on the same 2 cores).
    Entries, not one key: the generator repeats keys, so the last new row's key may already
    be at B."""

    def __init__(self, link: Link, base_csv: Path, work: Path, bin: Path):
        self.link, self.base, self.work, self.bin = link, Path(base_csv), Path(work), Path(bin)
        self.a = self.b = None

    def setup(self):
        self.a, self.b = pair(self.link, self.work / "ts-incremental", self.bin)
        self.a.start([self.b])
        self.a.import_csv(self.base)
        self.b.start([self.a])
        wait_same_digest(self.a, self.b, timeout=3600)

    def once(self, add_csv: Path) -> Sample:
        cli = [self.bin / "tradesync", "import", "--json", "--no-progress", "--skip-invalid",
               "--control", self.a.sock, add_csv]
        with WireCounter(self.link, [self.a.port, self.b.port], self.work, TOOL) as wire:
            import subprocess
            before = entries(self.a.sock)
            p = subprocess.Popen(list(map(str, cli)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # The CLI prints its JSON answer, in one write, once A acknowledged the import.
            first = os.read(p.stdout.fileno(), 1 << 16)
            acked = time.monotonic()
            try:
                want = before + json.loads(first)["written"]
            except (ValueError, KeyError):  # a partial read: ask A instead (costs ~0.3 ms)
                want = entries(self.a.sock)
            # One parked request: B answers it the moment an fsync makes the entries durable.
            try:
                control(self.b.sock, {"command": "wait", "entries": want, "timeout_ms": 30_000}, timeout=60)
            except BenchError as error:
                raise BenchError(f"{TOOL}: B never held A's {want} entries within 30 s of A's ack ({error})")
            seen = time.monotonic()
            rest = p.stdout.read()
            p.wait()
            if p.returncode != 0 or not first:
                raise BenchError(f"{TOOL}: import of {add_csv} at A failed: {p.stderr.read().decode()[-500:]}")
            result = json.loads(first + rest)
            wait_same_digest(self.a, self.b, timeout=30)
            time.sleep(0.2)  # acknowledgements of the batch finish crossing
        return Sample(seen - acked, wire.bytes, {"written": result["written"]})

    def close(self):
        for n in (self.b, self.a):
            if n:
                n.stop()


def durable_import(csv: Path, work: Path, bin: Path) -> Sample:
    """`tradesync import` of csv into a fresh node: wall time of the CLI (parse, send,
    append, fsync, apply, answer). extra: records written and records/s."""
    root = fresh_dir(Path(work) / "ts-import")
    node = Node("n", Site("A", "127.0.0.1"), free_port(), root / "n", bin)
    try:
        node.start([])
        t0 = time.monotonic()
        out = node.import_csv(csv)
        dt = time.monotonic() - t0
        return Sample(dt, None, {"records": out["written"], "rows": out["rows_read"],
                                 "records_per_s": round(out["written"] / dt), "rows_per_s": round(out["rows_read"] / dt)})
    finally:
        node.stop()


_prepared: dict = {}


def _prepared_node(csv: Path, work: Path, bin: Path) -> tuple[Path, int, int]:
    """A data directory holding csv imported, stopped cleanly (final checkpoint written);
    built once per csv and reused. Returns (data dir, keys, RSS right after the import)."""
    key = (str(csv), str(bin))
    if key in _prepared and _prepared[key][0].exists():
        return _prepared[key]
    root = fresh_dir(Path(work) / f"ts-prepared-{Path(csv).stem}")
    node = Node("n", Site("A", "127.0.0.1"), free_port(), root / "n", bin)
    try:
        node.start([])
        node.import_csv(csv)
        keys = status(node.sock)["status"]["keys"]
        rss = node.rss_bytes()
    finally:
        node.stop()
    _prepared[key] = (root / "n", keys, rss)
    return _prepared[key]


def memory(csv: Path, work: Path, bin: Path) -> Sample:
    """RSS of a daemon serving the node of csv after a restart (its steady state), per key."""
    data, keys, rss_after_import = _prepared_node(csv, work, bin)
    node = Node("n", Site("A", "127.0.0.1"), free_port(), data, bin)
    try:
        node.start([])
        status(node.sock)  # the state is loaded and the digests are ready
        rss = node.rss_bytes()
    finally:
        node.stop()
    return Sample(0.0, None, {"rss_bytes": rss, "keys": keys, "bytes_per_key": round(rss / keys, 1),
                              "rss_after_import": rss_after_import,
                              "bytes_per_key_after_import": round(rss_after_import / keys, 1)})


def restart(csv: Path, work: Path, bin: Path) -> Sample:
    """Time from launching tradesyncd on the stopped node of csv until it answers `status`
    with its digest (state loaded, listener and control socket bound)."""
    data, keys, _ = _prepared_node(csv, work, bin)
    node = Node("n", Site("A", "127.0.0.1"), free_port(), data, bin)
    try:
        t0 = time.monotonic()
        node.start([], wait=False)
        wait_until(lambda: answers(node.sock), 120, f"{TOOL}: restarted node never answered", 0.002, node.proc)
        status(node.sock)
        dt = time.monotonic() - t0
    finally:
        node.stop()
    return Sample(dt, None, {"keys": keys})
