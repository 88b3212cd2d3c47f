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


def timed(cmd: list[str], **kw: object) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - t


def median_of(cmd: list[str], n: int) -> float:
    times = sorted(timed(cmd) for _ in range(n))
    return times[n // 2]


def pack_and_run(binary: Path, conda_pack: str, lines: list[str]) -> None:
    """pack vs conda-pack on one prefix; cold and warm run vs tar + conda-unpack."""
    channel = ROOT / "target" / "channel"
    if not (channel / "noarch" / "repodata.json").exists():
        raise SystemExit("run `make channel` first")
    with tempfile.TemporaryDirectory(prefix="animica-bench-") as tmp:
        t = Path(tmp)
        (t / "spec.json").write_text('{"python": "3.11", "requirements": ["tabulate", "six"]}')
        env = dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(channel / "wheels"))
        subprocess.run([str(binary), "create", "-q", "-c", str(channel), "--cache", str(t / "cache"), str(t / "spec.json"),
                        str(t / "job")], check=True, env=env)
        # A plain conda prefix to give both packers: the environment unpacked,
        # without what animica-env adds to its archives.
        subprocess.run([str(binary), "run", "-u", str(t / "u"), str(t / "job.tar.zst"), "true"], check=True, capture_output=True)
        prefix = next((t / "u" / "envs").iterdir())
        for extra in ["bin/conda-unpack", "bin/activate"]:
            (prefix / extra).unlink()
        shutil.rmtree(prefix / ".animica-env")
        size = sum(f.stat().st_size for f in prefix.rglob("*") if f.is_file() and not f.is_symlink())
        rows = []
        for label, cmd, out in [
            ("conda-pack (.tar.gz)", [conda_pack, "-q", "-p", str(prefix), "-o", str(t / "cp.tar.gz"), "--force"], t / "cp.tar.gz"),
            ("animica-env pack (.tar.gz)", [str(binary), "pack", str(prefix), str(t / "ae.tar.gz")], t / "ae.tar.gz"),
            ("animica-env pack (.tar.zst)", [str(binary), "pack", str(prefix), str(t / "ae.tar.zst")], t / "ae.tar.zst"),
        ]:
            secs = min(timed(cmd) for _ in range(3))
            rows.append((label, secs, out.stat().st_size))
        base = rows[0][1]
        lines += ["## pack vs conda-pack (same prefix)", "",
                  f"The environment of `{{\"requirements\": [\"tabulate\", \"six\"]}}` (python 3.11, pip, tabulate, six): "
                  f"{size / 2**20:.1f} MiB in {sum(1 for _ in prefix.rglob('*'))} entries. Best of 3. "
                  "Both archives carry a small Python conda-unpack; animica-env's also its manifest (BLAKE3 of every file).", "",
                  "| packer | time (s) | vs conda-pack | archive (MiB) |", "| --- | ---: | ---: | ---: |"]
        for label, secs, nbytes in rows:
            lines.append(f"| {label} | {secs:.2f} | {base / secs:.1f}x | {nbytes / 2**20:.1f} |")
            print(f"{label:30s} {secs:6.2f} s  {nbytes / 2**20:7.1f} MiB", flush=True)
        # Cold start: unpack + make usable + run `python -c pass`.
        cold_ours = []
        cold_theirs = []
        for i in range(3):
            cold_ours.append(timed([str(binary), "run", "-u", str(t / f"cold{i}"), str(t / "ae.tar.zst"), "python", "-c", "pass"]))
            d = t / f"tar{i}"
            d.mkdir()
            cold_theirs.append(timed(["bash", "-c", f"tar -xzf {t / 'cp.tar.gz'} -C {d} && {d}/bin/conda-unpack && {d}/bin/python -c pass"]))
        warm = median_of([str(binary), "run", "-u", str(t / "cold0"), str(t / "ae.tar.zst"), "python", "-c", "pass"], 21)
        direct = median_of([str(next((t / "cold0" / "envs").iterdir()) / "bin" / "python"), "-c", "pass"], 21)
        warm_true = median_of([str(binary), "run", "-u", str(t / "cold0"), str(t / "ae.tar.zst"), "true"], 51)
        true = median_of(["true"], 51)
        lines += ["", "## run: cold and warm start", "",
                  "| start | animica-env run | tar -xzf + conda-unpack |", "| --- | ---: | ---: |",
                  f"| cold: unpack, verify, relocate, `python -c pass` (best of 3) | {min(cold_ours):.2f} s | {min(cold_theirs):.2f} s |",
                  f"| warm: `python -c pass` in the unpacked environment (median of 21) | {warm * 1e3:.1f} ms | {direct * 1e3:.1f} ms (the command alone) |",
                  "",
                  f"Warm overhead of `run` itself: {(warm_true - true) * 1e3:.2f} ms (median of 51 runs of `true`: "
                  f"{warm_true * 1e3:.2f} ms through `run`, {true * 1e3:.2f} ms directly; target < 10 ms).", ""]
        print(f"cold start: ours {min(cold_ours):.2f} s, tar+conda-unpack {min(cold_theirs):.2f} s; "
              f"warm overhead {(warm_true - true) * 1e3:.2f} ms", flush=True)


def score(found: set[str], truth: set[str]) -> tuple[float, float]:
    hit = len(found & truth)
    return (hit / len(found) if found else 1.0), (hit / len(truth) if truth else 1.0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", type=Path, default=ROOT / "target" / "release" / "animica-env")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "env-results.md")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--conda-pack", default=str(Path(sys.executable).with_name("conda-pack")))
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
    pack_and_run(args.bin, args.conda_pack, lines)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
