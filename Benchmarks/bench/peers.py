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


# ==================================================================== Syncthing

FOLDER_ID = "tsbench"


class SyncthingPair:
    """Two Syncthing instances (A and B) on one link, sharing folder `tsbench`; every
    discovery, relay, NAT, upgrade and reporting feature off, file watcher off, rescans only
    when asked (POST /rest/db/scan), not lowered in priority."""

    def __init__(self, link: Link, work: Path, tool: str = "syncthing"):
        self.link, self.tool = link, tool
        self.work = fresh_dir(Path(work))
        self.nodes = {}
        self.procs = []

    def _generate(self, name: str) -> dict:
        home = self.work / name / "home"
        folder = self.work / name / "folder"
        folder.mkdir(parents=True)
        (folder / ".stfolder").mkdir()
        env = dict(os.environ, STNODEFAULTFOLDER="1", STNOUPGRADE="1")
        p = run(["syncthing", "generate", f"--home={home}"], self.tool, f"generate keys for {name}", env=env)
        m = re.search(r"Device ID:\s*([A-Z0-9-]{63})", p.stdout + p.stderr)
        if not m:
            raise BenchError(f"{self.tool}: no device ID in `syncthing generate` output for {name}")
        return {"name": name, "home": home, "folder": folder, "id": m.group(1),
                "port": free_port(), "gui": free_port(), "apikey": f"tsbench-{name}-{os.getpid()}",
                "site": self.link.a if name == "A" else self.link.b}

    def _write_config(self, me: dict, other: dict):
        path = me["home"] / "config.xml"
        tree = ET.parse(path)
        root = tree.getroot()
        for f in root.findall("folder"):
            root.remove(f)
        for d in root.findall("device"):
            root.remove(d)
        def device(n):
            d = ET.Element("device", id=n["id"], name=n["name"], compression="metadata",
                           introducer="false", skipIntroductionRemovals="false", introducedBy="")
            ET.SubElement(d, "address").text = f"tcp://{n['site'].host}:{n['port']}"
            ET.SubElement(d, "paused").text = "false"
            ET.SubElement(d, "autoAcceptFolders").text = "false"
            return d
        folder = ET.Element("folder", id=FOLDER_ID, label=FOLDER_ID, path=str(me["folder"]),
                            type="sendreceive", rescanIntervalS="3600", fsWatcherEnabled="false",
                            fsWatcherDelayS="10", ignorePerms="false", autoNormalize="true")
        ET.SubElement(folder, "filesystemType").text = "basic"
        for n in (me, other):
            ET.SubElement(folder, "device", id=n["id"], introducedBy="")
        ET.SubElement(folder, "minDiskFree", unit="%").text = "1"
        ET.SubElement(folder, "markerName").text = ".stfolder"
        # config order: folders, then devices, then gui/options
        root.insert(0, folder)
        root.insert(1, device(me))
        root.insert(2, device(other))
        gui = root.find("gui")
        gui.set("enabled", "true")
        gui.set("tls", "false")
        gui.find("address").text = f"{me['site'].host}:{me['gui']}"
        gui.find("apikey").text = me["apikey"]
        opts = root.find("options")
        settings = {
            "listenAddress": f"tcp://{me['site'].host}:{me['port']}",
            "globalAnnounceEnabled": "false", "localAnnounceEnabled": "false",
            "relaysEnabled": "false", "natEnabled": "false", "urAccepted": "-1",
            "autoUpgradeIntervalH": "0", "startBrowser": "false", "crashReportingEnabled": "false",
            "setLowPriority": "false", "announceLANAddresses": "false", "stunServer": "",
            "reconnectionIntervalS": "1", "progressUpdateIntervalS": "-1",
        }
        for k, v in settings.items():
            e = opts.find(k)
            if e is None:
                e = ET.SubElement(opts, k)
            e.text = v
        tree.write(path)

    def start(self):
        a, b = self._generate("A"), self._generate("B")
        self.nodes = {"A": a, "B": b}
        self._write_config(a, b)
        self._write_config(b, a)
        env = dict(os.environ, STNOUPGRADE="1", STNORESTART="1", STNODEFAULTFOLDER="1")
        for n in (a, b):
            log = self.work / f"{n['name'].lower()}.log"
            n["log"] = log
            n["proc"] = Proc(n["site"].cmd("syncthing", "serve", f"--home={n['home']}", "--no-browser",
                                           "--no-restart", "--no-upgrade", f"--logfile={log}"),
                             self.work / f"{n['name'].lower()}.out", self.tool, env=env)
            self.procs.append(n["proc"])
        for n in (a, b):
            wait_until(lambda: self._get(n, "/rest/system/ping", quiet=True), 60,
                       f"{self.tool}: {n['name']}'s REST API never answered (see {n['log']})",
                       interval=0.05, proc=n["proc"])
        wait_until(lambda: self._connected(b, a), 30,
                   f"{self.tool}: B never connected to A (see {a['log']}, {b['log']})",
                   interval=0.02, proc=b["proc"])

    # REST. On loopback the API is reached directly; in a namespace through the site's wrap.
    def _request(self, n: dict, method: str, path: str, quiet=False):
        url = f"http://{n['site'].host}:{n['gui']}{path}"
        if n["site"].wrap:
            p = subprocess.run(n["site"].cmd("curl", "-sf", "-X", method, "-H", f"X-API-Key: {n['apikey']}",
                                             url), capture_output=True, text=True)
            if p.returncode != 0:
                if quiet:
                    return None
                raise BenchError(f"{self.tool}: {method} {path} at {n['name']} failed: {p.stderr.strip()}")
            return json.loads(p.stdout) if p.stdout.strip() else {}
        req = urllib.request.Request(url, method=method, headers={"X-API-Key": n["apikey"]})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
        except OSError as e:
            if quiet:
                return None
            raise BenchError(f"{self.tool}: {method} {path} at {n['name']} failed: {e} (see {n['log']})")
        return json.loads(body) if body.strip() else {}

    def _get(self, n, path, quiet=False):
        return self._request(n, "GET", path, quiet)

    def _connected(self, n, other) -> bool:
        c = self._get(n, "/rest/system/connections", quiet=True)
        return bool(c) and c.get("connections", {}).get(other["id"], {}).get("connected", False)

    def scan(self, name: str = "A"):
        self._request(self.nodes[name], "POST", f"/rest/db/scan?folder={FOLDER_ID}")

    @property
    def ports(self):
        return [self.nodes["A"]["port"], self.nodes["B"]["port"]]

    def wait_file(self, name: str, size: int, digest: str, timeout: float, step: str) -> float:
        """Poll B's copy every 10 ms; return perf_counter() when it first had the expected size
        (Syncthing renames a finished temporary file into place, so the size is final then);
        then check its sha256 (not timed)."""
        path = self.nodes["B"]["folder"] / name
        deadline = time.monotonic() + timeout
        while True:
            try:
                st = path.stat().st_size
            except FileNotFoundError:
                st = -1
            if st == size:
                t_end = time.perf_counter()
                if sha256_file(path) == digest:
                    return t_end
            for n in self.nodes.values():
                n["proc"].check_alive(step)
            if time.monotonic() > deadline:
                raise BenchError(f"{self.tool}: {step}: B's {name} never reached {size} bytes with A's "
                                 f"sha256 within {timeout:.0f} s (size now {st}; see "
                                 f"{self.nodes['A']['log']}, {self.nodes['B']['log']})")
            time.sleep(0.01)

    def close(self):
        for p in self.procs:
            p.stop()
        self.procs = []


