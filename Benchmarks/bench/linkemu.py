"""linkemu: a userspace link emulator for kernels without sch_netem.

Two TUN devices, one per network namespace (e.g. tunA in tsbA, tunB in tsbB), both held by this
one process, which reads each IP packet from one device and writes it into the other after

  * random loss: each packet is dropped independently with probability --loss (per direction,
    decided on arrival, like netem; a lost packet takes no link time); seeded RNG, seed printed;
  * a drop-tail queue: a packet is dropped when the bytes still waiting to be serialized ahead
    of it plus its own exceed --limit-bytes (default 2 x BDP = 2 x rate x 2 x delay, i.e. at most
    80 ms of queueing at 50 Mbit/s and 20 ms one way);
  * serialization at --rate bit/s: a packet departs at max(arrival, previous departure) +
    len*8/rate (len = IP length; no link-layer overhead);
  * propagation: delivered at departure + --delay seconds (one way).

Delivery is FIFO per direction (constant delay), so each direction is a deque of
(due time, packet); the loop waits in select() (microsecond timeout, unlike epoll/poll's
millisecond) until the next due time or a readable device. The process asks for SCHED_FIFO and
1 ns timer slack, locks its memory and turns off Python's cyclic GC, so that a busy machine does
not delay deliveries (it falls back quietly when it cannot). Lateness of every delivery (write
time - due time) is recorded.

    python3 -m bench.linkemu --a tsbA:tunA --b tsbB:tunB --rate 50e6 --delay 0.020 \\
        --loss 0.001 --stats /tmp/linkemu.json

The devices are created inside the named namespaces (/run/netns/NAME, as made by `ip netns add`)
with setns(2) before TUNSETIFF; no device is ever in the root namespace. The caller configures
addresses and brings them up (`ip netns exec NS ip addr add ... dev tunA`). They disappear when
this process exits. It prints "linkemu ready" once both devices exist; SIGTERM/SIGINT end it and
write the final statistics (JSON) to --stats; SIGUSR1 rewrites them without stopping (the file's
"seq" counts the writes).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import errno
import fcntl
import gc
import json
import os
import random
import select
import signal
import struct
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PR_SET_PDEATHSIG = 1
PR_SET_TIMERSLACK = 29

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def setns(fd: int):
    if libc().setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns(CLONE_NEWNET): {os.strerror(e)}")


@contextlib.contextmanager
def in_netns(name: str):
    """The calling thread in network namespace /run/netns/<name> for the block (setns is per
    thread; sockets and TUN devices created in the block belong to that namespace for good)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        os.close(own)
        raise OSError(errno.ENOENT, f"network namespace {name} does not exist (/run/netns/{name})")
    try:
        setns(target)
        try:
            yield
        finally:
            setns(own)
    finally:
        os.close(target)
        os.close(own)


