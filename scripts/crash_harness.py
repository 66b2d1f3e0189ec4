#!/usr/bin/env python3
"""Crash harness for tradesyncd: a log that survives crashes.

Starts two nodes on 127.0.0.1 that peer with each other: S (stable, never killed) and
V (victim). Each cycle drives CLI puts, deletes and imports into V and puts and imports
into S (so peer sync flows into V), kills V with SIGKILL at a random moment while that
work is in flight, checks V's data directory offline (`tradesync verify`), restarts V and
asserts that nothing V acknowledged was lost. At the end (and every --converge-every
cycles) V and S must reach the same digest, vector and counts.

Usage:
    scripts/crash_harness.py [--bin DIR] [--cycles N] [--seed S] [--work DIR]
                             [--data FILE] [--keep] [--converge-every K] [--verbose]
                             [--first-start-kills N] [--allow-partial-import]

    --bin DIR         holds tradesyncd and tradesync (default: .build/debug in the repository)
    --cycles N        kill/restart cycles (default 50)
    --seed S          seed of every random choice (default: random; printed first)
    --work DIR        parent of the run's work directory (default: the system temp dir)
    --data FILE       trade CSV to import slices of (default: rows generated with
                      ../shared/bench/gen_trade.py, or a built-in generator, into the work dir);
                      a TradeSync CSV gets every check, another format (Comtrade CSV) is cut
                      into line ranges and only V imports it
    --keep            keep the work directory (it is always kept on failure)
    --converge-every  check that V and S converge every K cycles (default 10; 0: at the end)
    --verbose         one line per cycle, with where its time went
    --first-start-kills N
                      before the cycles, kill V N times during its first start on an empty
                      data dir, and restart it (default 3; raise it to hunt the node-key bug)
    --allow-partial-import
                      warn instead of failing when an unacknowledged import survives a
                      SIGKILL only in part (see "Known failures" below)

Short form (CI):  swift build && scripts/crash_harness.py --cycles 50 --seed "$RANDOM"
                  (1.5-2 min with debug binaries on a busy 2-core machine)
Long form:        swift build -c release &&
                  scripts/crash_harness.py --bin .build/release --cycles 1000 --seed 1
                  (release binaries; each cycle costs more as V's log grows, since every
                  kill is followed by an offline verify and a restart that replay it)

Before the cycles, V is killed during its very first start (--first-start-kills times,
each on an empty data dir) and must start again. Each cycle then picks (from the seed)
how V is killed: after a random 0-400 ms while three writers put/delete V's keys, a
writer on each node puts keys both write, S puts its own keys and V or S may import a
slice ("timer"); or, one cycle in ten, the moment V's log grows by a page while V
imports 900-1,200 rows, to land inside that write(2) and tear it ("on-write"). One cycle
in ten also kills V again while it restarts, and one in eight brings V back cut off
from S (other port, no peer) for the next cycle, so both write the shared keys unseen
by each other and make conflicts. A seed replays every choice (keys,
values, operations, slices, kill modes and delays), but not the scheduler: a
timing-dependent failure may need a few runs.

What counts as acknowledged: a `tradesync put/delete/import` whose process exited 0.
A put or delete reports its entry's dot (origin:seq) with --json; the harness records
dot, key, operation and values. Any other exit (3 when V died under it, SIGPIPE when V
died while the CLI was sending, 1 when V refused) is "unknown": that write may or may not
have survived, and both are accepted. Checks:

  after each kill, offline, before the restart (`tradesync verify --data-dir V --json`):
    * exit 0, or exit 4 for a torn tail only (damage before the tail is a failure);
    * V's log holds its own origin up to the highest acknowledged seq, and at least
      everything S received from V (V sends only entries already on disk);
  after each restart:
    * the restart succeeds (a start failure prints the daemon's stderr), and a torn tail
      verify saw is cut and logged ("cut torn tail of N bytes");
    * every acknowledged write of the cycle is in the log with its dot, key, operation
      and values (`tradesync log --json`);
    * every key V owns shows the value of its last acknowledged write, or of a later
      unacknowledged one (writes to a key are sequential, each key has one writer), and
      an acknowledged put that is still the value carries the acknowledged dot;
    * the cycle's import slice, imported again, writes nothing when the import was
      acknowledged, and all or nothing when it was not (an import is one append);
  at convergence points and at the end:
    * V and S report the same digest, vector and counts within 30 s;
    * the keys S owns hold exactly S's acknowledged values on both nodes;
  at the end: every imported slice re-imports into V writing nothing; both nodes stop
  with exit 0 on SIGTERM, and `tradesync verify` of each data directory shows the digest
  its `status` showed.

Bugs it found, now fixed: a SIGKILL inside the write(2) of a large import left the
import's first records whole on disk (an unacknowledged import landed in part); the log now
flags every record of a batch but its last, and recovery cuts an incomplete batch whole.
And a SIGKILL during a node's first start could leave an empty `node.key` that no later
start accepted; the key is now written to a temporary file and renamed into place.
--allow-partial-import (turn the first check into a warning) and --first-start-kills N
(kill many first starts) remain for regression hunts.

Exit status: 0 every check held; 1 a check failed (the message names the cycle, seed and
key or seq, then the replay command); 2 usage or setup error; 130 interrupted. Daemons
are always stopped on exit. Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 130

REPO_ROOT = Path(__file__).resolve().parent.parent
TRADESYNC_CSV_HEADER = "reporter,partner,flow,hs6,period,value_usd,net_weight_kg,qty,qty_unit"

# Key spaces: V's own keys (one writer thread each), S's own keys, and keys both write
# (concurrent writes there make conflicts; checked through the log and the digest).
V_REPORTER, S_REPORTER, SHARED_REPORTER = "CRV", "CRS", "CRX"
V_WRITERS = 3
V_KEYS_PER_WRITER = 20
S_KEYS = 40
SHARED_KEYS = 8

KILL_DELAY_MAX_S = 0.4
# A CLI talking to V when V dies may exit 3 or, when the kill lands while it writes its
# request, die of SIGPIPE (`tradesync` does not ignore it). Both mean "outcome unknown".
RC_NODE_GONE = (3, -signal.SIGPIPE)

# Run as `python3 -c GROWTH_WATCHER LOG PID SECONDS`: SIGKILL PID once LOG grows by 4 KiB
# or more between two looks, or after SECONDS; prints "ready" once it has looked, then the
# growth seen (0: none).
GROWTH_WATCHER = """
import os, signal, sys, time
path, pid, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
def size():
    try:
        return os.stat(path).st_size
    except OSError:
        return -1
last, hit = size(), 0
print("ready", flush=True)
while time.monotonic() < deadline:
    now = size()
    if last >= 0 and now - last >= 4096:
        hit = now - last
        break
    last = now
try:
    os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
