"""Where the two nodes run (loopback, or two network namespaces joined by an emulated WAN link:
netem on a veth pair, or bench/linkemu.py between two TUN devices) and how many TCP payload bytes crossed between them (tcpdump + a pcap reader)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from .common import BenchError, Proc, run, wait_until


@dataclass
class Site:
    name: str           # "A" or "B"
    host: str           # address the node listens on and is reached at
    wrap: list = field(default_factory=list)  # command prefix to run inside the site

    def cmd(self, *args) -> list:
        return [*self.wrap, *map(str, args)]


@dataclass
class Link:
    name: str           # "loopback" or "wan"
    a: Site
    b: Site
    iface_a: str        # interface at A on which every A<->B packet passes once
    emulator: str = ""  # WAN: "netem" or "userspace (linkemu)"
    stats: Callable[[], dict] = dict  # WAN with linkemu: the emulator's counters so far

    @property
    def capture_wrap(self) -> list:
        return self.a.wrap


def loopback_link() -> Link:
    return Link("loopback", Site("A", "127.0.0.1"), Site("B", "127.0.0.1"), "lo")


NS_A, NS_B = "tsbA", "tsbB"
VETH_A, VETH_B = "vtsA", "vtsB"
TUN_A, TUN_B = "tunA", "tunB"
ADDR_A, ADDR_B = "10.77.0.1", "10.77.0.2"
NETEM = ["delay", "20ms", "loss", "0.1%", "rate", "50mbit", "limit", "10000"]
# the same link for the userspace emulator (bench/linkemu.py)
LINKEMU = {"rate": 50e6, "delay": 0.020, "loss": 0.001}
EMU_NAMES = {"netem": "netem", "linkemu": "userspace (linkemu)", "none": "none (TSBENCH_WAN_NO_NETEM=1)"}
LINKEMU_PIDFILE = Path("/run/tsbench-linkemu.pid")
NS_PROBE = "tsbProbe"


def _cleanup_wan():
    # a forwarder left by an interrupted run (normally it dies with its parent)
    try:
        pid = int(LINKEMU_PIDFILE.read_text().strip())
        if b"bench.linkemu" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass
    LINKEMU_PIDFILE.unlink(missing_ok=True)
    for f in Path("/dev/shm").glob("tsbench-linkemu-*.json"):  # statistics of a dead runner
        pid = f.stem.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            f.unlink(missing_ok=True)
    for ns in (NS_A, NS_B, NS_PROBE):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    # a veth end left in the root namespace by an interrupted setup
    for dev in (VETH_A, VETH_B):
        subprocess.run(["ip", "link", "del", dev], capture_output=True)


_NETEM_OK: Optional[bool] = None


def netem_available() -> bool:
    """Whether this kernel has sch_netem: try it on lo of a throw-away namespace (cached)."""
    global _NETEM_OK
    if _NETEM_OK is None:
        if os.geteuid() != 0:
            return False
        subprocess.run(["ip", "netns", "del", NS_PROBE], capture_output=True)
        try:
            if subprocess.run(["ip", "netns", "add", NS_PROBE], capture_output=True).returncode != 0:
                return False
            p = subprocess.run(["ip", "netns", "exec", NS_PROBE, "tc", "qdisc", "add", "dev", "lo", "root",
                                "netem", "delay", "1ms"], capture_output=True)
            _NETEM_OK = p.returncode == 0
        finally:
            subprocess.run(["ip", "netns", "del", NS_PROBE], capture_output=True)
    return _NETEM_OK


def wan_emulator() -> str:
    """"netem", "linkemu" or "none". TSBENCH_WAN_EMU=netem|linkemu forces one (default auto:
    netem when the kernel has it, else linkemu); TSBENCH_WAN_NO_NETEM=1 gives "none"."""
    if os.environ.get("TSBENCH_WAN_NO_NETEM") == "1":
        return "none"
    want = os.environ.get("TSBENCH_WAN_EMU", "auto")
    if want not in ("auto", "netem", "linkemu"):
        raise BenchError(f"wan: TSBENCH_WAN_EMU={want!r}: expected auto, netem or linkemu")
    if want == "auto":
        return "netem" if netem_available() else "linkemu"
    return want


def _tcp_rtt(n: int = 5, timeout: float = 10.0) -> list[float]:
    """Connect from a socket in tsbA to a listener in tsbB; n x 1-byte request/response.
    Returns [connect time, rtt 1, ..., rtt n] in seconds."""
    from .linkemu import netns_call
    srv = netns_call(NS_B, lambda: socket.create_server((ADDR_B, 0)))
    cli = netns_call(NS_A, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    try:
        srv.settimeout(timeout)
        cli.settimeout(timeout)
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = time.perf_counter()
        cli.connect((ADDR_B, srv.getsockname()[1]))
        out = [time.perf_counter() - t]
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(timeout)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def echo():
                try:
                    for _ in range(n):
                        conn.sendall(conn.recv(1))
                except OSError:
                    pass
            th = threading.Thread(target=echo, daemon=True)
            th.start()
            for _ in range(n):
                t = time.perf_counter()
                cli.sendall(b"x")
                if cli.recv(1) != b"x":
                    raise OSError("echo mismatch")
                out.append(time.perf_counter() - t)
            th.join(timeout)
        return out
    finally:
        cli.close()
        srv.close()


class LinkEmu:
    """bench/linkemu.py as a background process holding tunA (in tsbA) and tunB (in tsbB)."""

    def __init__(self, log_dir: Path):
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = log_dir / "linkemu.log"
        # statistics on tmpfs when there is one: a write to a busy disk can stall the forwarder
        shm = Path("/dev/shm")
        self.stats_path = (shm if shm.is_dir() and os.access(shm, os.W_OK) else log_dir) / \
            f"tsbench-linkemu-{os.getpid()}.json"
        self.log.unlink(missing_ok=True)
        self.stats_path.unlink(missing_ok=True)
        seed = os.environ.get("TSBENCH_WAN_SEED")
        cmd = [sys.executable, "-m", "bench.linkemu", "--a", f"{NS_A}:{TUN_A}", "--b", f"{NS_B}:{TUN_B}",
               "--rate", LINKEMU["rate"], "--delay", LINKEMU["delay"], "--loss", LINKEMU["loss"],
               "--stats", self.stats_path, *(["--seed", seed] if seed else [])]
        self.proc = Proc(cmd, self.log, "wan", cwd=Path(__file__).resolve().parent.parent)
        LINKEMU_PIDFILE.write_text(f"{self.proc.pid}\n")
        try:
            wait_until(lambda: "linkemu ready" in self.log.read_text(errors="replace"), 15,
                       "wan: the userspace link emulator (bench/linkemu.py) did not start", proc=self.proc)
        except BenchError as e:
            self.stop()
            raise BenchError(f"{e}: {self._tail()}") from None

    def _tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-3:])
        except OSError:
            return ""

    def banner(self) -> str:
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("linkemu: ") and "seed" in line:
                return line[len("linkemu: "):]
        return ""

    def _read(self) -> dict:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def stats(self) -> dict:
        """The forwarder's counters now (SIGUSR1 asks it to write them; {} if it does not)."""
        if not self.proc.alive():
            return self._read()
        seq = self._read().get("seq", 0)
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            st = self._read()
            if st.get("seq", 0) > seq:
                return st
            time.sleep(0.005)
        return {}

    def check_alive(self):
        if not self.proc.alive():
            raise BenchError(f"wan: the userspace link emulator exited ({self.proc.p.returncode}): "
                             f"{self._tail()}")

    def stop(self) -> dict:
        self.proc.stop(signal.SIGTERM, 5)
        LINKEMU_PIDFILE.unlink(missing_ok=True)
        st = self._read()
        self.stats_path.unlink(missing_ok=True)
        return st