def netns_call(name: str, fn, *args):
    """fn(*args) on a short-lived thread inside namespace `name` (the caller's thread never
    changes namespace). Use it to create sockets there: socket.create_server(...) etc."""
    out = {}

    def body():
        try:
            with in_netns(name):
                out["v"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            out["e"] = e

    t = threading.Thread(target=body, name=f"netns-{name}")
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["v"]


def open_tun(netns: str, dev: str) -> int:
    """A non-blocking fd of a new TUN device `dev` (IFF_TUN | IFF_NO_PI: bare IP packets) created
    in namespace `netns`."""
    with in_netns(netns):
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", dev.encode(), IFF_TUN | IFF_NO_PI))
        except OSError as e:
            os.close(fd)
            raise OSError(e.errno, f"TUNSETIFF {dev} in {netns}: {e.strerror}") from None
    return fd


class Direction:
    """One direction of the link: loss, drop-tail queue, serialization, propagation."""

    def __init__(self, name: str, out_fd: int, rate: float, delay: float, loss: float,
                 limit_bytes: int, rng: random.Random):
        self.name, self.out_fd = name, out_fd
        self.byte_time = 8.0 / rate
        self.delay, self.loss, self.limit_bytes, self.rng = delay, loss, limit_bytes, rng
        self.q = collections.deque()      # (due, packet)
        self.last_depart = 0.0
        self.n_in = self.b_in = self.n_out = self.b_out = 0
        self.n_lost = self.n_qdrop = self.n_werr = 0
        self.max_backlog = 0
        self.late = [0] * 201             # lateness histogram, 50 us buckets, last = >= 10 ms
        self.late_max = 0.0
        self.late_events = []             # (time, lateness) of the first 50 deliveries > 1 ms late

    def arrive(self, pkt: bytes, now: float):
        n = len(pkt)
        self.n_in += 1
        self.b_in += n
        if self.loss and self.rng.random() < self.loss:
            self.n_lost += 1
            return
        start = self.last_depart if self.last_depart > now else now
        backlog = int((start - now) / self.byte_time)   # bytes not yet serialized ahead of it
        if backlog + n > self.limit_bytes:
            self.n_qdrop += 1
            return
        if backlog > self.max_backlog:
            self.max_backlog = backlog
        self.last_depart = start + n * self.byte_time
        self.q.append((self.last_depart + self.delay, pkt))

    def deliver(self, now: float) -> None:
        q = self.q
        while q and q[0][0] <= now:
            due, pkt = q.popleft()
            try:
                os.write(self.out_fd, pkt)
                self.n_out += 1
                self.b_out += len(pkt)
            except OSError as e:
                if e.errno in (errno.EBADFD, errno.EBADF, errno.ENODEV):
                    raise
                self.n_werr += 1
            late = now - due
            if late > self.late_max:
                self.late_max = late
            self.late[min(200, int(late * 20000))] += 1
            if late > 1e-3 and len(self.late_events) < 50:
                self.late_events.append((round(now, 4), round(late * 1e3, 3)))

    def stats(self) -> dict:
        tot = sum(self.late)

        def pct(p):
            if not tot:
                return None
            k, acc = p * tot, 0
            for i, c in enumerate(self.late):
                acc += c
                if acc >= k:
                    return (i + 1) * 50e-6
            return None

        return {"packets_in": self.n_in, "bytes_in": self.b_in, "packets_out": self.n_out,
                "bytes_out": self.b_out, "lost_random": self.n_lost, "dropped_queue": self.n_qdrop,
                "write_errors": self.n_werr, "queued_now": len(self.q),
                "max_backlog_bytes": self.max_backlog,
                "late_p50_s": pct(0.5), "late_p99_s": pct(0.99), "late_max_s": self.late_max,
                "late_over_1ms": sum(self.late[20:]), "late_events_ms": self.late_events}


class Emulator:
    def __init__(self, fd_a: int, fd_b: int, rate: float, delay: float, loss: float,
                 limit_bytes: int, seed: int, stats_path: str | None):
        self.fd_a, self.fd_b = fd_a, fd_b
        rng_ab, rng_ba = random.Random(seed), random.Random(seed + 1)
        self.ab = Direction("a->b", fd_b, rate, delay, loss, limit_bytes, rng_ab)
        self.ba = Direction("b->a", fd_a, rate, delay, loss, limit_bytes, rng_ba)
        self.params = {"rate_bit_s": rate, "delay_one_way_s": delay, "loss": loss,
                       "limit_bytes": limit_bytes, "seed": seed}
        self.stats_path = stats_path
        self.stop = False
        self.t0 = time.monotonic()
        self.want_stats = False
        self.seq = 0

    def stats(self) -> dict:
        return {"emulator": "linkemu", "pid": os.getpid(), "uptime_s": time.monotonic() - self.t0,
                **self.params, "a_to_b": self.ab.stats(), "b_to_a": self.ba.stats(), "seq": self.seq}

    def write_stats(self):
        self.seq += 1
        if not self.stats_path:
            return
        tmp = self.stats_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.stats(), f, indent=1)
        os.replace(tmp, self.stats_path)

    def loop(self):
        # signals (SIGUSR1, SIGTERM) wake select() through this pipe: select() itself restarts
        # after a signal handler (PEP 475) and would sleep on
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        fds = [self.fd_a, self.fd_b, wake_r]
        route = {self.fd_a: self.ab, self.fd_b: self.ba}
        mono, read, sel = time.monotonic, os.read, select.select
        ab, ba = self.ab, self.ba
        while not self.stop:
            now = mono()
            ab.deliver(now)
            ba.deliver(now)
            if self.want_stats:   # SIGUSR1: between deliveries, never on a timer (a file write
                self.want_stats = False  # can take a millisecond on a busy disk)
                self.write_stats()
                continue
            due = None
            if ab.q:
                due = ab.q[0][0]
            if ba.q and (due is None or ba.q[0][0] < due):
                due = ba.q[0][0]
            timeout = None if due is None else due - mono()
            if timeout is None or timeout > 0:
                try:
                    ready = sel(fds, [], [], timeout)[0]
                except InterruptedError:
                    continue
            else:
                ready = fds  # something is due: poll the devices without waiting
            for fd in ready:
                if fd == wake_r:
                    try:
                        os.read(wake_r, 512)
                    except BlockingIOError:
                        pass
                    continue
                d = route[fd]
                for _ in range(64):
                    try:
                        pkt = read(fd, 65536)
                    except BlockingIOError:
                        break
                    d.arrive(pkt, mono())