def syncthing_initial(link: Link, csv: Path, work: Path, timeout: float = 600) -> Sample:
    """Fresh pair, connected, folders empty. The file is copied into A's folder (not timed);
    the timer starts just before POST /rest/db/scan at A and stops when B's copy has the
    same size (then its sha256 is checked)."""
    pair = SyncthingPair(link, Path(work) / f"syncthing-initial-{link.name}")
    try:
        pair.start()
        shutil.copyfile(csv, pair.nodes["A"]["folder"] / "trade.csv")
        size, digest = csv.stat().st_size, sha256_file(csv)
        with WireCounter(link, pair.ports, pair.work, "syncthing") as wc:
            t0 = time.perf_counter()
            pair.scan("A")
            t1 = pair.wait_file("trade.csv", size, digest, timeout, "initial sync")
        pair.close()
        shutil.rmtree(pair.work, ignore_errors=True)  # kept (with the logs) when a step failed
        return Sample(t1 - t0, wc.bytes, {"file_bytes": size})
    finally:
        pair.close()


class SyncthingIncremental:
    """Pair started and the base file synced in setup(); once(): append the rows to A's file
    (fsynced = acknowledged), start the timer, POST a scan at A at once, stop when B's copy
    has the new size (sha256 checked after)."""

    def __init__(self, link: Link, base_csv: Path, work: Path, timeout: float = 600):
        self.link, self.base_csv, self.timeout = link, Path(base_csv), timeout
        self.work = Path(work) / f"syncthing-incr-{link.name}"
        self.pair = None

    def setup(self):
        self.pair = SyncthingPair(self.link, self.work)
        self.pair.start()
        self.file = self.pair.nodes["A"]["folder"] / "trade.csv"
        shutil.copyfile(self.base_csv, self.file)
        self.pair.scan("A")
        self.pair.wait_file("trade.csv", self.file.stat().st_size, sha256_file(self.file), self.timeout,
                            "syncing the base file in setup")

    def once(self, add_csv: Path) -> Sample:
        append_rows(self.file, add_csv)
        size, digest = self.file.stat().st_size, sha256_file(self.file)
        with WireCounter(self.link, self.pair.ports, self.pair.work, "syncthing") as wc:
            t0 = time.perf_counter()
            self.pair.scan("A")
            t1 = self.pair.wait_file("trade.csv", size, digest, self.timeout, "incremental sync")
        return Sample(t1 - t0, wc.bytes, {"file_bytes": size})

    def close(self):
        if self.pair:
            self.pair.close()
        shutil.rmtree(self.work, ignore_errors=True)