print(hit)
"""
READY_TIMEOUT_S = 30.0
CONVERGE_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class HarnessFailure(Exception):
    """A check failed: exit 1."""


class SetupError(Exception):
    """Bad usage or an environment problem: exit 2."""


class Interrupted(Exception):
    """SIGINT/SIGTERM/SIGHUP to the harness."""


# --------------------------------------------------------------------------- processes


class ProcessRegistry:
    """Every child the harness started, so that any exit path can end them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: set[subprocess.Popen] = set()

    def add(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.live.add(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.live.discard(proc)

    def kill_all(self) -> None:
        with self.lock:
            procs = list(self.live)
        for proc in procs:
            if proc.poll() is None:
                try:
                    proc.kill()
                except OSError:
                    pass
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                pass
        with self.lock:
            self.live.clear()


REGISTRY = ProcessRegistry()


@dataclass
class CliResult:
    rc: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def err_line(self) -> str:
        lines = [line for line in self.err.strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""


class Cli:
    """Runs `tradesync`."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.env = {k: v for k, v in os.environ.items() if k != "TRADESYNC_CONTROL"}

    def run(self, args: list[str], timeout: float = CLI_TIMEOUT_S) -> CliResult:
        proc = subprocess.Popen(
            [str(self.binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=self.env, text=True, errors="replace")
        REGISTRY.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise HarnessFailure(f"`tradesync {shlex.join(args)}` did not finish within {timeout:.0f} s "
                                 f"(stderr: {err.strip()[-500:]})")
        finally:
            REGISTRY.discard(proc)
        return CliResult(proc.returncode, out, err)


class Node:
    """One tradesyncd: its data dir, addresses, process and stderr log."""

    def __init__(self, name: str, daemon: Path, cli: Cli, data_dir: Path, port: int, peer_port: int,
                 control: Path, log_path: Path, isolated_port: int = 0) -> None:
        self.name = name
        self.daemon = daemon
        self.cli = cli
        self.data_dir = data_dir
        self.listen = f"127.0.0.1:{port}"
        self.peer = f"127.0.0.1:{peer_port}"
        # A partitioned start listens where the peer does not dial and dials nobody.
        self.isolated_listen = f"127.0.0.1:{isolated_port}"
        self.partitioned = False
        self.control = control
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.log_offset = 0  # where the current start's stderr begins in log_path
        self.node_id = ""

    def command(self) -> list[str]:
        if self.partitioned:
            return [str(self.daemon), "--data-dir", str(self.data_dir), "--listen", self.isolated_listen,
                    "--control", str(self.control)]
        # Plain TCP on loopback (--insecure): this harness is about the log, not TLS.
        return [str(self.daemon), "--data-dir", str(self.data_dir), "--listen", self.listen,
                "--peer", self.peer, "--insecure", "--control", str(self.control)]

    def spawn(self, partitioned: bool = False) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        self.partitioned = partitioned
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== crash_harness: start {self.starts} of node {self.name} =====\n".encode())
            log.flush()
            self.log_offset = log.tell()
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True)
        REGISTRY.add(self.proc)

    def start_log(self) -> str:
        """The stderr of the current (or last) start."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict:
        """Polls `status` until it answers; raises HarnessFailure when the daemon exits or
        does not answer in time (with the daemon's stderr)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessFailure(
                    f"node {self.name} failed to start: tradesyncd exited {self.proc.returncode}\n"
                    f"  command: {shlex.join(self.command())}\n  stderr of this start:\n"
                    + indent(self.start_log()))
            last = self.cli.run(["status", "--control", str(self.control), "--json"], timeout=10)
            if last.rc == 0:
                status = last.json()
                self.node_id = status["node_id"]
                return status
            time.sleep(0.02)
        raise HarnessFailure(
            f"node {self.name} did not answer `status` within {timeout:.0f} s (last: exit {last.rc if last else '?'}"
            f" {last.err_line() if last else ''})\n  stderr of this start:\n" + indent(self.start_log()))

    def sigkill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
            REGISTRY.discard(self.proc)

    def sigterm(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Graceful stop; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        REGISTRY.discard(self.proc)
        return code

    def status(self) -> dict:
        result = self.cli.run(["status", "--control", str(self.control), "--json"])
        if result.rc != 0:
            raise HarnessFailure(f"`tradesync status` on node {self.name} exited {result.rc}: {result.err_line()}")
        return result.json()

    def log_path_entries(self) -> Path:
        return self.data_dir / "entries.log"


def indent(text: str, prefix: str = "    ", limit: int = 60) -> str:
    lines = text.rstrip().splitlines()
    if len(lines) > limit:
        lines = [f"… {len(lines) - limit} earlier lines …"] + lines[-limit:]
    return "\n".join(prefix + line for line in lines) if lines else prefix + "(empty)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- values and state


def dec(text) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def norm_values(values: dict | None) -> tuple | None:
    """A comparable form of a TradeValues JSON object (decimals compared numerically)."""
    if values is None:
        return None
    return (dec(values.get("value_usd")), dec(values.get("net_weight_kg")), dec(values.get("qty")),
            values.get("qty_unit") or "", frozenset(values.get("flags") or []))


ABSENT = ("absent",)
DELETED = ("deleted",)


def put_state(values: dict) -> tuple:
    return ("put", norm_values(values))


def state_of_record(record: dict | None) -> tuple:
    if record is None:
        return ABSENT
    if record["deleted"]:
        return DELETED
    return put_state(record["values"])


def show_state(state: tuple) -> str:
    if state[0] != "put":
        return state[0]
    usd, weight, qty, unit, flags = state[1]
    return f"value_usd={usd} net_weight_kg={weight} qty={qty} qty_unit={unit} flags={','.join(sorted(flags))}"


def parse_dot(text: str) -> tuple[str, int]:
    origin, _, seq = text.rpartition(":")
    return origin, int(seq)


@dataclass
class Write:
    """One put or delete issued through the CLI."""
    node: str          # "V" or "S"
    key: str
    op: str            # "put" or "delete"
    values: dict | None
    cycle: int
    rc: int = -1
    dot: str | None = None
    seq: int | None = None
    unchanged: bool = False
    err: str = ""

    @property
    def acked(self) -> bool:
        return self.rc == 0

    def state(self) -> tuple:
        return DELETED if self.op == "delete" else put_state(self.values)

    def describe(self) -> str:
        what = f"{self.op} {self.key}" + (f" {show_state(self.state())}" if self.op == "put" else "")
        outcome = f"acknowledged as dot {self.dot}" if self.acked else f"unacknowledged (exit {self.rc}: {self.err})"
        return f"{what}, {outcome}"


# --------------------------------------------------------------------------- import data


@dataclass
class Slice:
    path: Path
    rows: int
    strict: bool   # rows have keys no other slice or write touches


class SlicePool:
    """Hands out import slices as small CSV files in the work dir.

    Generated or TradeSync-CSV data is deduplicated by key across the whole run, so every
    slice's keys are fresh: a slice imported once must re-import writing nothing, and an
    unacknowledged import must have landed all or nothing. Other formats (--data with a
    Comtrade CSV) are cut into consecutive line ranges, and only the weaker check applies.
    """

    CHUNK_ROWS = 20000

    def __init__(self, work: Path, seed: int, data_file: Path | None, gen_trade: Path | None) -> None:
        self.dir = work / "slices"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.gen_trade = gen_trade
        self.data_file = data_file
        self.pending: list[bytes] = []
        self.seen: set[tuple] = set()
        self.generated = 0
        self.count = 0
        self.lock = threading.Lock()
        self.exhausted = False
        self.source = ""
        if data_file is not None:
            raw = data_file.read_bytes()
            lines = raw.splitlines()
            if not lines:
                raise SetupError(f"--data {data_file}: empty file")
            self.header = lines[0]
            body = [line for line in lines[1:] if line.strip()]
            self.strict = self.header.decode("utf-8", "replace").strip().lstrip("\ufeff") == TRADESYNC_CSV_HEADER
            if self.strict:
                self._add_dedup(body)
            else:
                self.pending = body
                self.foreign_all = body
                self.foreign_next = 0
            self.source = f"{data_file} ({'TradeSync CSV' if self.strict else 'other format: line slices'})"
        else:
            self.header = TRADESYNC_CSV_HEADER.encode()
            self.strict = True
            self.source = f"generated by {gen_trade} --seed {seed}" if gen_trade else "built-in generator"

    def _add_dedup(self, lines: list[bytes]) -> None:
        for line in lines:
            parts = line.split(b",")
            if len(parts) < 9:
                continue
            key = tuple(part.strip().upper() for part in parts[:5])
            if key in self.seen:
                continue
            self.seen.add(key)
            self.pending.append(line)

    def _generate(self) -> None:
        if self.gen_trade is not None:
            out = self.dir / "chunk.csv"
            cmd = [sys.executable, str(self.gen_trade), "--rows", str(self.CHUNK_ROWS), "--seed", str(self.seed),
                   "--skip", str(self.generated), "--no-header", "--out", str(out)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise SetupError(f"{shlex.join(cmd)} failed: {done.stderr.strip()[-500:]}")
            lines = out.read_bytes().splitlines()
            out.unlink()
        else:
            lines = builtin_rows(self.seed, self.generated, self.CHUNK_ROWS)
        self.generated += self.CHUNK_ROWS
        self._add_dedup(lines)

    def take(self, rows: int) -> Slice | None:
        with self.lock:
            if self.data_file is not None and not self.strict:
                body = self.foreign_all
                start = self.foreign_next % len(body)
                chosen = body[start:start + rows]
                self.foreign_next = start + len(chosen)
            else:
                while len(self.pending) < rows and self.data_file is None:
                    self._generate()
                if not self.pending:
                    self.exhausted = True
                    return None
                chosen, self.pending = self.pending[:rows], self.pending[rows:]
            self.count += 1
            path = self.dir / f"slice-{self.count:05d}.csv"
            path.write_bytes(self.header + b"\n" + b"\n".join(chosen) + b"\n")
            return Slice(path, len(chosen), self.strict)


def builtin_rows(seed: int, skip: int, rows: int) -> list[bytes]:
    """Fallback when gen_trade.py is not found: TradeSync CSV rows with distinct keys."""
    rng = random.Random(f"{seed}:{skip}")
    areas = ["USA", "CHN", "DEU", "JPN", "FRA", "GBR", "THA", "BRA", "IND", "KOR", "MEX", "W00"]
    units = ["kg", "u", "l", "m2", "t"]
    out = []
    for n in range(skip, skip + rows):
        reporter = areas[n % 11]
        partner = areas[(n // 11) % 12]
        flow = ["M", "X"][(n // 132) % 2]
        hs6 = 10000 + (n // 264) % 890000
        period = 2010 + (n // 264) // 890000 % 15
        out.append(f"{reporter},{partner},{flow},{hs6:06d},{period},{rng.randint(1, 10**7)}.{rng.randint(0, 99):02d},"
                   f"{rng.randint(1, 10**6)},{rng.randint(1, 10**5)},{rng.choice(units)}".encode())
    return out


def find_gen_trade() -> Path | None:
    for candidate in (REPO_ROOT.parent / "shared" / "bench" / "gen_trade.py",
                      Path("/work/shared/bench/gen_trade.py")):
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- the harness


@dataclass
class Stats:
    kills: int = 0
    kills_timer: int = 0
    kills_growth: int = 0
    kills_startup: int = 0
    kills_first_start: int = 0
    v_puts: int = 0
    v_deletes: int = 0
    v_acked: int = 0
    v_unknown: int = 0
    acked_checked: int = 0
    keys_checked: int = 0
    unknown_survived: int = 0
    shared_writes: int = 0
    s_writes: int = 0
    v_imports: int = 0
    v_imports_acked: int = 0
    v_imports_unknown_landed: int = 0
    v_imports_unknown_lost: int = 0
    s_imports: int = 0
    rows_imported: int = 0
    cli_sigpipe: int = 0
    partitioned_starts: int = 0
    heal_restarts: int = 0
    partial_imports: int = 0
    growth_triggered: int = 0
    conflicts_seen: int = 0
    torn_tails: int = 0
    torn_bytes: int = 0
    convergences: int = 0
    converge_s_max: float = 0.0


@dataclass
class CycleWork:
    cycle: int
    writes: list[Write] = field(default_factory=list)   # V's writes in issue order per key
    import_slice: Slice | None = None
    import_result: CliResult | None = None
    errors: list[BaseException] = field(default_factory=list)
    check_rng: random.Random = field(default_factory=random.Random)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Harness:
    def __init__(self, args: argparse.Namespace, bin_dir: Path, work: Path) -> None:
        self.args = args
        self.seed = args.seed
        self.rng = random.Random(args.seed)
        self.work = work
        self.cli = Cli(bin_dir / "tradesync")
        self.stats = Stats()
        self.cycle = 0
        self.started = time.monotonic()
        sock_dir = work
        if len(str(work / "v" / "control.sock")) > 100:  # sun_path is 108 bytes
            sock_dir = Path(tempfile.mkdtemp(prefix="chs-"))
            self.extra_dirs = [sock_dir]
        else:
            self.extra_dirs = []
        ports: list[int] = []
        while len(ports) < 3:
            port = free_port()
            if port not in ports:
                ports.append(port)
        v_port, s_port, v_isolated_port = ports
        self.v = Node("V", bin_dir / "tradesyncd", self.cli, work / "v", v_port, s_port,
                      sock_dir / "v.sock", work / "v.stderr.log", v_isolated_port)
        self.s = Node("S", bin_dir / "tradesyncd", self.cli, work / "s", s_port, v_port,
                      sock_dir / "s.sock", work / "s.stderr.log")
        self.slices = SlicePool(work, args.seed, Path(args.data) if args.data else None,
                                None if args.data else find_gen_trade())
        self.v_keys = [[f"{V_REPORTER}:USA:M:{100000 + t * 100 + i}:1951" for i in range(V_KEYS_PER_WRITER)]
                       for t in range(V_WRITERS)]
        self.s_keys = [f"{S_REPORTER}:DEU:X:{200000 + i}:1952" for i in range(S_KEYS)]
        self.shared_keys = [f"{SHARED_REPORTER}:FRA:M:{300000 + i}:1953" for i in range(SHARED_KEYS)]
        # What V must show for each of its keys (collapsed to the observed state after each check).
        self.v_model: dict[str, tuple] = {k: ABSENT for keys in self.v_keys for k in keys}
        # S's keys: S is never killed, so every write there is acknowledged and exact.
        self.s_model: dict[str, tuple] = {k: ABSENT for k in self.s_keys}
        self.max_acked_seq = 0          # highest seq V acknowledged for its own origin
        self.max_acked_write: Write | None = None
        self.imported: list[Slice] = []  # slices known to be held (strict ones are re-checked at the end)
        self.value_counter = 0
        self.counter_lock = threading.Lock()
        self.stopping = False

    # ----------------------------------------------------------------- reporting

    def replay_command(self) -> str:
        parts = ["python3", str(Path(sys.argv[0])), "--bin", str(self.args.bin_dir),
                 "--cycles", str(self.args.cycles), "--seed", str(self.seed)]
        if self.args.data:
            parts += ["--data", self.args.data]
        if self.args.converge_every != 10:
            parts += ["--converge-every", str(self.args.converge_every)]
        if self.args.verify_every != 1:
            parts += ["--verify-every", str(self.args.verify_every)]
        if self.args.first_start_kills != 3:
            parts += ["--first-start-kills", str(self.args.first_start_kills)]
        if self.args.allow_partial_import:
            parts += ["--allow-partial-import"]
        return shlex.join(parts)

    def fail(self, message: str) -> HarnessFailure:
        return HarnessFailure(f"{self.where()} (seed {self.seed}): {message}")

    def where(self) -> str:
        return f"cycle {self.cycle}" if self.cycle else "before cycle 1"

    def failure_text(self, error: HarnessFailure) -> str:
        """The failure message with its cycle and seed, and why S is gone if it is."""
        text = str(error)
        if not text.startswith(("cycle ", "before cycle")):
            text = f"{self.where()} (seed {self.seed}): {text}"
        return text + self.s_diagnosis()

    def s_diagnosis(self) -> str:
        """Why S is gone, when it is: the harness never signals S before the end, so an exit
        means S crashed or something outside the harness signalled it."""
        proc = self.s.proc
        if proc is None or proc.poll() is None or self.stopping:
            return ""
        code = proc.returncode
        how = f"killed by signal {-code}" if code < 0 else f"exited {code}"
        graceful = "tradesyncd stopped" in self.s.start_log()
        cause = ("it stopped gracefully, as on SIGTERM/SIGINT, which the harness never sends to S: another "
                 "process signalled it (a kill by name, or of a stale pid now reused)" if graceful else
                 "it crashed or was killed")
        return f"\n  note: node S is not running: {how}; {cause}. S's stderr ends with:\n" + indent(
            self.s.start_log(), limit=8)

    def note(self, text: str) -> None:
        print(f"crash_harness: {text}", flush=True)

    # ----------------------------------------------------------------- values

    def next_values(self, rng: random.Random) -> dict:
        with self.counter_lock:
            self.value_counter += 1
            n = self.value_counter
        flags = rng.choice([[], ["estimated"], ["confidential"], ["estimated", "qty_estimated"]])
        return {"value_usd": f"{n}.{rng.randint(0, 99):02d}", "net_weight_kg": str(rng.randint(1, 10**6)),
                "qty": str(rng.randint(0, 10**5)), "qty_unit": rng.choice(["kg", "u", "l", "t"]), "flags": flags}

    @staticmethod
    def put_args(key: str, values: dict) -> list[str]:
        return ["put", key, f"value_usd={values['value_usd']}", f"net_weight_kg={values['net_weight_kg']}",
                f"qty={values['qty']}", f"qty_unit={values['qty_unit']}", f"flags={','.join(values['flags'])}"]

    def issue(self, node: Node, write: Write) -> Write:
        args = self.put_args(write.key, write.values) if write.op == "put" else ["delete", write.key]
        result = self.cli.run(args + ["--control", str(node.control), "--json"])
        write.rc = result.rc
        write.err = result.err_line() or (f"killed by signal {-result.rc}" if result.rc < 0 else "")
        if result.rc == -signal.SIGPIPE:
            self.stats.cli_sigpipe += 1
        if result.rc == 0:
            answer = result.json()
            write.dot = answer["dot"]
            write.seq = parse_dot(write.dot)[1]
            write.unchanged = bool(answer.get("unchanged"))
        elif result.rc in (2, 64):
            raise SetupError(f"`tradesync {shlex.join(args)}` was refused as invalid (exit {result.rc}): "
                             f"{write.err} — a harness bug")
        return write

    # ----------------------------------------------------------------- workers

    def v_writer(self, work: CycleWork, tid: int, rng: random.Random, stop: threading.Event) -> None:
        keys = self.v_keys[tid]
        believed = {k: self.v_model[k] for k in keys}
        while not stop.is_set():
            key, draw = rng.choice(keys), rng.random()
            if believed[key][0] == "put" and draw < 0.15:
                write = Write("V", key, "delete", None, work.cycle)
            else:
                write = Write("V", key, "put", self.next_values(rng), work.cycle)
            self.issue(self.v, write)
            with work.lock:
                work.writes.append(write)
            if write.acked:
                believed[key] = write.state()
            elif write.rc in RC_NODE_GONE:
                return  # V is gone; later calls could not reach it either
            time.sleep(rng.uniform(0, 0.01))

    def shared_writer(self, work: CycleWork, node: Node, rng: random.Random, stop: threading.Event) -> None:
        """Puts to the keys both nodes write (one such writer per node, concurrently, so
        versions cross in flight and make conflicts). Writes to V are checked through the
        log and the vector; the values through convergence."""
        while not stop.is_set():
            key = rng.choice(self.shared_keys)
            write = Write(node.name, key, "put", self.next_values(rng), work.cycle)
            self.issue(node, write)
            self.stats.shared_writes += 1
            if node is self.v:
                with work.lock:
                    work.writes.append(write)
                if write.rc in RC_NODE_GONE:
                    return
            elif not write.acked:
                raise self.fail(f"node S (never killed) did not acknowledge {write.describe()}")
            time.sleep(rng.uniform(0.005, 0.03))

    def s_writer(self, work: CycleWork, rng: random.Random, stop_s: threading.Event, chunk: Slice | None,
                 import_at: float) -> None:
        start = time.monotonic()
        while not stop_s.is_set():
            if chunk is not None and time.monotonic() - start >= import_at:
                self.s_import(chunk)
                chunk = None
                continue
            key, draw = rng.choice(self.s_keys), rng.random()
            if self.s_model[key][0] == "put" and draw < 0.1:
                write = Write("S", key, "delete", None, work.cycle)
            else:
                write = Write("S", key, "put", self.next_values(rng), work.cycle)
            self.issue(self.s, write)
            if not write.acked:
                raise self.fail(f"node S (never killed) did not acknowledge {write.describe()}")
            self.s_model[key] = write.state()
            self.stats.s_writes += 1
            time.sleep(rng.uniform(0.005, 0.04))

    def s_import(self, chunk: Slice) -> None:
        result = self.cli.run(["import", str(chunk.path), "--skip-invalid", "--control", str(self.s.control), "--json"])
        if result.rc != 0:
            raise self.fail(f"node S (never killed) refused import of {chunk.path} (exit {result.rc}): "
                            f"{result.err_line()}")
        self.stats.s_imports += 1
        self.stats.rows_imported += result.json()["written"]
        self.imported.append(chunk)

    def v_importer(self, work: CycleWork, chunk: Slice, delay: float) -> None:
        time.sleep(delay)
        work.import_slice = chunk
        self.stats.v_imports += 1
        work.import_result = self.cli.run(
            ["import", str(chunk.path), "--skip-invalid", "--control", str(self.v.control), "--json"])

    @staticmethod
    def guarded(work: CycleWork, target, *args) -> threading.Thread:
        def body() -> None:
            try:
                target(*args)
            except BaseException as error:  # noqa: BLE001 - handed to the main thread
                work.errors.append(error)
        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread

    # ----------------------------------------------------------------- one cycle

    def run_cycle(self, cycle: int) -> None:
        self.cycle = cycle
        rng = self.rng
        work = CycleWork(cycle)
        before = self.v.status()
        entries_before = before["entries"]

        # Choices for this cycle, all from the seeded generator.
        writer_seeds = [rng.getrandbits(64) for _ in range(V_WRITERS + 3)]
        work.check_rng = random.Random(rng.getrandbits(64))
        v_import_rows = None
        if rng.random() < 0.25:
            v_import_rows = self.import_size(rng)
        v_import_delay = rng.uniform(0, 0.15)
        s_import_rows = None
        if self.slices.strict and rng.random() < 0.1:
            s_import_rows = self.import_size(rng)
        s_import_at = rng.uniform(0, 0.3)
        mode = rng.choices(["timer", "on-write"], weights=[9, 1])[0]
        if mode == "on-write":
            # A batch of many pages (~100 bytes a row), written with one write(2): the kill may tear it.
            v_import_rows, v_import_delay = rng.randint(900, 1200), rng.uniform(0, 0.05)
        delay = rng.uniform(0, KILL_DELAY_MAX_S)
        startup_kill = rng.random() < 0.1
        startup_delay = rng.uniform(0, 0.25)
        # Now and then V comes back cut off from S for one cycle, so that both write the
        # shared keys unseen by each other: conflicts, merged when they meet again.
        partition = rng.random() < 0.12

        v_slice = self.slices.take(v_import_rows) if v_import_rows is not None else None
        s_slice = self.slices.take(s_import_rows) if s_import_rows is not None and mode != "on-write" else None
        stop_v, stop_s = threading.Event(), threading.Event()
        v_threads: list[threading.Thread] = []
        s_threads: list[threading.Thread] = []
        watcher = None
        if mode == "on-write":
            # Only the large import and the watcher run, so that nothing else competes for
            # the 2 cores and the watcher sees the log grow while the write is in progress.
            watcher = self.start_growth_watcher()
        else:
            v_threads += [self.guarded(work, self.v_writer, work, t, random.Random(writer_seeds[t]), stop_v)
                          for t in range(V_WRITERS)]
            v_threads.append(self.guarded(work, self.shared_writer, work, self.v,
                                          random.Random(writer_seeds[V_WRITERS + 2]), stop_v))
            s_threads += [
                self.guarded(work, self.s_writer, work, random.Random(writer_seeds[V_WRITERS]), stop_s, s_slice,
                             s_import_at),
                self.guarded(work, self.shared_writer, work, self.s, random.Random(writer_seeds[V_WRITERS + 1]),
                             stop_s),
            ]
        if v_slice is not None:
            v_threads.append(self.guarded(work, self.v_importer, work, v_slice, v_import_delay))

        # Kill V while that work is in flight.
        t_start = time.monotonic()
        if watcher is not None:
            self.finish_growth_watcher(watcher)  # V is dead (not reaped: its pid cannot be reused)
            self.stats.kills_growth += 1
        else:
            time.sleep(delay)
            self.stats.kills_timer += 1
        self.v.sigkill()
        self.stats.kills += 1
        stop_v.set()
        for thread in v_threads:
            thread.join(CLI_TIMEOUT_S + 5)
        self.raise_worker_errors(work)
        self.note_acked(work)

        # Offline: what V's log holds, before anything can sync into it again.
        t_killed = time.monotonic()
        s_status = self.s.status()
        verify_now = cycle % self.args.verify_every == 0 or cycle == self.args.cycles
        verified: dict = {}
        if verify_now:
            verified = self.verify_offline("after SIGKILL")
            self.check_offline(verified, s_status)

        if startup_kill:
            # A second kill while V starts (recovery, binding, first sessions).
            self.v.spawn(partition)
            time.sleep(startup_delay)
            self.v.sigkill()
            self.stats.kills += 1
            self.stats.kills_startup += 1
            self.count_torn_tails(verified, required=False)
            if verify_now:
                verified = self.verify_offline("after a SIGKILL during start")
                self.check_offline(verified, self.s.status())

        t_verified = time.monotonic()
        self.v.spawn(partition)
        status = self.v.wait_ready()
        t_ready = time.monotonic()
        self.stats.partitioned_starts += int(partition)
        self.count_torn_tails(verified)
        stop_s.set()
        for thread in s_threads:
            thread.join(CLI_TIMEOUT_S + 5)
        self.raise_worker_errors(work)

        self.check_after_restart(work, status, entries_before)
        t_checked = time.monotonic()
        if self.args.verbose:
            acked = sum(1 for w in work.writes if w.acked)
            self.note(f"cycle {cycle}: kill {mode}{' +startup' if startup_kill else ''}"
                      f"{', restarted partitioned' if partition else ''}, {len(work.writes)} writes to V "
                      f"({acked} acknowledged), import {work.import_slice.rows if work.import_slice else '-'} rows, "
                      f"V entries {status['entries']}; seconds: work {t_killed - t_start:.2f}, verify "
                      f"{t_verified - t_killed:.2f}, restart {t_ready - t_verified:.2f}, checks {t_checked - t_ready:.2f}")

    def note_acked(self, work: CycleWork) -> None:
        """Raises the highest acknowledged seq of V's own origin with this cycle's writes."""
        for w in list(work.writes):
            if not w.acked or w.unchanged:
                continue
            origin, seq = parse_dot(w.dot)
            if not self.v.node_id.startswith(origin):
                raise self.fail(f"V acknowledged {w.describe()} with a dot of another origin "
                                f"(V is {self.v.node_id[:12]})")
            if seq > self.max_acked_seq:
                self.max_acked_seq, self.max_acked_write = seq, w

    @staticmethod
    def import_size(rng: random.Random) -> int:
        """Mostly small slices; one in ten of many pages."""
        return rng.randint(200, 600) if rng.random() < 0.1 else rng.randint(10, 100)

    def raise_worker_errors(self, work: CycleWork) -> None:
        for error in work.errors:
            raise error

    def start_growth_watcher(self) -> subprocess.Popen:
        """Starts a process that SIGKILLs V as soon as V's log grows by a page or more
        between two looks (a large batch being written: an import or a peer batch), so
        the kill may land inside that write(2); after 3 s it kills V anyway. A process of
        its own, because in this one the worker threads hold the GIL for milliseconds."""
        proc = subprocess.Popen(
            [sys.executable, "-c", GROWTH_WATCHER, str(self.v.log_path_entries()), str(self.v.proc.pid), "3"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        REGISTRY.add(proc)
        if proc.stdout.readline().strip() != "ready":
            raise SetupError("the growth watcher did not start")
        return proc

    def finish_growth_watcher(self, proc: subprocess.Popen) -> None:
        out, _ = proc.communicate(timeout=30)
        REGISTRY.discard(proc)
        if proc.returncode != 0:
            raise SetupError(f"the growth watcher exited {proc.returncode}")
        if out.strip() not in ("", "0"):
            self.stats.growth_triggered += 1

    # ----------------------------------------------------------------- checks

    def verify_offline(self, when: str) -> dict:
        result = self.cli.run(["verify", "--data-dir", str(self.v.data_dir), "--json"])
        if result.rc not in (0, 4):
            raise self.fail(f"`tradesync verify` of V's data dir {when} exited {result.rc}: {result.err_line()}")
        try:
            report = result.json()
        except json.JSONDecodeError:
            raise self.fail(f"V's log is damaged {when} (not a torn tail): `tradesync verify` exited {result.rc}: "
                            f"{result.err.strip()}") from None
        if result.rc == 4 and not (report.get("torn_tail_bytes", 0) > 0 and "torn tail" in result.err):
            raise self.fail(f"V's log is damaged {when}: {result.err.strip()}")
        return report

    def check_offline(self, report: dict, s_status: dict) -> None:
        held = report["vector"].get(self.v.node_id, 0)
        if held < self.max_acked_seq:
            w = self.max_acked_write
            raise self.fail(
                f"acknowledged write lost: V's log (tradesync verify, offline after SIGKILL) holds its own origin "
                f"{self.v.node_id[:12]} only up to seq {held}, but seq {self.max_acked_seq} was acknowledged "
                f"({w.describe() if w else '?'}, cycle {w.cycle if w else '?'})")
        sent = s_status["vector"].get(self.v.node_id, 0)
        if sent > held:
            raise self.fail(
                f"V's log holds its own origin up to seq {held}, but S already received seq {sent} from V: "
                f"V sent entries that its log does not hold after SIGKILL")

    def count_torn_tails(self, verified: dict, required: bool = True) -> None:
        """Counts the torn tails this start cut; when verify saw one and `required`, the
        start must have cut exactly that many bytes (a start killed early may not have)."""
        text = self.v.start_log()
        cuts = text.count("cut torn tail")
        self.stats.torn_tails += cuts
        if verified.get("torn_tail_bytes", 0) > 0 and (required or cuts):
            expected = f"cut torn tail of {verified['torn_tail_bytes']} bytes"
            if expected not in text:
                raise self.fail(f"verify saw a torn tail of {verified['torn_tail_bytes']} bytes, but the restart "
                                f"did not log \"{expected}\"; its stderr:\n" + indent(text))
            self.stats.torn_bytes += verified["torn_tail_bytes"]

    def check_after_restart(self, work: CycleWork, status: dict, entries_before: int) -> None:
        v_id = self.v.node_id
        held = status["vector"].get(v_id, 0)
        if held < self.max_acked_seq:
            raise self.fail(f"after restart V's vector holds its origin up to seq {held}, below the acknowledged "
                            f"seq {self.max_acked_seq} ({self.max_acked_write.describe()})")

        acked = [w for w in work.writes if w.acked and not w.unchanged]
        self.stats.v_acked += len(acked)
        self.stats.v_unknown += sum(1 for w in work.writes if not w.acked)
        self.stats.v_puts += sum(1 for w in work.writes if w.op == "put")
        self.stats.v_deletes += sum(1 for w in work.writes if w.op == "delete")

        # 1. Every acknowledged write is in V's log, with its dot and content. They were
        # appended after the cycle began, so they lie in the log's last (entries now -
        # entries then) records; sync from S may append more meanwhile, hence the margin.
        if acked:
            by_dot: dict[str, dict] = {}
            for margin in (200, 5000):
                limit = self.v.status()["entries"] - entries_before + margin
                result = self.cli.run(["log", "--limit", str(limit), "--control", str(self.v.control), "--json"])
                if result.rc != 0:
                    raise self.fail(f"`tradesync log` on V exited {result.rc}: {result.err_line()}")
                by_dot = {entry["dot"]: entry for entry in result.json()}
                if all(w.dot in by_dot for w in acked):
                    break
            for w in acked:
                entry = by_dot.get(w.dot)
                if entry is None:
                    raise self.fail(f"acknowledged write missing from V's log after restart: {w.describe()} "
                                    f"(V's vector: {held} for its origin)")
                if entry["key"] != w.key or entry["op"] != w.op or (
                        w.op == "put" and norm_values(entry["values"]) != norm_values(w.values)):
                    raise self.fail(f"V's log holds different content under an acknowledged dot: {w.describe()}; "
                                    f"the log has {entry['op']} {entry['key']} {entry.get('values')}")
                self.stats.acked_checked += 1

        # 2. Every key V owns shows its last acknowledged value or a later unacknowledged one.
        result = self.cli.run(["query", "--reporter", V_REPORTER, "--include-deleted", "--control",
                               str(self.v.control), "--json"])
        if result.rc != 0:
            raise self.fail(f"`tradesync query` on V exited {result.rc}: {result.err_line()}")
        records = {record["key"]: record for record in result.json()}
        unknown_keys = set(records) - set(self.v_model)
        if unknown_keys:
            raise self.fail(f"V holds keys nobody wrote: {sorted(unknown_keys)[:5]}")
        per_key: dict[str, list[Write]] = {}
        for w in work.writes:
            if w.key in self.v_model:
                per_key.setdefault(w.key, []).append(w)
        for key in self.v_model:
            record = records.get(key)
            observed = state_of_record(record)
            if record is not None and record["conflict"]:
                raise self.fail(f"key {key} (written only by V) is in conflict: {record['siblings']}")
            writes = per_key.get(key, [])
            last_acked = max((i for i, w in enumerate(writes) if w.acked), default=-1)
            if last_acked >= 0:
                allowed = {writes[last_acked].state(): f"its last acknowledged write ({writes[last_acked].describe()})"}
            else:
                allowed = {self.v_model[key]: "its state before this cycle"}
            for w in writes[last_acked + 1:]:
                allowed.setdefault(w.state(), f"an unacknowledged later write ({w.describe()})")
            if observed not in allowed:
                lines = "\n".join(f"    {w.describe()}" for w in writes) or "    (none)"
                raise self.fail(f"key {key} shows {show_state(observed)} after restart; allowed: "
                                f"{'; or '.join(f'{show_state(s)} = {why}' for s, why in allowed.items())}\n"
                                f"  writes to {key} in this cycle, in order:\n{lines}")
            if last_acked >= 0 and observed == writes[last_acked].state():
                w = writes[last_acked]
                winner_dots = record["siblings"][0]["dots"] if record else []
                if w.op == "put" and w.dot not in winner_dots:
                    raise self.fail(f"key {key} shows the acknowledged values but under dots {winner_dots}, "
                                    f"not the acknowledged dot: {w.describe()}")
            elif writes and observed != self.v_model[key]:
                self.stats.unknown_survived += 1
            self.stats.keys_checked += 1
            self.v_model[key] = observed

        # One `get` as well, cross-checked with the query.
        if per_key:
            key = work.check_rng.choice(sorted(per_key))
            result = self.cli.run(["get", key, "--control", str(self.v.control), "--json"])
            shown = state_of_record(result.json()) if result.rc == 0 else ABSENT
            if result.rc not in (0, 1) or shown != self.v_model[key]:
                raise self.fail(f"`tradesync get {key}` (exit {result.rc}) shows {show_state(shown)}, the query "
                                f"showed {show_state(self.v_model[key])}")

        # Conflicts on the keys both nodes write (sibling merges across crashes).
        result = self.cli.run(["conflicts", "--control", str(self.v.control), "--json"])
        if result.rc == 0:
            self.stats.conflicts_seen += len(result.json())

        # 3. The cycle's import: acknowledged ⇒ held whole; unacknowledged ⇒ all or nothing.
        if work.import_slice is not None:
            self.check_import(work)

    def reimport(self, node: Node, chunk: Slice) -> dict:
        result = self.cli.run(["import", str(chunk.path), "--skip-invalid", "--control", str(node.control), "--json"])
        if result.rc != 0:
            raise self.fail(f"re-import of {chunk.path} into {node.name} exited {result.rc}: {result.err_line()}")
        return result.json()

    def check_import(self, work: CycleWork) -> None:
        chunk, first = work.import_slice, work.import_result
        acked = first is not None and first.rc == 0
        if first is not None and first.rc == -signal.SIGPIPE:
            self.stats.cli_sigpipe += 1
        if first is not None and first.rc not in (0, 1, *RC_NODE_GONE):
            raise self.fail(f"import of {chunk.path} into V exited {first.rc}: {first.err_line()}")
        again = self.reimport(self.v, chunk)
        if acked:
            self.stats.v_imports_acked += 1
            self.stats.rows_imported += first.json()["written"]
            if again["written"] != 0:
                raise self.fail(
                    f"acknowledged import lost: {chunk.path} ({chunk.rows} rows) was acknowledged by V "
                    f"({first.json()['written']} written), but importing it again after the restart wrote "
                    f"{again['written']} records ({again['unchanged']} unchanged)")
        else:
            if again["written"] == 0:
                self.stats.v_imports_unknown_landed += 1
            else:
                self.stats.v_imports_unknown_lost += 1
                self.stats.rows_imported += again["written"]
            if chunk.strict and again["written"] > 0 and again["unchanged"] > 0:
                message = (
                    f"unacknowledged import landed partially: {chunk.path} ({chunk.rows} rows, fresh keys) was "
                    f"interrupted by SIGKILL (exit {first.rc if first else '?'}); importing it again wrote "
                    f"{again['written']} and found {again['unchanged']} already held, but an import is one append "
                    f"that lands whole or not at all")
                self.stats.partial_imports += 1
                if not self.args.allow_partial_import:
                    raise self.fail(message)
                self.note(f"WARNING cycle {self.cycle} (seed {self.seed}): {message} (--allow-partial-import)")
        self.imported.append(chunk)

    def wait_converged(self, why: str, count: bool = True) -> tuple[dict, dict]:
        start = time.monotonic()
        deadline = start + CONVERGE_TIMEOUT_S
        keys = ("digest", "vector", "records", "keys", "conflicts", "tombstones", "entries")
        while True:
            v, s = self.v.status(), self.s.status()
            if all(v[k] == s[k] for k in keys):
                if count:
                    self.stats.convergences += 1
                    self.stats.converge_s_max = max(self.stats.converge_s_max, time.monotonic() - start)
                return v, s
            if time.monotonic() > deadline:
                diff = "\n".join(f"    {k}: V {v[k]!r}  S {s[k]!r}" for k in keys if v[k] != s[k])
                peers = f"    V peers: {v['peers']}\n    S peers: {s['peers']}"
                raise self.fail(f"V and S did not converge within {CONVERGE_TIMEOUT_S:.0f} s ({why}):\n{diff}\n{peers}")
            time.sleep(0.1)

    def heal(self) -> None:
        """Restarts V with its peer (SIGTERM, which must exit 0) when it runs partitioned."""
        if not self.v.partitioned:
            return
        code = self.v.sigterm()
        if code != 0:
            raise self.fail(f"node V did not stop cleanly on SIGTERM (exit {code}); stderr:\n"
                            + indent(self.v.start_log()))
        self.v.spawn(False)
        self.v.wait_ready()
        self.stats.heal_restarts += 1

    def check_converged(self, why: str) -> None:
        self.heal()
        v, s = self.wait_converged(why)
        self.stats.conflicts_seen += v["conflicts"]
        for node in (self.v, self.s):
            result = self.cli.run(["query", "--reporter", S_REPORTER, "--include-deleted", "--control",
                                   str(node.control), "--json"])
            if result.rc != 0:
                raise self.fail(f"`tradesync query` on {node.name} exited {result.rc}: {result.err_line()}")
            records = {record["key"]: record for record in result.json()}
            for key, expected in self.s_model.items():
                observed = state_of_record(records.get(key))
                if observed != expected:
                    raise self.fail(f"key {key} (written only by S, every write acknowledged) shows "
                                    f"{show_state(observed)} on {node.name}, expected {show_state(expected)}")
        result = self.cli.run(["query", "--reporter", V_REPORTER, "--include-deleted", "--control",
                               str(self.s.control), "--json"])
        records = {record["key"]: record for record in result.json()} if result.rc == 0 else {}
        for key, expected in self.v_model.items():
            observed = state_of_record(records.get(key))
            if observed != expected:
                raise self.fail(f"key {key} shows {show_state(observed)} on S but {show_state(expected)} on V "
                                f"although their digests are equal")

    # ----------------------------------------------------------------- run

    def first_start_kills(self, attempts: int) -> None:
        """Kills V during its very first start (fresh data dir: node key, log header, socket),
        then restarts it: the restart must succeed. Each attempt starts from an empty dir."""
        rng = random.Random(self.rng.getrandbits(64))
        for attempt in range(1, attempts + 1):
            shutil.rmtree(self.v.data_dir, ignore_errors=True)
            self.v.spawn()
            time.sleep(rng.uniform(0, 0.12))
            self.v.sigkill()
            self.stats.kills += 1
            self.stats.kills_first_start += 1
            key = self.v.data_dir / "node.key"
            key_bytes = key.stat().st_size if key.exists() else None
            self.v.spawn()
            try:
                self.v.wait_ready()
            except HarnessFailure as error:
                raise self.fail(f"first-start kill {attempt} of {attempts}: V was killed during its first start "
                                f"(node.key then held {key_bytes} bytes) and cannot start again: {error}") from None
            self.v.sigkill()
        shutil.rmtree(self.v.data_dir, ignore_errors=True)

    def run(self) -> int:
        self.note(f"binaries {self.args.bin_dir}, work dir {self.work}, import data: {self.slices.source}")
        self.s.spawn()
        try:
            self.s.wait_ready()
        except HarnessFailure as error:
            raise SetupError(str(error)) from None
        self.first_start_kills(self.args.first_start_kills)
        self.v.spawn()
        try:
            self.v.wait_ready()
        except HarnessFailure as error:
            raise SetupError(str(error)) from None
        self.note(f"S {self.s.node_id[:12]} at {self.s.listen}, V {self.v.node_id[:12]} at {self.v.listen}")
        progress_every = max(1, self.args.cycles // 20)
        for cycle in range(1, self.args.cycles + 1):
            self.run_cycle(cycle)
            if self.args.converge_every and cycle % self.args.converge_every == 0 and cycle != self.args.cycles:
                self.check_converged(f"checkpoint after cycle {cycle}")
            if not self.args.verbose and (cycle % progress_every == 0 or cycle == self.args.cycles):
                self.note(f"cycle {cycle}/{self.args.cycles}: {self.stats.kills} kills, "
                          f"{self.stats.acked_checked} acknowledged writes checked, {self.stats.torn_tails} torn "
                          f"tails cut, {time.monotonic() - self.started:.0f} s")

        # Final checks: converge, every imported slice is held, converge again, stop, verify.
        self.cycle = self.args.cycles
        self.check_converged("final")
        for chunk in self.imported:
            if chunk.strict:
                again = self.reimport(self.v, chunk)
                if again["written"] != 0:
                    raise self.fail(f"at the end, importing {chunk.path} into V again wrote {again['written']} "
                                    f"records: an imported slice was lost")
        v, s = self.wait_converged("final, after the re-imports", count=False)
        self.stopping = True
        for node, status in ((self.v, v), (self.s, s)):
            code = node.sigterm()
            if code != 0:
                raise self.fail(f"node {node.name} did not stop cleanly on SIGTERM (exit {code}); stderr:\n"
                                + indent(node.start_log()))
            result = self.cli.run(["verify", "--data-dir", str(node.data_dir), "--json"])
            if result.rc != 0:
                raise self.fail(f"`tradesync verify` of {node.name}'s data dir after a clean stop exited "
                                f"{result.rc}: {result.err.strip()}")
            report = result.json()
            if report["digest"] != status["digest"] or report["entries"] != status["entries"]:
                raise self.fail(f"`tradesync verify` of {node.name} shows digest {report['digest']} and "
                                f"{report['entries']} entries; its status showed {status['digest']} and "
                                f"{status['entries']}")
        st = self.stats
        wall = time.monotonic() - self.started
        print(f"crash_harness: OK seed={self.seed} cycles={self.args.cycles} kills={st.kills} "
              f"(timer {st.kills_timer}, on-write {st.kills_growth} of which {st.growth_triggered} caught a write, "
              f"during-start {st.kills_startup}, during-first-start {st.kills_first_start}) partitioned_restarts={st.partitioned_starts} "
              f"acked_writes_checked={st.acked_checked} (V writes {st.v_puts} puts + {st.v_deletes} deletes, "
              f"{st.v_unknown} unacknowledged, {st.unknown_survived} of those survived) "
              f"imports={st.v_imports + st.s_imports} (V {st.v_imports}: {st.v_imports_acked} acknowledged, "
              f"{st.v_imports_unknown_landed} unacknowledged-landed, {st.v_imports_unknown_lost} unacknowledged-not-"
              f"landed; S {st.s_imports}) entries V={v['entries']} S={s['entries']} records={v['records']} "
              f"conflicts_seen={st.conflicts_seen} torn_tails_cut={st.torn_tails} ({st.torn_bytes} bytes) "
              f"converged={st.convergences}x (max {st.converge_s_max:.1f} s) "
              f"cli_killed_by_sigpipe={st.cli_sigpipe} "
              + (f"PARTIAL_IMPORTS={st.partial_imports} " if st.partial_imports else "")
              + f"wall={wall:.1f}s", flush=True)
        return EXIT_OK


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="crash_harness.py",
        description="SIGKILL a tradesyncd at random moments and check that nothing acknowledged is lost.",
        epilog="Short form (CI): --bin .build/debug --cycles 50. Long form: --bin .build/release --cycles 1000 --verify-every 20.")
    parser.add_argument("--bin", dest="bin_dir", default=str(REPO_ROOT / ".build" / "debug"),
                        help="directory holding tradesyncd and tradesync (default: %(default)s)")
    parser.add_argument("--cycles", type=int, default=50, help="kill/restart cycles (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="seed of every random choice (default: random)")
    parser.add_argument("--work", default=None, help="parent directory of the run's work dir (default: temp dir)")
    parser.add_argument("--data", default=None, help="trade CSV to import slices of (default: generated rows)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (always kept on failure)")
    parser.add_argument("--converge-every", type=int, default=10,
                        help="check V/S convergence every K cycles, 0 for only at the end (default: %(default)s)")
    parser.add_argument("--verify-every", type=int, default=1,
                        help="run `tradesync verify` on the killed node's data dir every K cycles; it replays "
                             "the whole log, so the long form uses 20 (default: %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="one line per cycle")
    parser.add_argument("--first-start-kills", type=int, default=3,
                        help="before the cycles, kill V this many times during its first start on an empty data "
                             "dir and restart it (default: %(default)s)")
    parser.add_argument("--allow-partial-import", action="store_true",
                        help="warn instead of failing when an unacknowledged import survives SIGKILL only in part")
    args = parser.parse_args(argv)  # usage errors exit 2 (EXIT_SETUP), --help exits 0
    if args.cycles < 1:
        parser.error("--cycles must be at least 1")
    if args.first_start_kills < 0:
        parser.error("--first-start-kills must be 0 or more")
    if args.verify_every < 1:
        parser.error("--verify-every must be at least 1")
    if args.converge_every < 0:
        parser.error("--converge-every must be 0 or more")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    return args


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exit_:
        return EXIT_SETUP if exit_.code else EXIT_OK
    print(f"crash_harness: seed {args.seed}", flush=True)

    def on_signal(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a shell may start us ignoring it
        signal.signal(signum, on_signal)

    bin_dir = Path(args.bin_dir)
    for name in ("tradesyncd", "tradesync"):
        if not os.access(bin_dir / name, os.X_OK):
            print(f"crash_harness: {bin_dir / name} is missing or not executable (build first, or pass --bin DIR)",
                  file=sys.stderr)
            return EXIT_SETUP
    if args.data and not Path(args.data).is_file():
        print(f"crash_harness: --data {args.data}: no such file", file=sys.stderr)
        return EXIT_SETUP
    if args.data and args.data.endswith(".json"):
        print(f"crash_harness: --data {args.data}: slices need a CSV file", file=sys.stderr)
        return EXIT_SETUP
    try:
        parent = Path(args.work) if args.work else None
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"crash_harness-{args.seed}-", dir=parent)).resolve()
    except OSError as error:
        print(f"crash_harness: cannot create the work dir: {error}", file=sys.stderr)
        return EXIT_SETUP

    harness = None
    code = EXIT_FAIL
    keep = args.keep
    try:
        harness = Harness(args, bin_dir, work)
        code = harness.run()
    except HarnessFailure as error:
        keep = True
        print(f"crash_harness: FAIL {harness.failure_text(error) if harness else error}", file=sys.stderr)
        if harness is not None:
            print(f"crash_harness: V's stderr (last start):\n{indent(harness.v.start_log(), limit=30)}", file=sys.stderr)
            print(f"crash_harness: replay: {harness.replay_command()}", file=sys.stderr)
        print(f"crash_harness: work dir kept: {work} (seed {args.seed})", file=sys.stderr)
        code = EXIT_FAIL
    except SetupError as error:
        keep = True
        print(f"crash_harness: setup error (seed {args.seed}): {error}", file=sys.stderr)
        print(f"crash_harness: work dir kept: {work}", file=sys.stderr)
        code = EXIT_SETUP
    except (KeyboardInterrupt, Interrupted):
        print(f"crash_harness: interrupted (seed {args.seed}); stopping the daemons", file=sys.stderr)
        code = EXIT_INTERRUPTED
    finally:
        # A second signal must not abort the cleanup and leave daemons running.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        REGISTRY.kill_all()
        if harness is not None:
            for node in (harness.v, harness.s):
                if node.proc is not None and node.proc.poll() is None:
                    node.proc.kill()
                    node.proc.wait()
            for extra in harness.extra_dirs:
                shutil.rmtree(extra, ignore_errors=True)
        if keep:
            if code == EXIT_OK:
                print(f"crash_harness: work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