def parse_end(s: str) -> tuple[str, str]:
    ns, sep, dev = s.partition(":")
    if not sep or not ns or not dev or len(dev) > 15:
        raise argparse.ArgumentTypeError(f"expected NAMESPACE:DEVICE (device <= 15 chars), got {s!r}")
    return ns, dev


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.linkemu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=parse_end, required=True, help="NAMESPACE:DEVICE of end A")
    ap.add_argument("--b", type=parse_end, required=True, help="NAMESPACE:DEVICE of end B")
    ap.add_argument("--rate", type=float, default=50e6, help="bit/s per direction (default 50e6)")
    ap.add_argument("--delay", type=float, default=0.020, help="one-way delay, s (default 0.020)")
    ap.add_argument("--loss", type=float, default=0.001, help="loss probability per packet and "
                    "direction (default 0.001 = 0.1 %%)")
    ap.add_argument("--limit-bytes", type=int, default=0,
                    help="drop-tail queue limit in bytes per direction (default 2 x BDP = "
                         "rate/8 x 2 x delay x 2)")
    ap.add_argument("--seed", type=int, help="RNG seed for the loss (default: random, printed)")
    ap.add_argument("--stats", help="write statistics (JSON) here every second and at exit")
    ap.add_argument("--no-rt", action="store_true", help="do not ask for SCHED_FIFO")
    a = ap.parse_args(argv)
    limit = a.limit_bytes or int(2 * a.rate / 8 * 2 * a.delay)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")

    lc = libc()
    lc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)   # the runner died: stop too
    if os.getppid() == 1:
        return 1
    lc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    rt = "no"
    if not a.no_rt:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
            rt = "SCHED_FIFO 10"
        except (OSError, AttributeError) as e:
            rt = f"no ({e})"

    try:
        fd_a = open_tun(*a.a)
        fd_b = open_tun(*a.b)
    except OSError as e:
        print(f"linkemu: cannot open the TUN devices: {e}", flush=True)
        return 2
    emu = Emulator(fd_a, fd_b, a.rate, a.delay, a.loss, limit, seed, a.stats)

    def on_sig(*_):
        emu.stop = True
    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)

    def on_usr1(*_):
        emu.want_stats = True
    signal.signal(signal.SIGUSR1, on_usr1)
    print(f"linkemu: {a.a[0]}:{a.a[1]} <-> {a.b[0]}:{a.b[1]}, {a.rate / 1e6:g} Mbit/s, "
          f"{a.delay * 1000:g} ms one way, loss {a.loss * 100:g} %, queue limit {limit} bytes, "
          f"seed {seed}, realtime {rt}", flush=True)
    emu.write_stats()
    print("linkemu ready", flush=True)
    # no pauses of our own: the loop makes no reference cycles, and no page faults
    gc.collect()
    gc.freeze()
    gc.disable()
    lc.mlockall(3)  # MCL_CURRENT | MCL_FUTURE; best effort
    code = 0
    try:
        emu.loop()
    except OSError as e:
        print(f"linkemu: device error, stopping: {e}", flush=True)
        code = 3
    emu.write_stats()
    s = emu.stats()
    for k in ("a_to_b", "b_to_a"):
        d = s[k]
        print(f"linkemu {k}: {d['packets_in']} packets in, {d['packets_out']} out, "
              f"{d['lost_random']} lost (random), {d['dropped_queue']} dropped (queue full), "
              f"max backlog {d['max_backlog_bytes']} B, lateness p99 "
              f"{(d['late_p99_s'] or 0) * 1e3:.2f} ms max {d['late_max_s'] * 1e3:.2f} ms", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
