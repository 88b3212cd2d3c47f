#!/usr/bin/env python3
"""`make bench`, animica-env part: `animica-env analyze` against pipreqs on
the corpus of real projects (crates/animica-env/tests/corpus), in one run.

Speed: wall time of one process per project, as a user runs either tool
(pipreqs' analysis is its get_all_imports(), run offline: its PyPI look-ups
are left out, which only flatters it). Accuracy: the set of third-party
top-level modules each tool says a project imports at run time, against
the hand-reviewed truth in bench/analyze_truth.json (precision, recall).
Written to bench/env-results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "target" / "corpus"
SOURCES = ROOT / "crates" / "animica-env" / "tests" / "corpus" / "sources.json"
TRUTH = ROOT / "bench" / "analyze_truth.json"
PIPREQS = "import sys, json\nfrom pipreqs import pipreqs as p\nprint(json.dumps(sorted(p.get_all_imports(sys.argv[1]))))\n"


def best_of(cmd: list[str], repeat: int) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - t)
        out = r.stdout
    return best, out


def score(found: set[str], truth: set[str]) -> tuple[float, float]:
    hit = len(found & truth)
    return (hit / len(found) if found else 1.0), (hit / len(truth) if truth else 1.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", type=Path, default=ROOT / "target" / "release" / "animica-env")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "env-results.md")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    truth = {k: v for k, v in json.loads(TRUTH.read_text()).items() if not k.startswith("_")}
    rows = []
    ours_total = theirs_total = 0.0
    tp = {"ours": [0, 0, 0], "pipreqs": [0, 0, 0]}  # hits, found, truth
    for src in json.loads(SOURCES.read_text()):
        name = src["project"]
        target = CORPUS / src["target"]
        if not target.exists():
            raise SystemExit(f"{target} is missing: run `make corpus` first")
        # pipreqs takes a directory: give both tools the same one.
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / target.name
            (shutil.copytree if target.is_dir() else shutil.copy2)(target, dest)
            where = dest if target.is_dir() else Path(tmp)
            t_ours, out = best_of([str(args.bin), "analyze", "--python-version", "3.11", str(dest), "-"], args.repeat)
            report = json.loads(out)
            ours = set(report["modules"]) | set(report["optional"])
            t_pipreqs, out = best_of([sys.executable, "-c", PIPREQS, str(where)], args.repeat)
            theirs = set(json.loads(out))
        want = set(truth[name])
        ours_total += t_ours
        theirs_total += t_pipreqs
        for tool, found in (("ours", ours), ("pipreqs", theirs)):
            tp[tool][0] += len(found & want)
            tp[tool][1] += len(found)
            tp[tool][2] += len(want)
        rows.append((name, t_ours, t_pipreqs, score(ours, want), score(theirs, want),
                     sorted(theirs - want), sorted(want - theirs), sorted(ours ^ want)))
        print(f"{name:14s} ours {t_ours*1e3:7.1f} ms  pipreqs {t_pipreqs*1e3:7.1f} ms  {t_pipreqs/t_ours:6.1f}x", flush=True)

    def total(tool: str) -> str:
        hits, found, want = tp[tool]
        return f"precision {hits/found:.2f}, recall {hits/want:.2f}"

    speed = theirs_total / ours_total
    print(f"analyze vs pipreqs: {speed:.1f}x faster (target >= 20x); ours {total('ours')}; pipreqs {total('pipreqs')}")
    lines = [
        "# animica-env benchmark results",
        "",
        f"Measured by `make bench` on {os.cpu_count()} logical CPUs, Python {sys.version.split()[0]}. "
        "Times are the best of several runs of one process per project. Accuracy is against the hand-reviewed "
        "third-party imports in `bench/analyze_truth.json`.",
        "",
        "## analyze vs pipreqs (corpus of real projects)",
        "",
        "| project | ours (ms) | pipreqs (ms) | speed-up | ours P/R | pipreqs P/R | pipreqs extra | pipreqs missed | ours differs |",
        "| --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |",
    ]
    for name, to, tt, (po, ro), (pt, rt), extra, missed, diff in rows:
        lines.append(f"| {name} | {to*1e3:.1f} | {tt*1e3:.1f} | {tt/to:.1f}x | {po:.2f}/{ro:.2f} | {pt:.2f}/{rt:.2f} | "
                     f"{', '.join(extra) or '-'} | {', '.join(missed) or '-'} | {', '.join(diff) or '-'} |")
    lines += [
        "",
        f"Total: {ours_total*1e3:.1f} ms vs {theirs_total*1e3:.1f} ms, **{speed:.1f}x** (target >= 20x). "
        f"Ours: {total('ours')}; pipreqs: {total('pipreqs')}.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