def emu_summary(st: dict) -> str:
    """One line from linkemu statistics."""
    if not st:
        return "no statistics"
    parts = []
    for k, name in (("a_to_b", "A->B"), ("b_to_a", "B->A")):
        d = st[k]
        parts.append(f"{name} {d['packets_out']}/{d['packets_in']} packets delivered, "
                     f"{d['lost_random']} lost (random), {d['dropped_queue']} dropped (queue full), "
                     f"lateness p99 {(d['late_p99_s'] or 0) * 1e3:.2f} ms max {d['late_max_s'] * 1e3:.2f} ms "
                     f"({d['late_over_1ms']} > 1 ms)")
    return f"seed {st['seed']}: " + "; ".join(parts)


@contextlib.contextmanager
def wan_link(log_dir: Optional[Path] = None):
    """Namespaces tsbA/tsbB joined by a 50 Mbit/s, 40 ms round trip, 0.1 % loss link:

    * netem (first choice, when the kernel has sch_netem): veth vtsA(10.77.0.1/24) <->
      vtsB(10.77.0.2/24), netem on both ends; the capture interface at A is vtsA;
    * otherwise linkemu (bench/linkemu.py, userspace): TUN tunA(10.77.0.1/24) in tsbA and
      tunB(10.77.0.2/24) in tsbB, both held by one forwarder process; capture on tunA.

    Each namespace has only lo and its end of the link (no default route), so 10.77.0.0/24
    traffic cannot leave them. A TCP exchange A->B checks the link (and its round trip) before
    the Link is yielded. Everything (forwarder, namespaces, devices) is removed on exit,
    also on error, and stale leftovers at start. link.emulator / link.stats() tell which
    emulator ran and (linkemu) what it counted."""
    if os.geteuid() != 0:
        raise BenchError("wan: creating network namespaces needs root")
    emu_kind = wan_emulator()
    log_dir = Path(log_dir) if log_dir else Path(tempfile.gettempdir()) / "tsbench-wan"
    _cleanup_wan()
    emu = None
    try:
        step = lambda cmd, what: run(cmd, "wan", what)
        step(["ip", "netns", "add", NS_A], "ip netns add tsbA")
        step(["ip", "netns", "add", NS_B], "ip netns add tsbB")
        for ns in (NS_A, NS_B):
            nx = ["ip", "netns", "exec", ns]
            step(nx + ["ip", "link", "set", "lo", "up"], f"lo up in {ns}")
            # no IPv6 chatter (router solicitations, DAD) on the link
            for conf in ("all", "default"):
                run(nx + ["sysctl", "-qw", f"net.ipv6.conf.{conf}.disable_ipv6=1"], "wan",
                    f"disable IPv6 in {ns}", check=False)
        if emu_kind == "linkemu":
            emu = LinkEmu(log_dir)
            ends = ((NS_A, TUN_A, ADDR_A), (NS_B, TUN_B, ADDR_B))
        else:
            step(["ip", "link", "add", VETH_A, "netns", NS_A, "type", "veth", "peer", "name", VETH_B,
                  "netns", NS_B], "creating the veth pair")
            ends = ((NS_A, VETH_A, ADDR_A), (NS_B, VETH_B, ADDR_B))
        for ns, dev, addr in ends:
            nx = ["ip", "netns", "exec", ns]
            step(nx + ["ip", "addr", "add", f"{addr}/24", "dev", dev], f"address on {dev}")
            step(nx + ["ip", "link", "set", dev, "mtu", "1500", "up"], f"{dev} up")
            if emu_kind != "netem":
                continue
            p = run(nx + ["tc", "qdisc", "add", "dev", dev, "root", "netem", *NETEM], "wan",
                    f"tc netem on {dev}", check=False)
            if p.returncode != 0:
                hint = ""
                if "unknown" in p.stderr:
                    hint = (" — this kernel has no netem qdisc; unset TSBENCH_WAN_EMU (or set it to "
                            "linkemu) to use the userspace emulator")
                raise BenchError(f"wan: tc qdisc add dev {dev} root netem {' '.join(NETEM)} failed: "
                                 f"{p.stderr.strip()}{hint}")
        # the link carries TCP before anything uses it, with the round trip it should have
        try:
            rtts = _tcp_rtt(3)
        except OSError as e:
            if emu:
                emu.check_alive()
            raise BenchError(f"wan: TCP check {ADDR_A} -> {ADDR_B} failed: {e}") from None
        rtt = statistics.median(rtts[1:])
        if emu_kind != "none" and not 0.035 < rtt < 0.080:
            raise BenchError(f"wan: TCP round trip over the link is {rtt * 1000:.1f} ms, expected about 40 ms")
        desc = EMU_NAMES[emu_kind] + (f" ({emu.banner()})" if emu else "")
        print(f"   wan link: {desc}; TCP round trip {rtt * 1000:.1f} ms", flush=True)
        link = Link("wan-no-netem" if emu_kind == "none" else "wan",
                    Site("A", ADDR_A, ["ip", "netns", "exec", NS_A]),
                    Site("B", ADDR_B, ["ip", "netns", "exec", NS_B]),
                    TUN_A if emu_kind == "linkemu" else VETH_A,
                    emulator=EMU_NAMES[emu_kind], stats=emu.stats if emu else dict)
        yield link
        if emu:
            emu.check_alive()
    finally:
        if emu:
            st = emu.stop()
            print(f"   wan link (linkemu) at exit: {emu_summary(st)}", flush=True)
        _cleanup_wan()


