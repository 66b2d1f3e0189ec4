#!/usr/bin/env python3
"""The cost of TLS 1.3 plus signed entries against plain TCP, on the same sync (issue 6 §7).

Node A imports a trade file; node B then starts empty, dials A and catches up. The time is
from B answering `status` until B reports A's digest; the bytes are what A's session sent
(protocol bytes: frames, before TLS records). Modes, same file, same machine, same run:

  baseline  plain TCP, unsigned entries: the build before issue 6 (--baseline BIN_DIR)
  insecure  plain TCP, signed entries: this build with --insecure
  tls       TLS 1.3 (pinned node IDs), signed entries: this build, as deployed

Each mode runs --runs times (after one warm-up run); the table shows median, min and max.

Usage: python3 Benchmarks/security_bench.py [--rows N] [--file CSV] [--runs R]
                                            [--bin DIR] [--baseline DIR]
  --rows N     generate N records with ../shared/bench/gen_trade.py --seed 6 (default 200000)
  --file CSV   use this file instead (e.g. a real one from ../shared/data/trade)
  --bin DIR    this build's binaries (default .build/release)
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(bin_dir, control):
    out = subprocess.run([f"{bin_dir}/tradesync", "status", "--json", "--control", control],
                         capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def wait_status(bin_dir, control, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        s = status(bin_dir, control)
        if s is not None:
            return s
        time.sleep(0.01)
    raise RuntimeError(f"{control}: node did not answer")


def in_sync(bin_dir, control):
    out = subprocess.run([f"{bin_dir}/tradesync", "peers", "--json", "--control", control],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return False
    return any(p.get("in_sync") and p.get("connected") for p in json.loads(out.stdout))


def cpu_seconds(pid):
    """User + system CPU seconds a process has used (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_id(bin_dir, data):
    out = subprocess.run([f"{bin_dir}/tradesyncd", "--print-id", "--data-dir", data],
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0].strip()


def one_run(mode, bin_dir, csv):
    work = tempfile.mkdtemp(prefix=f"tradesync-secbench-{mode}-")
    procs = []
    try:
        a, b = f"{work}/a", f"{work}/b"
        pa, pb = free_port(), free_port()
        common = ["--log-level", "warning"]
        if mode == "tls":
            ida, idb = print_id(bin_dir, a), print_id(bin_dir, b)
            # A only accepts B (pinned, no address), as B only dials A: one connection, as in
            # the plain modes.
            with open(f"{work}/a.toml", "w") as config:
                config.write(f'data_dir = "{a}"\nlisten = "127.0.0.1:{pa}"\n\n[[peer]]\nid = "{idb}"\n')
            args_a = ["--config", f"{work}/a.toml"]
            args_b = ["--data-dir", b, "--listen", f"127.0.0.1:{pb}", "--peer", f"{ida}@127.0.0.1:{pa}"]
        else:
            extra = ["--insecure"] if mode == "insecure" else []
            args_a = ["--data-dir", a, "--listen", f"127.0.0.1:{pa}"] + extra
            args_b = ["--data-dir", b, "--listen", f"127.0.0.1:{pb}", "--peer", f"127.0.0.1:{pa}"] + extra
        log_a = open(f"{work}/a.log", "w")
        procs.append(subprocess.Popen([f"{bin_dir}/tradesyncd"] + args_a + common, stderr=log_a, stdout=log_a))
        wait_status(bin_dir, f"{a}/control.sock")
        imp = subprocess.run([f"{bin_dir}/tradesync", "import", "--skip-invalid", "--json", "--control",
                              f"{a}/control.sock", csv], capture_output=True, text=True)
        if imp.returncode != 0:
            raise RuntimeError(f"import failed: {imp.stderr[-500:]}")
        target = status(bin_dir, f"{a}/control.sock")
        log_b = open(f"{work}/b.log", "w")
        procs.append(subprocess.Popen([f"{bin_dir}/tradesyncd"] + args_b + common, stderr=log_b, stdout=log_b))
        wait_status(bin_dir, f"{b}/control.sock")
        ready = time.time()
        cpu_b0 = cpu_seconds(procs[1].pid)
        cpu_a0 = cpu_seconds(procs[0].pid)
        # Done when A's session with B is in sync: B acknowledged everything, and B sends an
        # ACK only once what it acknowledges is durable. `peers` is cheap; `status` would
        # hash the whole state at every poll and slow the node it measures.
        while not in_sync(bin_dir, f"{a}/control.sock"):
            if time.time() - ready > 600:
                raise RuntimeError(f"{mode}: B did not converge; log:\n" + open(f"{work}/b.log").read()[-2000:])
            time.sleep(0.01)
        seconds = time.time() - ready
        cpu_b = cpu_seconds(procs[1].pid) - cpu_b0
        cpu_a = cpu_seconds(procs[0].pid) - cpu_a0
        final = status(bin_dir, f"{b}/control.sock")
        if final["digest"] != target["digest"]:
            raise RuntimeError(f"{mode}: B in sync but its digest differs")
        peers = status(bin_dir, f"{a}/control.sock")["peers"]
        sent = max(p.get("bytes_sent", 0) for p in peers)
        return {"seconds": seconds, "entries": target["entries"], "bytes": sent, "cpu_a": cpu_a, "cpu_b": cpu_b}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build/release"))
    parser.add_argument("--baseline")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="tradesync-secbench-data-")
    try:
        csv = args.file
        if csv is None:
            csv = f"{tmp}/trade.csv"
            gen = os.path.join(ROOT, "..", "shared", "bench", "gen_trade.py")
            with open(csv, "w") as out:
                subprocess.run([sys.executable, gen, "--rows", str(args.rows), "--seed", "6"], stdout=out, check=True)
        modes = ([("baseline", args.baseline)] if args.baseline else []) + [("insecure", args.bin), ("tls", args.bin)]
        results = {}
        for mode, bin_dir in modes:
            one_run(mode, bin_dir, csv)  # warm-up (page cache, binaries)
            results[mode] = [one_run(mode, bin_dir, csv) for _ in range(args.runs)]
        print(f"file: {csv if args.file else f'gen_trade.py --rows {args.rows} --seed 6'}, "
              f"{results[modes[0][0]][0]['entries']:,} entries; {args.runs} runs per mode after a warm-up")
        print(f"{'mode':<9} {'sync s':>7} {'min':>6} {'max':>6} {'entries/s':>10} {'wire bytes':>11} {'B/entry':>8} "
              f"{'CPU s A':>8} {'CPU s B':>8} {'Δ time':>7} {'Δ CPU':>7} {'Δ bytes':>10}")
        first = None
        for mode, _ in modes:
            runs = results[mode]
            row = {key: statistics.median(r[key] for r in runs) for key in ("seconds", "bytes", "cpu_a", "cpu_b")}
            n = runs[0]["entries"]
            first = first or row
            cpu, cpu0 = row["cpu_a"] + row["cpu_b"], first["cpu_a"] + first["cpu_b"]
            print(f"{mode:<9} {row['seconds']:7.3f} {min(r['seconds'] for r in runs):6.2f} "
                  f"{max(r['seconds'] for r in runs):6.2f} {n / row['seconds']:10,.0f} {row['bytes']:11,.0f} "
                  f"{row['bytes'] / n:8.2f} {row['cpu_a']:8.2f} {row['cpu_b']:8.2f} "
                  f"{100 * (row['seconds'] / first['seconds'] - 1):+6.1f}% {100 * (cpu / cpu0 - 1):+6.1f}% "
                  f"{(row['bytes'] - first['bytes']) / n:+7.3f} B/e")
        print("sync s: from B answering status until A's session with B is in sync (medians; min, max);")
        print("CPU s: user+system seconds of each daemon over that interval; Δ: against the first row.")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
