"""Shared pieces: samples and repetitions, processes, ports, data files, fsync latency."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence


class BenchError(RuntimeError):
    """A failure of one tool at one step; the message names both."""


@dataclass
class Sample:
    seconds: float
    wire_bytes: Optional[int] = None
    extra: dict = field(default_factory=dict)


def measure(fn: Callable[[int], Sample], reps: int, warmup: int = 1) -> list[Sample]:
    """Call fn(i) for i = 0 .. warmup+reps-1; return the samples after the warm-up ones.

    fn receives the call index so that a repetition can pick its own input (the
    incremental case appends the next 100 rows on every call)."""
    out = []
    for i in range(warmup + reps):
        s = fn(i)
        if i >= warmup:
            out.append(s)
    return out


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summary(samples: Sequence[Sample], key=lambda s: s.seconds):
    """(median, min, max) of key over the samples."""
    vals = [key(s) for s in samples if key(s) is not None]
    if not vals:
        return (None, None, None)
    return (statistics.median(vals), min(vals), max(vals))


# ---------------------------------------------------------------- processes

def run(cmd: Sequence[str], tool: str, step: str, *, timeout: float = 3600, check: bool = True,
        input: Optional[str] = None, env=None, cwd=None) -> subprocess.CompletedProcess:
    """subprocess.run with text output captured and an error naming tool and step."""
    try:
        p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=timeout,
                           input=input, env=env, cwd=cwd)
    except FileNotFoundError as e:
        raise BenchError(f"{tool}: {step}: command not found: {cmd[0]} ({e})") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"{tool}: {step}: timed out after {timeout:.0f} s: {' '.join(map(str, cmd))}") from None
    if check and p.returncode != 0:
        tail = (p.stderr or p.stdout or "").strip().splitlines()[-8:]
        raise BenchError(f"{tool}: {step} failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n    "
                         + "\n    ".join(tail))
    return p


class Proc:
    """A background process in its own process group, output to a log file."""

    def __init__(self, cmd: Sequence[str], log: Path, tool: str, *, env=None, cwd=None):
        self.cmd = list(map(str, cmd))
        self.log = Path(log)
        self.tool = tool
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.log, "ab")
        try:
            self.p = subprocess.Popen(self.cmd, stdout=self._fh, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=cwd)
        except FileNotFoundError:
            self._fh.close()
            raise BenchError(f"{tool}: command not found: {self.cmd[0]}") from None

    @property
    def pid(self):
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def check_alive(self, step: str):
        if not self.alive():
            raise BenchError(f"{self.tool}: {step}: process exited with {self.p.returncode}; see {self.log}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 10):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(5)
        self._fh.close()


def wait_until(pred: Callable[[], object], timeout: float, what: str, interval: float = 0.01,
               proc: Optional[Proc] = None):
    """Poll pred() until it returns a true value; BenchError(what) after timeout seconds.
    `what` should read like "syncthing: B never connected to A (see ...)"."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and not proc.alive():
            raise BenchError(f"{what}: process exited with {proc.p.returncode}; see {proc.log}")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} within {timeout:.0f} s")
        time.sleep(interval)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on host now (ports in a fresh namespace are all free:
    callers pass 127.0.0.1 for those)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- files

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n


def append_rows(dst: Path, add_csv: Path):
    """Append the data rows of add_csv (its header dropped) to dst; fsync it."""
    with open(add_csv, "rb") as f:
        data = f.read()
    if data.startswith(b"reporter,"):
        data = data[data.index(b"\n") + 1:]
    with open(dst, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fresh_dir(path: Path) -> Path:
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


class DataCache:
    """Generated CSV files cached by (rows, seed, skip) under <work>/data-cache."""

    def __init__(self, work: Path, gen: Path, seed: int = 1):
        self.dir = Path(work) / "data-cache"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.gen = Path(gen)
        self.seed = seed
        if not self.gen.is_file():
            raise BenchError(f"data: generator not found at {self.gen} (pass --gen PATH)")

    def path(self, rows: int, skip: int = 0) -> Path:
        """Where `get` keeps the file of `rows` rows after `skip`."""
        return self.dir / f"trade-r{rows}-s{self.seed}-k{skip}.csv"

    def get(self, rows: int, skip: int = 0) -> Path:
        out = self.path(rows, skip)
        if out.exists():
            return out
        tmp = out.with_suffix(".tmp")
        t = time.monotonic()
        run([sys.executable, self.gen, "--rows", rows, "--seed", self.seed, "--skip", skip, "-o", tmp],
            "data", f"generating {rows} rows (skip {skip})")
        os.replace(tmp, out)
        if rows >= 100000:
            print(f"  generated {out.name} in {time.monotonic() - t:.1f} s", flush=True)
        return out

    def add(self, base_rows: int, i: int, n: int = 100) -> Path:
        """The i-th batch of n rows following a base_rows file."""
        return self.get(n, base_rows + n * i)

    def adds(self, base_rows: int, count: int, n: int = 100) -> list[Path]:
        """Batches 0..count-1 of n rows following a base_rows file, as `add` names them.
        Missing ones come from one generator run split into files: the generator's rows
        depend only on their position, and each run replays the rows it skips (a 5M skip
        is ~20 s), so one run instead of one per batch."""
        paths = [self.path(n, base_rows + n * i) for i in range(count)]
        if all(p.exists() for p in paths):
            return paths
        whole = self.dir / f"adds-r{n * count}-s{self.seed}-k{base_rows}.tmp"
        run([sys.executable, self.gen, "--rows", n * count, "--seed", self.seed, "--skip", base_rows, "-o", whole],
            "data", f"generating {count} x {n} rows (skip {base_rows})")
        with open(whole) as f:
            header = f.readline()
            lines = f.readlines()
        if len(lines) != n * count:
            raise BenchError(f"data: {whole} holds {len(lines)} rows, not {n * count}")
        for i, path in enumerate(paths):
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w") as out:
                out.write(header)
                out.writelines(lines[n * i:n * (i + 1)])
            os.replace(tmp, path)
        whole.unlink()
        return paths


def fsync_latency(directory: Path, n: int = 200) -> dict:
    """Median/min/max of n × (4 KiB write + fsync) to one file in directory."""
    path = Path(directory) / ".fsync-probe"
    buf = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    times = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, buf)
            os.fsync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": n}