# ==================================================================== PostgreSQL

KEY = ("reporter", "partner", "flow", "hs6", "period")
COLS = KEY + ("value_usd", "net_weight_kg", "qty", "qty_unit")
TABLE_SQL = ("CREATE TABLE trade(reporter text, partner text, flow text, hs6 text, period text, "
             "value_usd numeric, net_weight_kg numeric, qty numeric, qty_unit text, "
             "PRIMARY KEY (reporter, partner, flow, hs6, period));")


def pg_bindir() -> Path:
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not cands:
        raise BenchError("postgres: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
    return cands[-1].parent


def _lit(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _num(v: str) -> str:
    return "NULL" if v == "" else _lit(v) + "::numeric"


def read_rows_last_wins(csv: Path) -> list[list[str]]:
    """Data rows of a CSV, one per key: a key repeated later in the file replaces the earlier row."""
    import csv as csvmod
    rows = {}
    with open(csv, newline="") as f:
        r = csvmod.reader(f)
        header = next(r)
        if header[:len(COLS)] != list(COLS):
            raise BenchError(f"postgres: unexpected header in {csv}: {header}")
        for row in r:
            rows.pop(tuple(row[:5]), None)
            rows[tuple(row[:5])] = row
    return list(rows.values())


def cleanup_stale_pg():
    """Stop and remove clusters left under /tmp/tsbench-pg-* by an interrupted run."""
    for base in Path("/tmp").glob("tsbench-pg-*"):
        for data in base.glob("*/PG_VERSION"):
            subprocess.run(["runuser", "-u", "postgres", "--", str(pg_bindir() / "pg_ctl"), "-D",
                            str(data.parent), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


class PgNode:
    def __init__(self, name: str, site: Site, base: Path, sock: Path, bindir: Path):
        self.name, self.site, self.bindir = name, site, bindir
        self.data = base / name.lower()
        self.sock = sock
        self.port = free_port()
        self.log = base / f"{name.lower()}.log"

    def as_pg(self, *args) -> list:
        return self.site.cmd("runuser", "-u", "postgres", "--", *args)

    def psql_cmd(self, db="bench") -> list:
        return self.as_pg(self.bindir / "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                          "-h", self.sock, "-p", self.port, "-d", db)

    def sql(self, sql: str, step: str, db="bench", timeout=3600) -> str:
        return run(self.psql_cmd(db) + ["-f", "-"], "postgres", f"{step} at {self.name}", input=sql,
                   timeout=timeout).stdout.strip()


class PostgresPair:
    """Two clusters (initdb under /tmp/tsbench-pg-XXXX, owned by postgres), wal_level=logical,
    fsync and synchronous_commit at their defaults (on), TCP only on the link's addresses,
    unix sockets (used by the benchmark's own psql sessions, so not counted) in the work dir."""

    def __init__(self, link: Link, work: Path):
        self.link = link
        self.work = fresh_dir(Path(work))
        self.bindir = pg_bindir()
        self.base = Path(tempfile.mkdtemp(prefix="tsbench-pg-", dir="/tmp"))
        self.started = []
        pg = pwd.getpwnam("postgres")
        os.chown(self.base, pg.pw_uid, pg.pw_gid)
        self.nodes = {}
        for name, site in (("A", link.a), ("B", link.b)):
            sock = self.work / f"sock-{name.lower()}"
            sock.mkdir()
            os.chown(sock, pg.pw_uid, pg.pw_gid)
            self.nodes[name] = PgNode(name, site, self.base, sock, self.bindir)
        self.a, self.b = self.nodes["A"], self.nodes["B"]

    def start(self):
        for n in (self.a, self.b):
            self.start_node(n)

    def start_node(self, n: PgNode):
        run(n.as_pg(self.bindir / "initdb", "-D", n.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--locale=C", "--no-sync"), "postgres", f"initdb for {n.name}")
        with open(n.data / "postgresql.conf", "a") as f:
            f.write(f"\n# tsbench\nport = {n.port}\nlisten_addresses = '{n.site.host}'\n"
                    f"unix_socket_directories = '{n.sock}'\nwal_level = logical\n"
                    "max_wal_senders = 10\nmax_replication_slots = 10\n"
                    "track_commit_timestamp = on\n")
        run(n.as_pg(self.bindir / "pg_ctl", "-D", n.data, "-l", n.log, "-w", "-t", "120", "start"),
            "postgres", f"starting cluster {n.name} (see {n.log})")
        self.started.append(n)
        n.sql("CREATE DATABASE bench;", "create database", db="postgres")
        n.sql(TABLE_SQL, "create table")

    def load_a(self, csv: Path) -> int:
        """Load the CSV into A: staging table in file order, then one row per key, the latest
        row of the file winning. Returns A's row count."""
        cols = ", ".join(COLS)
        self.a.sql(f"""
CREATE UNLOGGED TABLE stage(reporter text, partner text, flow text, hs6 text, period text,
  value_usd text, net_weight_kg text, qty text, qty_unit text, n bigserial);
COPY stage({cols}) FROM {_lit(str(csv))} CSV HEADER;
INSERT INTO trade SELECT DISTINCT ON (reporter, partner, flow, hs6, period)
  reporter, partner, flow, hs6, period, NULLIF(value_usd,'')::numeric,
  NULLIF(net_weight_kg,'')::numeric, NULLIF(qty,'')::numeric, qty_unit
  FROM stage ORDER BY reporter, partner, flow, hs6, period, n DESC;
DROP TABLE stage;
CREATE PUBLICATION p FOR TABLE trade;
""", "loading the CSV")
        return int(self.a.sql("SELECT count(*) FROM trade;", "counting rows"))

    def subscribe_and_wait(self, expected: int, timeout: float = 3600) -> float:
        """CREATE SUBSCRIPTION at B, then a server-side loop at B until the table's sync state
        is 'r' and B's count equals A's. Returns the server clock difference between just
        before CREATE SUBSCRIPTION and the loop's end (one psql session, no process start
        inside the interval)."""
        conn = f"host={self.a.site.host} port={self.a.port} dbname=bench user=postgres"
        out = self.b.sql(f"""
SELECT 'T0 ' || extract(epoch from clock_timestamp());
CREATE SUBSCRIPTION s CONNECTION {_lit(conn)} PUBLICATION p;
DO $$ DECLARE deadline timestamptz := clock_timestamp() + interval '{int(timeout)} s'; BEGIN
  LOOP
    IF (SELECT count(*) > 0 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel) THEN
      EXIT WHEN (SELECT count(*) FROM trade) = {expected};
    END IF;
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'B did not reach state r with {expected} rows within {int(timeout)} s';
    END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT 'T1 ' || extract(epoch from clock_timestamp());
""", "initial table sync", timeout=timeout + 60)
        t = dict(line.split(" ", 1) for line in out.splitlines() if line[:3] in ("T0 ", "T1 "))
        return float(t["T1"]) - float(t["T0"])

    def reset_b(self):
        """A new cluster B. (Reusing B after DROP SUBSCRIPTION is not the same start: its
        logical replication launcher starts workers at most once per
        wal_retrieve_retry_interval, 5 s, which delayed the next subscription by up to 5 s.)"""
        b = self.b
        subprocess.run(b.as_pg(self.bindir / "pg_ctl", "-D", b.data, "-m", "immediate", "-w", "stop"),
                       capture_output=True)
        self.started = [n for n in self.started if n is not b]
        self.a.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots;",
                   "dropping the old subscription's slots")
        shutil.rmtree(b.data, ignore_errors=True)
        b.log.unlink(missing_ok=True)
        self.start_node(b)

    def close(self):
        for n in self.started:
            subprocess.run(n.as_pg(self.bindir / "pg_ctl", "-D", n.data, "-m", "fast", "-w", "stop"),
                           capture_output=True)
        self.started = []
        shutil.rmtree(self.base, ignore_errors=True)


class PostgresInitial:
    """Clusters and A's data in setup(); once(): B drops its subscription and truncates (not
    timed), then CREATE SUBSCRIPTION ... until sync state 'r' and equal counts (timed)."""

    def __init__(self, link: Link, csv: Path, work: Path):
        self.link, self.csv = link, Path(csv)
        self.work = Path(work) / f"postgres-initial-{link.name}"
        self.pair = None

    def setup(self):
        self.pair = PostgresPair(self.link, self.work)
        self.pair.start()
        self.expected = self.pair.load_a(self.csv)
        self.used = False

    def once(self, _i=None) -> Sample:
        if self.used:
            self.pair.reset_b()
        self.used = True
        with WireCounter(self.link, [self.pair.a.port], self.work, "postgres") as wc:
            dt = self.pair.subscribe_and_wait(self.expected)
        return Sample(dt, wc.bytes, {"rows": self.expected})

    def close(self):
        if self.pair:
            self.pair.close()
        shutil.rmtree(self.work, ignore_errors=True)


class PostgresIncremental:
    """Subscription streaming after setup(). once(add_csv): a psql session at B is already
    polling (server-side loop, pg_sleep 0.5 ms) for the 100 rows with their new values; a psql
    session at A runs BEGIN; INSERT .. ON CONFLICT DO UPDATE; COMMIT. Latency = B's
    clock_timestamp() when the rows were seen − A's commit timestamp (track_commit_timestamp,
    pg_xact_commit_timestamp): one machine, one clock. The commit timestamp is taken just
    before A's WAL flush and the acknowledgement follows the flush, so the figure includes A's
    fsync. (Reading clock_timestamp() in A's next statement instead was unusable: on a busy
    2-core machine that statement sometimes ran 3 ms after B already had the rows.)"""

    def __init__(self, link: Link, base_csv: Path, work: Path):
        self.link, self.base_csv = link, Path(base_csv)
        self.work = Path(work) / f"postgres-incr-{link.name}"
        self.pair = None

    def setup(self):
        self.pair = PostgresPair(self.link, self.work)
        self.pair.start()
        n = self.pair.load_a(self.base_csv)
        self.pair.subscribe_and_wait(n)

    def once(self, add_csv: Path, timeout: float = 60) -> Sample:
        rows = read_rows_last_wins(add_csv)
        values = ",\n".join("(" + ", ".join([*map(_lit, r[:5]), _num(r[5]), _num(r[6]), _num(r[7]), _lit(r[8])])
                            + ")" for r in rows)
        cols = ", ".join(COLS)
        match = " AND ".join(f"t.{c} IS NOT DISTINCT FROM v.{c}" for c in COLS[5:])
        poll = f"""
DO $$ BEGIN RAISE NOTICE 'TSB_READY'; END $$;
DO $$ DECLARE deadline timestamptz := clock_timestamp() + interval '{int(timeout)} s'; BEGIN
  LOOP
    EXIT WHEN (SELECT count(*) FROM trade t JOIN (VALUES {values}) AS v({cols})
               USING (reporter, partner, flow, hs6, period) WHERE {match}) = {len(rows)};
    IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'TSB_TIMEOUT'; END IF;
    PERFORM pg_sleep(0.0005);
  END LOOP;
END $$;
SELECT 'T1 ' || extract(epoch from clock_timestamp());
"""
        poller = subprocess.Popen(self.pair.b.psql_cmd() + ["-f", "-"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
        try:
            poller.stdin.write(poll)
            poller.stdin.close()
            poller.stdin = None  # communicate() below must not flush it
            line = poller.stderr.readline()
            if "TSB_READY" not in line:
                raise BenchError(f"postgres: the poller at B did not start: {line}{poller.stderr.read()}")
            update = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLS[5:])
            write = (f"BEGIN;\nSELECT pg_current_xact_id()::text AS xid \\gset\n"
                     f"INSERT INTO trade({cols}) VALUES {values}\n"
                     f"ON CONFLICT (reporter, partner, flow, hs6, period) DO UPDATE SET {update};\n"
                     "COMMIT;\nSELECT 'TA ' || extract(epoch from clock_timestamp());\n"
                     "SELECT 'T0 ' || extract(epoch from pg_xact_commit_timestamp(:'xid'::xid));\n")
            with WireCounter(self.link, [self.pair.a.port], self.work, "postgres") as wc:
                out_a = self.pair.a.sql(write, "inserting 100 rows")
                try:
                    out_b, err_b = poller.communicate(timeout=timeout + 10)
                except subprocess.TimeoutExpired:
                    raise BenchError(f"postgres: B never showed the 100 rows within {timeout:.0f} s")
            if poller.returncode != 0:
                raise BenchError(f"postgres: the poller at B failed: {err_b.strip()}")
        finally:
            if poller.poll() is None:
                os.killpg(poller.pid, 9)
                poller.wait()
        t0 = float(out_a.split("T0 ", 1)[1].split()[0])
        ta = float(out_a.split("TA ", 1)[1].split()[0])
        t1 = float(out_b.split("T1 ", 1)[1].split()[0])
        if t1 < t0:
            raise BenchError(f"postgres: B matched the new rows before A committed them (rows not new?)")
        return Sample(t1 - t0, wc.bytes, {"rows": len(rows), "a_next_statement_after_commit_s": ta - t0})

    def close(self):
        if self.pair:
            self.pair.close()
        shutil.rmtree(self.work, ignore_errors=True)
