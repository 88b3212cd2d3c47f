#!/usr/bin/env python3
"""`make fuzz`: run every fuzz target for a bounded time and report, per
target, the executions and the coverage libFuzzer reached.

    ci/fuzz.py [--seconds N] [TARGET...]

Each target starts from its kept inputs (fuzz/corpus/<target>/ and
fuzz/regressions/<target>/, read only) and writes what it finds to a
working corpus under target/fuzz-corpus/<target>/, kept between runs. A
crash stops that target with libFuzzer's report; its input lands in
fuzz/artifacts/<target>/: fix the bug, then move the input to
fuzz/regressions/<target>/ (named for the bug), where `make test` replays it.
Exit status 1 if any target crashed.

libFuzzer runs one process on one core, so the targets run side by side,
one per core (--jobs, default: every core): each still gets its whole
time, and the run takes that much less wall clock.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["nmt_proofs", "rs_shards", "unpack_archive", "env_spec", "analyze_source"]
# The same flags for build and run (cargo fuzz rebuilds when they differ).
# Sixteen codegen units and no LTO (the workspace's release profile has fat
# LTO, which takes minutes per target).
FLAGS = ["--features", "libfuzzer", "--codegen-units", "16"]
# -D warnings: the fuzz build is the one place animica-env builds without its
# `solve` feature (cargo fuzz adds its own flags after these).
ENV = {**os.environ, "CARGO_PROFILE_RELEASE_LTO": "off",
       "RUSTFLAGS": (os.environ.get("RUSTFLAGS", "") + " -D warnings").strip()}
# libFuzzer's last status line: "#123456\tDONE   cov: 1234 ft: 5678 corp: 90/12Kb ... exec/s: 4321 ..."
STATUS = re.compile(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def run(target: str, seconds: int) -> tuple[bool, str]:
    work = ROOT / "target" / "fuzz-corpus" / target
    work.mkdir(parents=True, exist_ok=True)
    kept = [ROOT / "fuzz" / kind / target for kind in ("corpus", "regressions")]
    cmd = ["cargo", "+nightly", "fuzz", "run", *FLAGS, target, str(work),
           *[str(d) for d in kept if d.is_dir()],
           "--", f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=4096", "-print_final_stats=1"]
    start = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    log = p.stdout + p.stderr
    (ROOT / "target" / "fuzz-corpus" / f"{target}.log").write_text(log)
    last = None
    for m in STATUS.finditer(log):
        last = m
    if p.returncode != 0:
        tail = "\n".join(log.splitlines()[-40:])
        return False, f"{target}: CRASHED (exit {p.returncode}) after {elapsed:.0f} s\n{tail}"
    if last is None:
        return False, f"{target}: no libFuzzer status in its output (see target/fuzz-corpus/{target}.log)"
    runs, cov, ft, corp = (int(x) for x in last.groups())
    return True, (f"{target:15s} {runs:>10,} executions in {elapsed:4.0f} s ({runs / max(elapsed, 1e-9):>8,.0f}/s), "
                  f"coverage {cov} edges, {ft} features, corpus {corp} inputs")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="targets running at once (default: cores)")
    ap.add_argument("targets", nargs="*", default=TARGETS)
    args = ap.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown targets {sorted(unknown)}; known: {TARGETS}")
    build = subprocess.run(["cargo", "+nightly", "fuzz", "build", *FLAGS], cwd=ROOT, env=ENV)
    if build.returncode != 0:
        return 1
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run, t, args.seconds) for t in args.targets]
        for done in concurrent.futures.as_completed(futures):
            print(done.result()[1], flush=True)
    results = [f.result() for f in futures]
    failed = not all(ok for ok, _ in results)
    lines = [line.splitlines()[0] for _, line in results]
    print("\nfuzz summary:\n" + "\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
