"""The comparison tools: rsync (daemon), Syncthing (two instances), PostgreSQL logical
replication (two clusters). Each function or `once()` call returns one Sample; setup is
never inside the timed part. Incremental comparisons share the shape of
tradesync.Incremental: __init__(link, base_csv, work, ...), setup(), once(add_csv), close()."""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from .common import (BenchError, Proc, Sample, append_rows, count_lines, fresh_dir, free_port,
                     run, sha256_file, wait_until)
from .net import Link, Site, WireCounter


def wait_port(site: Site, port: int, tool: str, what: str, timeout: float = 30, proc: Proc = None):
    """Poll until something accepts TCP connections at site.host:port (inside the site)."""
    if not site.wrap:
        def ok():
            try:
                with socket.create_connection((site.host, port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until(ok, timeout, f"{tool}: {what} never listened on {site.host}:{port}", proc=proc)
        return
    code = ("import socket,sys,time\n"
            f"d=time.time()+{timeout}\n"
            "while time.time()<d:\n"
            "  try:\n"
            f"    socket.create_connection(('{site.host}',{port}),0.5).close(); sys.exit(0)\n"
            "  except OSError: time.sleep(0.01)\n"
            "sys.exit(1)\n")
    p = subprocess.run(site.cmd("python3", "-c", code), capture_output=True)
    if p.returncode != 0:
        raise BenchError(f"{tool}: {what} never listened on {site.host}:{port} within {timeout:.0f} s"
                         + (f"; see {proc.log}" if proc else ""))


# ==================================================================== rsync

class RsyncDaemon:
    """rsync --daemon at a site, read-only module `mod` at `path` (the source side: B pulls)."""

    def __init__(self, site: Site, path: Path, work: Path, tool: str):
        self.site, self.path, self.work, self.tool = site, Path(path), Path(work), tool
        self.port = free_port()
        conf = self.work / "rsyncd.conf"
        conf.write_text(
            f"use chroot = no\nuid = root\ngid = root\nmax connections = 4\n"
            f"pid file = {self.work / 'rsyncd.pid'}\nlog file = {self.work / 'rsyncd.log'}\n"
            f"[mod]\n  path = {self.path}\n  read only = yes\n")
        self.proc = Proc(site.cmd("rsync", "--daemon", "--no-detach", f"--config={conf}",
                                  f"--address={site.host}", f"--port={self.port}"),
                         self.work / "rsyncd.out", tool)
        try:
            wait_port(site, self.port, tool, "rsync daemon at A", proc=self.proc)
        except BaseException:
            self.proc.stop()
            raise

    def url(self, name: str = "") -> str:
        return f"rsync://{self.site.host}:{self.port}/mod/{name}"

    def close(self):
        self.proc.stop()


def _rsync_pull(link: Link, daemon: RsyncDaemon, name: str, dest: Path, opts: list, tool: str,
                step: str) -> tuple[float, int]:
    """Run the client at B; (wall seconds of the client, wire bytes)."""
    cmd = link.b.cmd("rsync", *opts, daemon.url(name), str(dest) + "/")
    with WireCounter(link, [daemon.port], daemon.work, tool) as wc:
        t = time.perf_counter()
        run(cmd, tool, step)
        dt = time.perf_counter() - t
    return dt, wc.bytes


def rsync_initial(link: Link, csv: Path, work: Path, compress: bool) -> Sample:
    """B pulls the file from an rsync daemon at A into an empty directory.
    Time: wall time of the rsync client at B. Bytes: TCP payload on the daemon port."""
    tool = "rsync-z" if compress else "rsync"
    work = fresh_dir(Path(work) / f"{tool}-initial-{link.name}")
    src, dst = work / "a", work / "b"
    src.mkdir(), dst.mkdir()
    os.link(csv, src / "trade.csv") if _same_fs(csv, src) else shutil.copy2(csv, src / "trade.csv")
    d = RsyncDaemon(link.a, src, work, tool)
    try:
        dt, wire = _rsync_pull(link, d, "trade.csv", dst, ["-t"] + (["-z"] if compress else []),
                               tool, "initial pull by B")
    finally:
        d.close()
    if sha256_file(dst / "trade.csv") != sha256_file(csv):
        raise BenchError(f"{tool}: B's copy differs from A's file after the initial sync")
    shutil.rmtree(work, ignore_errors=True)
    return Sample(dt, wire, {"file_bytes": csv.stat().st_size})


def _same_fs(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


class RsyncIncremental:
    """A's file grows by 100 rows (appended, fsynced: the write is acknowledged), then B pulls
    it. mode "plain": rsync's delta algorithm (remote transfer, no -W); "append":
    rsync --append (sends only the bytes past B's length). compress adds -z."""

    def __init__(self, link: Link, base_csv: Path, work: Path, mode: str = "plain",
                 compress: bool = False):
        assert mode in ("plain", "append")
        self.link, self.base_csv, self.mode, self.compress = link, Path(base_csv), mode, compress
        self.tool = {"plain": "rsync", "append": "rsync-append"}[mode] + ("-z" if compress else "")
        self.work = Path(work) / f"{self.tool}-incr-{link.name}"
        self.daemon = None

    def setup(self):
        fresh_dir(self.work)
        self.src, self.dst = self.work / "a", self.work / "b"
        self.src.mkdir(), self.dst.mkdir()
        shutil.copy2(self.base_csv, self.src / "trade.csv")
        shutil.copy2(self.base_csv, self.dst / "trade.csv")
        self.daemon = RsyncDaemon(self.link.a, self.src, self.work, self.tool)

    def once(self, add_csv: Path) -> Sample:
        append_rows(self.src / "trade.csv", add_csv)
        opts = ["-t"] + (["-z"] if self.compress else []) + (["--append"] if self.mode == "append" else [])
        dt, wire = _rsync_pull(self.link, self.daemon, "trade.csv", self.dst, opts, self.tool,
                               "incremental pull by B")
        if sha256_file(self.dst / "trade.csv") != sha256_file(self.src / "trade.csv"):
            raise BenchError(f"{self.tool}: B's copy differs from A's file after the incremental sync")
        return Sample(dt, wire, {"file_bytes": (self.src / "trade.csv").stat().st_size})

    def close(self):
        if self.daemon:
            self.daemon.close()
        shutil.rmtree(self.work, ignore_errors=True)