def wan_description() -> str:
    try:
        kind = wan_emulator()
    except BenchError as e:
        return str(e)
    if kind == "linkemu":
        return (f"TUN devices tunA/tunB in network namespaces tsbA/tsbB, userspace (linkemu) forwarder: "
                f"{LINKEMU['rate'] / 1e6:g} Mbit/s, {LINKEMU['delay'] * 1000:g} ms one way (40 ms round "
                f"trip), {LINKEMU['loss'] * 100:g} % loss each way, drop-tail queue 2 x BDP"
                + ("" if os.environ.get("TSBENCH_WAN_EMU") == "linkemu" else " (this kernel has no netem)"))
    if kind == "none":
        return "veth pair between network namespaces tsbA/tsbB, no netem (TSBENCH_WAN_NO_NETEM=1)"
    return ("veth pair between network namespaces tsbA/tsbB, tc netem on both ends: "
            + " ".join(NETEM) + " (40 ms round trip)")


# ---------------------------------------------------------------- wire bytes

class WireCounter:
    """Counts TCP payload bytes, both directions, of packets whose source or destination
    port is in `ports`, captured on the link's interface at A.

    On `lo` every packet is seen exactly once by `tcpdump -i lo` (it is captured on the way
    out; the loopback receive is not a second capture), and on the WAN interface at A (veth vtsA
    with netem, TUN tunA with linkemu: raw IP, pcap link type 101) each packet passes once in
    one direction, so no packet is counted twice. With linkemu, A->B packets the emulator loses
    were captured (they left A) and B->A ones were not (they never reached A).

    --immediate-mode matters: without it packets wait in the kernel's TPACKET_V3 ring until a
    block fills or its 1 s timeout expires, and a capture stopped sooner reads none of them.
    -Z root keeps tcpdump from switching to user tcpdump, which cannot write in the work dir."""

    def __init__(self, link: Link, ports: Iterable[int], work: Path, tool: str = "wire"):
        self.link = link
        self.ports = sorted(set(int(p) for p in ports))
        self.work = Path(work)
        self.tool = tool
        self.pcap = self.work / f"wire-{os.getpid()}-{time.monotonic_ns()}.pcap"
        self.errlog = self.pcap.with_suffix(".log")
        self.bytes: Optional[int] = None
        self.packets = 0
        self._p = None

    def __enter__(self):
        self.work.mkdir(parents=True, exist_ok=True)
        filt = "tcp and (" + " or ".join(f"port {p}" for p in self.ports) + ")"
        cmd = [*self.link.capture_wrap, "tcpdump", "--immediate-mode", "-Z", "root", "-i", self.link.iface_a, "-n", "-s", "128",
               "-B", "65536", "-U", "-w", str(self.pcap), filt]
        self._err = open(self.errlog, "wb")
        self._p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._err,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while True:
            text = self.errlog.read_text(errors="replace")
            if "listening on" in text:
                break
            if self._p.poll() is not None:
                self._err.close()
                raise BenchError(f"{self.tool}: tcpdump on {self.link.iface_a} exited: {text.strip()}")
            if time.monotonic() > deadline:
                self._stop()
                raise BenchError(f"{self.tool}: tcpdump never started capturing on "
                                 f"{self.link.iface_a}; see {self.errlog}")
            time.sleep(0.005)
        return self

    def _stop(self):
        if self._p and self._p.poll() is None:
            os.killpg(self._p.pid, signal.SIGINT)
            try:
                self._p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._p.pid, signal.SIGKILL)
                self._p.wait(5)
        self._err.close()

    def __exit__(self, exc_type, exc, tb):
        time.sleep(0.02)  # the last packets of the exchange reach the capture buffer
        self._stop()
        if exc_type is not None:
            self.pcap.unlink(missing_ok=True)
            return False
        text = self.errlog.read_text(errors="replace")
        for line in text.splitlines():
            if "dropped by kernel" in line and not line.strip().startswith("0 "):
                raise BenchError(f"{self.tool}: tcpdump lost packets ({line.strip()}); wire bytes unreliable")
        self.bytes, self.packets = tcp_payload_bytes(self.pcap, self.ports)
        self.pcap.unlink(missing_ok=True)
        self.errlog.unlink(missing_ok=True)
        return False


