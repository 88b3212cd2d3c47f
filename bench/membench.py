#!/usr/bin/env python3
"""`make membench`: memory of many live hasher objects, ours against the
ones people use, as seed 003 measures bindings: each implementation in a
process of its own creates a list of N objects, and the figure is the growth
of the resident set size (what the process really holds, native
allocations included), with the time it took.

    bench/membench.py [--count N] [--out bench/membench.md]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

CASES = {
    "SHA-256": [("hashlib.sha256()", "import hashlib", "hashlib.sha256()"),
                ("animica_native Sha256()", "import animica_native as an", "an.hash.Sha256()")],
    "Keccak-256": [("pycryptodome keccak", "from Crypto.Hash import keccak", "keccak.new(digest_bits=256)"),
                   ("animica_native Keccak256()", "import animica_native as an", "an.hash.Keccak256()")],
    "BLAKE3": [("blake3.blake3()", "import blake3", "blake3.blake3()"),
               ("animica_native Blake3()", "import animica_native as an", "an.hash.Blake3()")],
}

# Runs in a fresh interpreter: RSS before and after making the list.
PROBE = """
import gc, sys, time
{setup}
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
make = lambda: {expr}
make()
gc.collect()
before = rss()
t = time.perf_counter()
objs = [make() for _ in range({count})]
elapsed = time.perf_counter() - t
print(rss() - before, elapsed)
"""


def measure(setup: str, expr: str, count: int) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup, expr=expr, count=count)],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("bench/membench.md"))
    args = ap.parse_args()
    lines = ["# Memory of live hasher objects", "",
             f"`make membench`: {args.count:,} objects in a list, each implementation in its own process; "
             "growth of the resident set size. Goal (issue 14): ours <= 1.1x the peer's.", "",
             "| algorithm | implementation | memory (MiB) | bytes per object | time (s) | ratio to peer |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for algorithm, impls in CASES.items():
        peer_bytes = None
        for name, setup, expr in impls:
            best = min((measure(setup, expr, args.count) for _ in range(3)), key=lambda m: m[0])
            size, elapsed = best
            ratio = "" if peer_bytes is None else f"{size / peer_bytes:.2f}x"
            peer_bytes = peer_bytes or size
            lines.append(f"| {algorithm} | {name} | {size / 2**20:.1f} | {size / args.count:.0f} | {elapsed:.3f} | {ratio} |")
            print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
