#!/usr/bin/env python3
"""Checks that every system call a traced tradesyncd made is allowed by the unit's filter.

Usage: check_syscalls.py UNIT_FILE STRACE_OUTPUT

Reads the unit's SystemCallFilter= lines the way systemd(1) combines them (the first line
that is an allow list sets the allowed set; a line starting with ~ removes its calls),
expands @groups with `systemd-analyze syscall-filter`, and lists each traced call the
filter would refuse. Exit 0 when none, 1 otherwise, 2 on bad input.
"""
import functools
import re
import subprocess
import sys


@functools.lru_cache(None)
def expand(name):
    """The system calls of a @group (recursively), or the call itself."""
    if not name.startswith("@"):
        return frozenset([name])
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            calls |= expand(item)
    return frozenset(calls)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    unit, trace = sys.argv[1], sys.argv[2]
    allowed, denied = None, set()
    for line in open(unit, encoding="utf-8"):
        match = re.match(r"\s*SystemCallFilter=(~?)(.*)", line)
        if not match:
            continue
        calls = set().union(*(expand(item) for item in match.group(2).split()))
        if match.group(1):
            denied |= calls
        elif allowed is None:
            allowed = calls
        else:
            allowed |= calls
    if allowed is None:
        print(f"{unit}: no SystemCallFilter= allow list", file=sys.stderr)
        return 2
    used = {}
    for line in open(trace, encoding="utf-8", errors="replace"):
        match = re.match(r"\s*(?:\d+\s+)?([a-z_0-9]+)\(", line)
        if match:
            used[match.group(1)] = used.get(match.group(1), 0) + 1
    if not used:
        print(f"{trace}: no system calls traced", file=sys.stderr)
        return 2
    refused = sorted(name for name in used if name not in allowed - denied)
    print(f"{len(used)} distinct system calls traced ({sum(used.values())} calls); "
          f"the unit's filter allows {len(allowed - denied)}")
    for name in refused:
        print(f"REFUSED by {unit}: {name} (called {used[name]} times)")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