def tcp_payload_bytes(pcap: Path, ports) -> tuple[int, int]:
    """Sum over the pcap's IPv4/IPv6 TCP packets with a port in ports of
    (IP total length - IP header - TCP header). Returns (bytes, packets)."""
    ports = set(ports)
    data = Path(pcap).read_bytes()
    if len(data) < 24:
        return 0, 0
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise BenchError(f"wire: {pcap} is not a pcap file")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off, total, npk = 24, 0, 0
    while off + 16 <= len(data):
        _, _, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        if len(pkt) < incl:
            break  # truncated last record
        if linktype == 1:          # Ethernet (lo and veth on Linux)
            et, l3 = struct.unpack(">H", pkt[12:14])[0], 14
            while et in (0x8100, 0x88A8):
                et, l3 = struct.unpack(">H", pkt[l3 + 2:l3 + 4])[0], l3 + 4
        elif linktype == 113:      # Linux cooked v1
            et, l3 = struct.unpack(">H", pkt[14:16])[0], 16
        elif linktype == 276:      # Linux cooked v2
            et, l3 = struct.unpack(">H", pkt[0:2])[0], 20
        elif linktype in (101, 12, 14):  # raw IP (tun devices: 101 in the file)
            l3 = 0
            et = 0x0800 if pkt[0] >> 4 == 4 else 0x86DD
        elif linktype == 228:      # raw IPv4
            et, l3 = 0x0800, 0
        elif linktype == 229:      # raw IPv6
            et, l3 = 0x86DD, 0
        elif linktype == 0:        # BSD loopback
            fam = struct.unpack(e + "I", pkt[0:4])[0]
            et, l3 = (0x0800 if fam == 2 else 0x86DD), 4
        else:
            raise BenchError(f"wire: unsupported pcap link type {linktype}")
        if et == 0x0800:
            ihl = (pkt[l3] & 0x0F) * 4
            if pkt[l3 + 9] != 6:
                continue
            iplen = struct.unpack(">H", pkt[l3 + 2:l3 + 4])[0]
            tcp = l3 + ihl
            payload_ip = iplen - ihl
        elif et == 0x86DD:
            if pkt[l3 + 6] != 6:
                continue  # extension headers are not used by these tools
            payload_ip = struct.unpack(">H", pkt[l3 + 4:l3 + 6])[0]
            tcp = l3 + 40
        else:
            continue
        sport, dport = struct.unpack(">HH", pkt[tcp:tcp + 4])
        if sport not in ports and dport not in ports:
            continue
        thl = (pkt[tcp + 12] >> 4) * 4
        total += max(0, payload_ip - thl)
        npk += 1
    return total, npk


