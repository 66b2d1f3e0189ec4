"""Where the two nodes run (loopback, or two network namespaces joined by a netem'd veth
pair) and how many TCP payload bytes crossed between them (tcpdump + a pcap reader)."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from .common import BenchError, run


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

    @property
    def capture_wrap(self) -> list:
        return self.a.wrap


def loopback_link() -> Link:
    return Link("loopback", Site("A", "127.0.0.1"), Site("B", "127.0.0.1"), "lo")


NS_A, NS_B = "tsbA", "tsbB"
VETH_A, VETH_B = "vtsA", "vtsB"
ADDR_A, ADDR_B = "10.77.0.1", "10.77.0.2"
NETEM = ["delay", "20ms", "loss", "0.1%", "rate", "50mbit", "limit", "10000"]


def _cleanup_wan():
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    # a veth end left in the root namespace by an interrupted setup
    for dev in (VETH_A, VETH_B):
        subprocess.run(["ip", "link", "del", dev], capture_output=True)


@contextlib.contextmanager
def wan_link():
    """Namespaces tsbA/tsbB, veth vtsA(10.77.0.1/24) <-> vtsB(10.77.0.2/24), netem on both
    ends: 20 ms each way (40 ms RTT), 0.1 % loss each way, 50 Mbit/s. Removed on exit."""
    if os.geteuid() != 0:
        raise BenchError("wan: creating network namespaces needs root")
    # TSBENCH_WAN_NO_NETEM=1: namespaces and veth only, no netem (checks the plumbing on a
    # kernel without sch_netem; the results are then labelled "wan-no-netem", not "wan")
    no_netem = os.environ.get("TSBENCH_WAN_NO_NETEM") == "1"
    _cleanup_wan()
    try:
        step = lambda cmd, what: run(cmd, "wan", what)
        step(["ip", "netns", "add", NS_A], "ip netns add tsbA")
        step(["ip", "netns", "add", NS_B], "ip netns add tsbB")
        step(["ip", "link", "add", VETH_A, "netns", NS_A, "type", "veth", "peer", "name", VETH_B,
              "netns", NS_B], "creating the veth pair")
        for ns, dev, addr in ((NS_A, VETH_A, ADDR_A), (NS_B, VETH_B, ADDR_B)):
            nx = ["ip", "netns", "exec", ns]
            step(nx + ["ip", "addr", "add", f"{addr}/24", "dev", dev], f"address on {dev}")
            step(nx + ["ip", "link", "set", dev, "up"], f"{dev} up")
            step(nx + ["ip", "link", "set", "lo", "up"], f"lo up in {ns}")
            if no_netem:
                continue
            p = run(nx + ["tc", "qdisc", "add", "dev", dev, "root", "netem", *NETEM], "wan",
                    f"tc netem on {dev}", check=False)
            if p.returncode != 0:
                hint = ""
                if "unknown" in p.stderr:
                    hint = (" — this kernel has no netem qdisc (sch_netem not built in, no loadable "
                            "modules); the office-WAN case cannot run on this machine")
                raise BenchError(f"wan: tc qdisc add dev {dev} root netem {' '.join(NETEM)} failed: "
                                 f"{p.stderr.strip()}{hint}")
        # the link answers before anything uses it
        if shutil.which("ping"):
            run(["ip", "netns", "exec", NS_A, "ping", "-c", "1", "-W", "2", ADDR_B], "wan", "ping A->B",
                check=False)
        yield Link("wan-no-netem" if no_netem else "wan", Site("A", ADDR_A, ["ip", "netns", "exec", NS_A]),
                   Site("B", ADDR_B, ["ip", "netns", "exec", NS_B]), VETH_A)
    finally:
        _cleanup_wan()


def wan_description() -> str:
    return ("veth pair between network namespaces tsbA/tsbB, tc netem on both ends: "
            + " ".join(NETEM) + " (40 ms round trip)")


# ---------------------------------------------------------------- wire bytes

class WireCounter:
    """Counts TCP payload bytes, both directions, of packets whose source or destination
    port is in `ports`, captured on the link's interface at A.

    On `lo` every packet is seen exactly once by `tcpdump -i lo` (it is captured on the way
    out; the loopback receive is not a second capture), and on the veth end at A each packet
    passes once in one direction, so no packet is counted twice.

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
        elif linktype in (101, 12):  # raw IP
            l3 = 0
            et = 0x0800 if pkt[0] >> 4 == 4 else 0x86DD
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
