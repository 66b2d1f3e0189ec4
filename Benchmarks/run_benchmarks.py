#!/usr/bin/env python3
"""TradeSync benchmark runner: initial sync, incremental sync, office WAN, durable import,
memory and restart, with rsync, Syncthing and PostgreSQL logical replication measured in the
same run on the same files. See Benchmarks/README.md.

    sudo python3 Benchmarks/run_benchmarks.py                # everything, 1M and 5M rows
    python3 Benchmarks/run_benchmarks.py --quick --reps 3    # 100k / 200k rows
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench import net, peers  # noqa: E402
from bench.common import BenchError, DataCache, Sample, count_lines, fsync_latency, measure, summary  # noqa: E402

try:
    import importlib
    ts = importlib.import_module("bench.tradesync")  # written separately; the runner works without it
    TS_MISSING = None
except ModuleNotFoundError as e:
    if e.name != "bench.tradesync":
        raise
    ts, TS_MISSING = None, "tradesync: bench/tradesync.py missing"

ALL_CASES = ["initial", "incremental", "wan", "import", "memory", "restart"]
ALL_TOOLS = ["tradesync", "rsync", "rsync-z", "rsync-append", "syncthing", "postgres"]
APT = {"rsync": "rsync", "syncthing": "syncthing", "tcpdump": "tcpdump", "ip": "iproute2", "tc": "iproute2"}


def human_rows(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def fmt_time(s):
    if s is None:
        return "-"
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def fmt_bytes(b):
    if b is None:
        return "-"
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= k:
            return f"{b / k:.1f} {unit}"
    return f"{b:.0f} B"


def ensure_installed():
    """Install what the comparisons need via apt-get when root (like .ci/run)."""
    need = {APT[c] for c in APT if shutil.which(c) is None}
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        need.add("postgresql")
    if not need:
        return
    if os.geteuid() != 0:
        print(f"missing (not root, not installing): {' '.join(sorted(need))}", flush=True)
        return
    print(f"installing: {' '.join(sorted(need))}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "-q", *sorted(need)], env=env, check=True)


def version(cmd) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        out = (p.stdout or p.stderr).strip().splitlines()
        return out[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


def environment(work: Path, binary: Path) -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pg = str(peers.pg_bindir() / "postgres")
    except BenchError:
        pg = "postgres"
    env = {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "rsync": version(["rsync", "--version"]), "syncthing": version(["syncthing", "--version"]),
        "postgres": version([pg, "--version"]), "tcpdump": version(["tcpdump", "--version"]),
        "tradesync": version([binary / "tradesync", "--version"]) if (binary / "tradesync").exists()
        else f"no binaries in {binary}",
    }
    env["fsync"] = fsync_latency(work)
    return env


class Runner:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.data = DataCache(self.work, Path(args.gen))
        self.bin = Path(args.bin)
        self.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
        self.rows = []
        self.wan_emulator = None   # "netem" / "userspace (linkemu)" once the WAN case ran
        self.wan_stats = {}        # linkemu's counters at the end of the WAN case

    def want(self, tool) -> bool:
        if tool not in self.tools:
            return False
        if tool == "tradesync" and ts is None:
            return False
        return True

    # one table row: samples of one tool in one case
    def record(self, case: str, tool: str, fn_or_session, records=None, unit="time", note="", reps=None):
        reps = reps or self.args.reps
        label = f"{case:<28} {tool}"
        print(f"-- {label} ...", flush=True)
        row = {"case": case, "tool": tool, "records": records, "unit": unit, "note": note,
               "samples": [], "error": None}
        t = time.monotonic()
        try:
            if callable(fn_or_session):
                samples = measure(fn_or_session, reps)
            else:
                sess = fn_or_session
                try:
                    sess.setup()
                    samples = measure(sess.once, reps)
                finally:
                    sess.close()
            row["samples"] = [asdict(s) for s in samples]
            med, lo, hi = summary(samples)
            print(f"   {fmt_time(med)} (min {fmt_time(lo)}, max {fmt_time(hi)}), "
                  f"{time.monotonic() - t:.0f} s with setup", flush=True)
        except (BenchError, OSError, ValueError, KeyError, AssertionError) as e:
            row["error"] = str(e)
            print(f"   FAILED: {e}", flush=True)
            if self.args.verbose:
                traceback.print_exc()
        self.rows.append(row)
        return row

    # ------------------------------------------------------------ cases
    def initial(self, link, rows: int, tools, case_prefix=""):
        csv = self.data.get(rows)
        case = f"{case_prefix}initial {human_rows(rows)} {link.name}"
        w = self.work / "run"
        if "tradesync" in tools and self.want("tradesync"):
            self.record(case, "tradesync", lambda i: ts.initial_sync(link, csv, w, self.bin), rows)
        if "rsync" in tools and self.want("rsync"):
            self.record(case, "rsync", lambda i: peers.rsync_initial(link, csv, w, False), rows)
        if "rsync-z" in tools and self.want("rsync-z"):
            self.record(case, "rsync -z", lambda i: peers.rsync_initial(link, csv, w, True), rows)
        if "syncthing" in tools and self.want("syncthing"):
            self.record(case, "syncthing", lambda i: peers.syncthing_initial(link, csv, w), rows)
        if "postgres" in tools and self.want("postgres"):
            self.record(case, "postgres", peers.PostgresInitial(link, csv, w), rows)

    def incremental(self, link, base_rows: int, tools, case_prefix=""):
        base = self.data.get(base_rows)
        # +100 samples are milliseconds on a 2-core machine where the scheduler decides a
        # good part of each: more repetitions than the other cases (--reps-incremental), so
        # that the medians of two bases can be compared to 10 %.
        reps = max(self.args.reps, self.args.reps_incremental)
        self.data.adds(base_rows, 1 + reps)
        add = lambda i: self.data.add(base_rows, i)
        case = f"{case_prefix}+100 on {human_rows(base_rows)} {link.name}"
        w = self.work / "run"

        class Adapter:  # once(i) -> session.once(i-th 100-row file)
            def __init__(self, s):
                self.s = s
            def setup(self):
                self.s.setup()
            def once(self, i):
                return self.s.once(add(i))
            def close(self):
                self.s.close()

        if "tradesync" in tools and self.want("tradesync"):
            self.record(case, "tradesync", Adapter(ts.Incremental(link, base, w, self.bin)), 100, reps=reps)
        if "rsync" in tools and self.want("rsync"):
            self.record(case, "rsync", Adapter(peers.RsyncIncremental(link, base, w, "plain")), 100, reps=reps)
        if "rsync-z" in tools and self.want("rsync-z"):
            self.record(case, "rsync -z", Adapter(peers.RsyncIncremental(link, base, w, "plain", True)), 100, reps=reps)
        if "rsync-append" in tools and self.want("rsync-append"):
            self.record(case, "rsync --append", Adapter(peers.RsyncIncremental(link, base, w, "append")), 100, reps=reps)
        if "syncthing" in tools and self.want("syncthing"):
            self.record(case, "syncthing", Adapter(peers.SyncthingIncremental(link, base, w)), 100, reps=reps)
        if "postgres" in tools and self.want("postgres"):
            self.record(case, "postgres", Adapter(peers.PostgresIncremental(link, base, w)), 100, reps=reps)

    def run(self):
        a = self.args
        cases = [c.strip() for c in a.cases.split(",") if c.strip()]
        lo = net.loopback_link()
        sizes = [n for n in (a.rows_base, a.rows_large) if n]  # --rows-large 0: only the base size
        peers.cleanup_stale_pg()
        if "initial" in cases:
            self.initial(lo, a.rows_base, ["tradesync", "rsync", "rsync-z", "syncthing", "postgres"])
        if "incremental" in cases:
            for n in sizes:
                self.incremental(lo, n, ["tradesync", "rsync", "rsync-append", "syncthing", "postgres"])
        if "wan" in cases:
            try:
                with net.wan_link(self.work / "wan") as wan:
                    self.wan_emulator = wan.emulator
                    self.initial(wan, a.rows_base, ["tradesync", "rsync-z"], "")
                    for n in sizes:
                        self.incremental(wan, n, ["tradesync", "rsync-z"], "")
                    self.wan_stats = wan.stats()
            except BenchError as e:
                print(f"   FAILED: {e}", flush=True)
                self.rows.append({"case": "wan", "tool": "-", "error": str(e), "samples": [], "unit": "time",
                                  "records": None, "note": ""})
        if ts is not None and "tradesync" in self.tools:
            w = self.work / "run"
            if "import" in cases:
                for n in sizes:
                    csv = self.data.get(n)
                    self.record(f"durable import {human_rows(n)}", "tradesync",
                                lambda i, csv=csv: ts.durable_import(csv, w, self.bin), n, "import")
            if "memory" in cases:
                for n in sizes:
                    csv = self.data.get(n)
                    self.record(f"memory {human_rows(n)} keys", "tradesync",
                                lambda i, csv=csv: ts.memory(csv, w, self.bin), n, "memory")
            if "restart" in cases:
                csv = self.data.get(a.rows_base)
                self.record(f"restart {human_rows(a.rows_base)} entries", "tradesync",
                            lambda i: ts.restart(csv, w, self.bin), a.rows_base)


def print_table(rows, env):
    fs = env["fsync"]["median_s"]
    head = ["case", "tool", "median", "min", "max", "wire bytes (median)", "B/record or note"]
    out = []
    for r in rows:
        if r.get("error"):
            out.append([r["case"], r["tool"], "FAILED", "", "", "", r["error"].splitlines()[0][:110]])
            continue
        ss = [Sample(**s) for s in r["samples"]]
        wire = summary(ss, key=lambda s: s.wire_bytes)[0]
        if r["unit"] == "memory":
            med, lo, hi = summary(ss, key=lambda s: s.extra.get("rss_bytes"))
            bpk = summary(ss, key=lambda s: s.extra.get("bytes_per_key"))[0]
            cells = [fmt_bytes(med), fmt_bytes(lo), fmt_bytes(hi), "-",
                     f"RSS; {bpk:.0f} B/key" if bpk is not None else "RSS"]
        else:
            med, lo, hi = summary(ss)
            note = r.get("note", "")
            if r["unit"] == "import":
                rps = summary(ss, key=lambda s: s.extra.get("records_per_s")
                              or (r["records"] / s.seconds if s.seconds else None))[0]
                note = f"{rps:,.0f} records/s; fsync 4 KiB {fs * 1000:.2f} ms"
            elif wire is not None and r.get("records"):
                note = f"{wire / r['records']:.1f} B/record"
            cells = [fmt_time(med), fmt_time(lo), fmt_time(hi), fmt_bytes(wire), note]
        out.append([r["case"], r["tool"], *cells])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *out)] if out else [len(h) for h in head]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in out:
        print(line(c))
    failed = [r for r in rows if r.get("error")]
    if failed:
        print("\nfailures:")
        for r in failed:
            print(f"  {r['case']} / {r['tool']}: {r['error']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows-base", type=int, default=1_000_000, help="the '1M' file (default 1000000)")
    ap.add_argument("--rows-large", type=int, default=5_000_000, help="the '5M' file (default 5000000; 0 skips it)")
    ap.add_argument("--reps", type=int, default=3, help="counted repetitions (plus 1 warm-up), default 3")
    ap.add_argument("--reps-incremental", type=int, default=31,
                    help="counted repetitions of the +100 cases (at least --reps), default 31")
    ap.add_argument("--cases", default=",".join(ALL_CASES), help="comma list of " + ",".join(ALL_CASES))
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma list of " + ",".join(ALL_TOOLS))
    ap.add_argument("--bin", default=str(REPO / ".build" / "release"), help="TradeSync binaries")
    ap.add_argument("--work", default="/tmp/tsbench", help="work dir (data cache, logs)")
    ap.add_argument("--gen", default=str(REPO.parent / "shared" / "bench" / "gen_trade.py"),
                    help="gen_trade.py (default <repo>/../shared/bench/gen_trade.py)")
    ap.add_argument("--json", help="write every sample and the environment to this file")
    ap.add_argument("--quick", action="store_true", help="100k / 200k rows (smoke test)")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install missing tools")
    ap.add_argument("-v", "--verbose", action="store_true", help="tracebacks for failures")
    args = ap.parse_args()
    if args.quick:
        args.rows_base, args.rows_large = 100_000, 200_000
    bad = set(args.cases.split(",")) - set(ALL_CASES) | set(args.tools.split(",")) - set(ALL_TOOLS)
    if bad:
        ap.error(f"unknown case or tool: {', '.join(sorted(bad))}")
    if args.reps < 3:
        print(f"note: --reps {args.reps}; the issue asks for at least 3", flush=True)

    # SIGTERM unwinds like Ctrl-C so every finally: stops its daemons and clusters
    def on_term(*_):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    if not args.no_install:
        ensure_installed()
    if TS_MISSING:
        print(TS_MISSING, flush=True)
    runner = Runner(args)
    env = environment(runner.work, runner.bin)
    print("\nenvironment:")
    for k, v in env.items():
        if k == "fsync":
            v = (f"median {v['median_s'] * 1000:.3f} ms (min {v['min_s'] * 1000:.3f}, max "
                 f"{v['max_s'] * 1000:.3f}) over {v['n']} x (4 KiB write + fsync) in {runner.work}")
        print(f"  {k:<10} {v}")
    wan_desc = net.wan_description() if "wan" in args.cases.split(",") else "not run"
    env["wan"] = wan_desc
    print(f"  rows       base {args.rows_base}, large {args.rows_large}; {args.reps} reps + 1 warm-up "
          f"({max(args.reps, args.reps_incremental)} for +100); "
          f"WAN: {wan_desc}\n", flush=True)
    t = time.monotonic()
    try:
        runner.run()
    except KeyboardInterrupt:
        print("interrupted; partial results:", flush=True)
    print(f"\nresults ({time.monotonic() - t:.0f} s):")
    if TS_MISSING:
        print(TS_MISSING)
    print_table(runner.rows, env)
    if runner.wan_emulator:
        env["wan_emulator"] = runner.wan_emulator
        print(f"\nwan rows: link emulated by {runner.wan_emulator}"
              + (f"; {net.emu_summary(runner.wan_stats)}" if runner.wan_stats else ""))
        if runner.wan_stats:
            env["wan_linkemu_stats"] = runner.wan_stats
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "args": vars(args), "rows": runner.rows},
                                              indent=1, default=str))
        print(f"samples written to {args.json}")
    return 1 if any(r.get("error") for r in runner.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