# ---------------------------------------------------------------- link check

def _bulk(nbytes: int, timeout: float = 120.0) -> tuple[float, int]:
    """nbytes over one TCP connection tsbA -> tsbB. Returns (seconds from connect to the last
    byte at B, server port)."""
    from .linkemu import netns_call
    srv = netns_call(NS_B, lambda: socket.create_server((ADDR_B, 0)))
    cli = netns_call(NS_A, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    port = srv.getsockname()[1]
    try:
        srv.settimeout(timeout)
        cli.settimeout(timeout)
        err = []

        def send():
            try:
                buf = b"\0" * 65536
                left = nbytes
                while left:
                    left -= cli.send(buf[:min(left, len(buf))])
                cli.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)
        t = time.perf_counter()
        cli.connect((ADDR_B, port))
        th = threading.Thread(target=send, daemon=True)
        th.start()
        conn, _ = srv.accept()
        got = 0
        with conn:
            conn.settimeout(timeout)
            while True:
                b = conn.recv(1 << 20)
                if not b:
                    break
                got += len(b)
        dt = time.perf_counter() - t
        th.join(timeout)
        if err or got != nbytes:
            raise BenchError(f"wan check: bulk transfer got {got} of {nbytes} bytes {err}")
        return dt, port
    finally:
        cli.close()
        srv.close()


def wan_check(bulk_mb: float = 20, rtt_n: int = 50, wire_bytes: int = 1_000_000):
    """Measure the WAN link: TCP request/response round trips, bulk throughput A->B, wire
    bytes of a known-size transfer, and the emulator's counters.
        sudo python3 -m bench.net   (in Benchmarks/)"""
    with wan_link() as link:
        print(f"emulator: {link.emulator}")
        rtts = _tcp_rtt(rtt_n)
        r = sorted(rtts[1:])
        print(f"TCP connect {rtts[0] * 1000:.1f} ms; 1-byte request/response over {rtt_n}: median "
              f"{statistics.median(r) * 1000:.2f} ms, min {r[0] * 1000:.2f}, "
              f"p90 {r[int(0.9 * len(r))] * 1000:.2f}, max {r[-1] * 1000:.2f}")
        s0 = link.stats()
        n = int(bulk_mb * 1e6)
        dt, _ = _bulk(n)
        time.sleep(0.1)
        s1 = link.stats()
        print(f"bulk {n / 1e6:g} MB A->B: {dt:.2f} s = {n * 8 / dt / 1e6:.1f} Mbit/s goodput "
              "(connect to last byte)")
        if s0 and s1:
            for k in ("a_to_b", "b_to_a"):
                d0, d1 = s0[k], s1[k]
                print(f"  during bulk {k}: {d1['packets_in'] - d0['packets_in']} packets, "
                      f"{d1['lost_random'] - d0['lost_random']} lost (random), "
                      f"{d1['dropped_queue'] - d0['dropped_queue']} dropped (queue), "
                      f"max backlog {d1['max_backlog_bytes']} B")
        work = Path(tempfile.mkdtemp(prefix="tsbench-wire-"))
        try:
            # WireCounter needs the port before the transfer: reserve one in tsbB
            from .linkemu import netns_call
            probe = netns_call(NS_B, lambda: socket.create_server((ADDR_B, 0)))
            port = probe.getsockname()[1]
            probe.close()
            with WireCounter(link, [port], work, "wan check") as wc:
                srv = netns_call(NS_B, lambda: socket.create_server((ADDR_B, port)))
                cli = netns_call(NS_A, lambda: socket.socket())
                with srv, cli:
                    cli.connect((ADDR_B, port))
                    conn, _ = srv.accept()
                    with conn:
                        def send():
                            cli.sendall(os.urandom(wire_bytes))
                            cli.shutdown(socket.SHUT_WR)
                        th = threading.Thread(target=send, daemon=True)
                        th.start()
                        got = 0
                        while True:
                            b = conn.recv(1 << 20)
                            if not b:
                                break
                            got += len(b)
                        th.join(10)
                time.sleep(0.1)  # the last ACK/FIN cross the 20 ms delay
            print(f"wire count on {link.iface_a}: {wc.bytes} payload bytes in {wc.packets} packets for a "
                  f"{got}-byte transfer (difference {wc.bytes - got}: retransmissions)")
        finally:
            import shutil
            shutil.rmtree(work, ignore_errors=True)
        st = link.stats()
        if st:
            print(f"emulator so far: {emu_summary(st)}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the link is removed
    wan_check()
