#!/usr/bin/env python3
"""`make bench`: animica_native against the libraries people use today,
measured in one run on this machine, printed and written as Markdown.

Each figure is the best of several repeats (time.perf_counter); a ratio is
peer_time / our_time, so > 1 means we are faster. Targets come from the
project's issue and are reported, never asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import pickle
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import blake3 as blake3_pkg
import reed_solomon_leopard
import zfec
from Crypto.Hash import keccak as crypto_keccak

import animica_native as an

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "tests"))
import nmt_reference  # noqa: E402

MiB = 1 << 20


def best(fn: Callable[[], Any], repeat: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def pair(ours: Callable[[], Any], theirs: Callable[[], Any], repeat: int = 7) -> tuple[float, float]:
    """Best time of each, measured alternately so that drift in the
    machine (frequency, neighbours on the host) hits both sides alike."""
    ours()
    theirs()
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        for fn, times in ((ours, a), (theirs, b)):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return min(a), min(b)


def idle_medians(calls: dict[str, Callable[[], Any]], repeat: int = 100, idle: float = 0.0005) -> dict[str, float]:
    """Median time of each call, each run after `idle` seconds in which
    this thread spins and the pool's workers have gone to sleep, as between
    the calls of a program that does other work; the calls take turns."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for fn in calls.values():
        fn()
    for _ in range(repeat):
        for key, fn in calls.items():
            until = time.perf_counter() + idle
            while time.perf_counter() < until:
                pass
            t = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def parallel_by_size() -> list[str]:
    """Issue 14, point 3: no size may be slower on 2 threads than on 1.
    Below its threshold a call stays on the calling thread, so there the
    two are the same code and differ by noise; 5% is allowed for it."""
    lines = ["Parallel against serial by size, after 0.5 ms idle (medians of 100 calls, taking turns; "
             "a size is slower when 2 threads take over 1.05x the time of 1):", "",
             "| call | 1 thread (ms) | 2 threads (ms) | 2 / 1 | not slower |", "| --- | ---: | ---: | ---: | --- |"]
    cases: list[tuple[str, Callable[[int], Any]]] = []
    for count in (128, 256, 512, 768, 1024, 2048, 4096, 16384):
        leaves = [os.urandom(512) for _ in range(count)]
        nss = [(i // 4).to_bytes(29, "big") for i in range(count)]
        cases.append((f"nmt.root {count:,} x 512 B", lambda t, l=leaves, n=nss: an.nmt.root(l, n, namespace_size=29,
                                                                                            max_threads=t)))
    for kib in (8, 16, 24, 32, 64):
        data = [os.urandom(kib * 1024) for _ in range(32)]
        parity = an.rs.encode(data, 32)
        lost = [None if i % 2 == 0 and i < 32 else s for i, s in enumerate([*data, *parity])]
        cases.append((f"rs.encode 32+32 x {kib} KiB", lambda t, d=data: an.rs.encode(d, 32, max_threads=t)))
        cases.append((f"rs.reconstruct 16 of 32 lost, {kib} KiB",
                      lambda t, s=lost: an.rs.reconstruct(list(s), 32, max_threads=t)))
    for name, call in cases:
        m = idle_medians({"1": lambda: call(1), "2": lambda: call(2)})
        ratio = m["2"] / m["1"]
        lines.append(f"| {name} | {m['1'] * 1e3:.4f} | {m['2'] * 1e3:.4f} | {ratio:.2f} | "
                     f"{'yes' if ratio <= 1.05 else '**no**'} |")
        print(lines[-1])
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench/results.md"))
    args = ap.parse_args()
    rows: list[tuple[str, str, float, float, str, bool]] = []

    def row(name: str, peer: str, ours: float, theirs: float, target: float, note: str = "") -> None:
        ratio = theirs / ours
        rows.append((name, peer, ours, theirs, f">= {target:g}x" + (f" {note}" if note else ""), ratio >= target))
        print(f"{name:45s} {ratio:6.2f}x  (ours {ours*1e3:9.3f} ms, {peer} {theirs*1e3:9.3f} ms)", flush=True)

    # Parity lines (issue 14, point 6): the same kernels as the peer, so
    # parity is the bound, and the goal allows 2% of measurement noise.
    big = os.urandom(64 * MiB)
    row("blake3 64 MiB, 1 thread", "blake3",
        *pair(lambda: an.hash.blake3(big, max_threads=1), lambda: blake3_pkg.blake3(big).digest(), 15), 0.98,
        "(parity: the blake3 crate's kernels on both sides)")
    row("blake3 64 MiB, all threads", "blake3 AUTO",
        *pair(lambda: an.hash.blake3(big), lambda: blake3_pkg.blake3(big, max_threads=blake3_pkg.blake3.AUTO).digest(), 15),
        0.98, "(parity: the blake3 crate's kernels on both sides)")
    row("sha256 64 MiB", "hashlib", *pair(lambda: an.hash.sha256(big), lambda: hashlib.sha256(big).digest(), 9), 0.98,
        "(parity: both bound by the SHA-NI round latency)")
    row("keccak256 64 MiB", "pycryptodome",
        *pair(lambda: an.hash.keccak256(big), lambda: crypto_keccak.new(digest_bits=256, data=big).digest(), 5), 1.2)

    small = os.urandom(64)
    n = 200_000
    ours, theirs = pair(lambda: [an.hash.sha256(small) for _ in range(n)], lambda: [hashlib.sha256(small).digest() for _ in range(n)], 5)
    ours, theirs = ours / n, theirs / n
    rows.append(("sha256, 64-byte message, per call", "hashlib", ours, theirs, "<= 0.9x time", ours <= 0.9 * theirs))
    print(f"{'sha256 64 B per call':45s} {ours/theirs:6.2f}x time (ours {ours*1e9:.0f} ns, hashlib {theirs*1e9:.0f} ns)")

    msgs = [os.urandom(64) for _ in range(1_000_000)]
    # Nine pairs, not five: on a shared two-core VM the same build's call
    # took 49-53 ms in quiet spells and 57-63 ms in busy ones, minutes apart
    # (each side's best of five, alternating with the loop).
    ours_many, loop = pair(lambda: an.hash.sha256_many(msgs), lambda: [hashlib.sha256(m).digest() for m in msgs], 9)
    row("sha256_many, 1,000,000 x 64 B", "Python loop", ours_many, loop, 6.0)
    # What bounds any function returning a list of a million `bytes`: making
    # and freeing that list (each timed call above frees its result too).
    blob = pickle.dumps(an.hash.sha256_many(msgs), protocol=5)
    output = best(lambda: pickle.loads(blob), 5)
    many_note = (f"sha256_many's output alone: making and freeing the same 1,000,000 32-byte digests as a list of "
                 f"bytes (pickle.loads) takes {output * 1e3:.1f} ms, the whole call {ours_many * 1e3:.1f} ms, and "
                 f"the goal of {6.0:g}x the loop {loop / 6.0 * 1e3:.1f} ms")
    print(many_note)

    data = [os.urandom(64 * 1024) for _ in range(32)]
    leo = lambda: reed_solomon_leopard.encode(data, 32)  # noqa: E731
    row("rs.encode 32+32 x 64 KiB, 1 thread", "reed-solomon-leopard", *pair(lambda: an.rs.encode(data, 32, max_threads=1), leo, 100), 1.0)
    row("rs.encode 32+32 x 64 KiB, 2 threads", "reed-solomon-leopard", *pair(lambda: an.rs.encode(data, 32, max_threads=2), leo, 100), 1.5)
    enc = zfec.Encoder(32, 64)
    row("rs.encode 32+32 x 64 KiB", "zfec", *pair(lambda: an.rs.encode(data, 32), lambda: enc.encode(data, list(range(32, 64))), 10), 50.0)

    # Decode: 16 of the 32 data shards lost, all 32 parity shards at hand
    # (zfec takes exactly k shares: the 16 survivors and 16 parity). Calls
    # alternate between losing the even and the odd shards: the decoder
    # remembers its last loss pattern's error locator per thread, and a
    # benchmark repeating one pattern would time only that.
    ours_parity = an.rs.encode(data, 32)
    leo_parity = reed_solomon_leopard.encode(data, 32)
    patterns = [set(range(first, 32, 2)) for first in (0, 1)]
    ours_inputs = itertools.cycle([[None if i in lost else data[i] for i in range(32)] + list(ours_parity) for lost in patterns])
    leo_inputs = itertools.cycle([{i: data[i] for i in range(32) if i not in lost} for lost in patterns])
    leo_dec = lambda: reed_solomon_leopard.decode(32, 32, next(leo_inputs), dict(enumerate(leo_parity)))  # noqa: E731
    for threads, target in ((1, 1.3), (2, 1.8)):
        row(f"rs.reconstruct 16 of 32 lost, 64 KiB, {threads} thread(s)", "reed-solomon-leopard",
            *pair(lambda: an.rs.reconstruct(next(ours_inputs), 32, max_threads=threads), leo_dec, 50), target)
    # Shards of 1 MiB: the codec's work buffer (64 MiB) fits no cache
    # unless the columns are cut into blocks (codec::in_blocks).
    wide = [os.urandom(1 << 20) for _ in range(32)]
    wide_parity, wide_leo_parity = an.rs.encode(wide, 32), reed_solomon_leopard.encode(wide, 32)
    wide_inputs = itertools.cycle([[None if i in lost else wide[i] for i in range(32)] + list(wide_parity) for lost in patterns])
    wide_leo = itertools.cycle([{i: wide[i] for i in range(32) if i not in lost} for lost in patterns])
    row("rs.reconstruct 16 of 32 lost, 1 MiB, 1 thread", "reed-solomon-leopard",
        *pair(lambda: an.rs.reconstruct(next(wide_inputs), 32, max_threads=1),
              lambda: reed_solomon_leopard.decode(32, 32, next(wide_leo), dict(enumerate(wide_leo_parity))), 10), 1.3)
    del wide, wide_parity, wide_leo_parity, wide_inputs, wide_leo
    kept = {i: data[i] for i in range(32) if i not in patterns[0]}
    zfec_parity = enc.encode(data, list(range(32, 64)))
    shares = [data[i] for i in sorted(kept)] + zfec_parity[:16]
    nums = sorted(kept) + list(range(32, 48))
    dec = zfec.Decoder(32, 64)
    row("rs.reconstruct 16 of 32 lost, 64 KiB", "zfec",
        *pair(lambda: an.rs.reconstruct(next(ours_inputs), 32), lambda: dec.decode(shares, nums), 10), 8.0)

    leaves = [os.urandom(512) for _ in range(65536)]
    nss = [(i // 256).to_bytes(8, "big") for i in range(65536)]
    ours_nmt, ref_nmt = pair(lambda: an.nmt.root(leaves, nss), lambda: nmt_reference.root(leaves, nss), 3)
    ours_nmt = min(ours_nmt, best(lambda: an.nmt.root(leaves, nss), 10))
    # Issue 2's goal, which ended blocked: 50x needs the tree's 720,894
    # compressions in about 2.4 ms on two cores, under the floor of any
    # SHA-256 kernel here; issue 14 restated it against hashlib (below).
    row("nmt.root 65,536 x 512 B", "pure-Python reference", ours_nmt, ref_nmt, 50.0,
        "(issue 2's goal, out of reach on 2 cores; issue 14 restates it below)")
    flat = b"".join(leaves)
    avx512 = an.build_info()["backend"] == "avx512"
    # The goals are issue 14's, each row held to its own. Its AVX2 + SHA-NI
    # goals are stated for one and for two threads. Where AVX-512 runs, the
    # path "keeps its figures (>= 1.8x)": the figure the issue quotes is this
    # call as `make bench` timed it then (bench/results.md before 2bdbd15:
    # 3626 against 1988 MiB/s), with every thread, 8-byte namespaces, and one
    # SHA-256 of the leaf bytes on the other side. Each root is timed in turn
    # with the hashlib pass it is held to: a slow spell of a shared machine
    # (one run measured the 1-thread root at 33 ms, where the Rust bench of
    # the same run took 23) slows both. Twenty pairs, not ten: with ten, two
    # runs of the same build an hour apart gave the 1-thread row 1.14x and
    # 1.41x.
    if avx512:
        t, once = pair(lambda: an.nmt.root(leaves, nss), lambda: hashlib.sha256(flat).digest(), 20)
        row("nmt.root 65,536 x 512 B, all threads, 8-byte namespaces", "one hashlib SHA-256 of the same bytes", t,
            once, 1.8, "(the AVX-512 figure issue 14 keeps)")
    # The tree's work against the bound of hashing its bytes once: Celestia's
    # 29-byte namespaces, as the issue states the goals for nmt-rs.
    nss29 = [(i // 256).to_bytes(29, "big") for i in range(65536)]
    for threads, target in ((1, 1.2), (2, 2.0)):
        t, once = pair(lambda: an.nmt.root(leaves, nss29, namespace_size=29, max_threads=threads),
                       lambda: hashlib.sha256(flat).digest(), 20)
        row(f"nmt.root 65,536 x 512 B, {threads} thread(s)", "one hashlib SHA-256 of the same bytes", t, once, target)

    # Files: a 1 GiB file, in the page cache, against the command-line tools
    # (their process start is about a millisecond of the hundreds measured).
    gib = Path(__file__).resolve().parents[1] / "target" / "bench" / "1gib.bin"
    if not gib.is_file() or gib.stat().st_size != 1 << 30:
        gib.parent.mkdir(parents=True, exist_ok=True)
        with gib.open("wb") as f:
            for _ in range(16):
                f.write(os.urandom(64 * MiB))
    b3sum = os.environ.get("B3SUM", "b3sum")
    # b3sum hashes the same way (the blake3 crate's update_rayon over a
    # memory map): parity is the bound, and the page faults of the map
    # (about 8 ms of the 1 GiB here) are paid on both sides.
    notes = {"blake3": "(parity: b3sum maps the file and runs the same blake3 kernels)", "sha256": ""}
    for algorithm, tool in (("blake3", [b3sum]), ("sha256", ["sha256sum"])):
        run_tool = lambda: subprocess.run([*tool, str(gib)], check=True, stdout=subprocess.DEVNULL)  # noqa: E731
        row(f"hash.file 1 GiB ({algorithm}, page cache warm)", Path(tool[0]).name,
            *pair(lambda: an.hash.file(str(gib), algorithm), run_tool, 9), 1.0, notes[algorithm])

    # The Rust NMT peer (nmt-rs 0.2.5), measured by a Rust bench in one run.
    targets = {"nmt root 65536 x 512 B, 1 thread(s)": 4.0, "nmt root 65536 x 512 B, 2 thread(s)": 7.0,
               "nmt range proof verification, per proof (65,536 leaves)": 3.0,
               "nmt proof verification, verify_many of 1,000, per proof, 1 thread(s)": 3.0,
               "nmt proof verification, verify_many of 1,000, per proof, 2 thread(s)": 3.0}
    bench = subprocess.run(["cargo", "bench", "-q", "--locked", "-p", "animica-core", "--bench", "nmt_peer"],
                           cwd=Path(__file__).resolve().parents[1], check=True, capture_output=True, text=True)
    verify_note = root_note = ""
    info = an.build_info()
    bounds = {}
    for line in bench.stdout.splitlines():
        if not line.startswith("{"):
            continue
        m = json.loads(line)
        if "kind" in m:
            bounds[m["kind"]] = m
        else:
            row(m["name"], "nmt-rs 0.2.5", m["ours"], m["peer"], targets.get(m["name"], 1.0))
    # The SHA unit's own limits (x86_64 with SHA-NI): a block is 32
    # `sha256rnds2`, so no SHA-NI kernel compresses a block faster than 32
    # times the unit's issue interval, nor a chain's block faster than 32
    # times the instruction's latency.
    unit = bounds.get("sha_unit")
    if m := bounds.get("root"):
        root_note = (f"{m['bound']}: bound of a root, whatever the tree does besides hashing: its "
                     f"{m['blocks']:,} compressions through this backend's SHA-256 batch kernel "
                     f"({info['sha256_batch']}) take {m['hashing'] * 1e3:.2f} ms on one thread and "
                     f"{m['hashing_2'] * 1e3:.2f} ms on two (each hashing its half at once), one SHA-256 of the "
                     f"leaf bytes {m['once'] * 1e3:.2f} ms (sha2: one chain, as hashlib); so at most "
                     f"{m['once'] / m['hashing']:.2f}x on one thread and {m['once'] / m['hashing_2']:.2f}x on two "
                     "(measured on a 64th of each, in cache)")
        if unit and info["sha256_batch"].startswith("SHA-NI"):
            floor = m["blocks"] * 32 * unit["issue"]
            root_note += (f". The SHA unit itself takes a sha256rnds2 every {unit['issue'] * 1e9:.3f} ns at best "
                          f"(eight independent chains), 32 a block: no SHA-NI kernel hashes these blocks in under "
                          f"{floor * 1e3:.2f} ms on one thread, at most {m['once'] / floor:.2f}x; hashing them "
                          f"through this kernel runs at {floor / m['hashing']:.0%} of that rate")
        print(root_note)
    if m := bounds.get("verify"):
        # A proof's compressions that wait on the one before form one
        # chain; each of the others costs at least what one more block
        # beside a chain adds (s chains, a block of each in turn, take
        # s times their per-block time); and all of them together at
        # least the unit's best throughput.
        dependent, others = m["dependent_blocks"], m["blocks"] - m["dependent_blocks"]
        added = max(0.0, min(2 * m["two"] - m["block"], (4 * m["four"] - m["block"]) / 3))
        beside = dependent * m["block"] + others * added
        work = m["blocks"] * min(m["block"], m["two"], m["four"])
        floor = max(beside, work)
        verify_note = (f"{m['bound']}: bound of a verifier on this CPU's SHA-256 unit (sha2, SHA-NI). Of a proof's "
                       f"{m['blocks']} compressions, {dependent:.1f} on average wait on the one before: one chain, "
                       f"at {m['block'] * 1e9:.1f} ns each. Two chains, a block of each in turn, take "
                       f"{m['two'] * 1e9:.1f} ns a block and four {m['four'] * 1e9:.1f}, so each of the other "
                       f"{others:.1f} adds at least {added * 1e9:.1f} ns beside the chain: "
                       f"{beside * 1e6:.2f} us in all (all {m['blocks']} at the best throughput alone: "
                       f"{work * 1e6:.2f} us); so at most {m['peer'] / floor:.2f}x nmt-rs")
        if unit:
            # The hardware's limit: the chain's rounds at the instruction's
            # latency, every other block slotted between them for free.
            chain = dependent * 32 * unit["latency"]
            rate = m["blocks"] * 32 * unit["issue"]
            verify_note += (f". The SHA unit's own limit, were every other block hidden between the chain's "
                            f"rounds: {dependent:.1f} blocks of 32 sha256rnds2 at their latency of "
                            f"{unit['latency'] * 1e9:.3f} ns, {chain * 1e6:.2f} us (all {m['blocks']} at its issue "
                            f"rate: {rate * 1e6:.2f} us); so at most {m['peer'] / max(chain, rate):.2f}x nmt-rs "
                            "with nothing else done")
        print(verify_note)
    if m := bounds.get("shared"):
        # Not a bound: what the workload shares. verify_many hashes a parent
        # once for adjacent climbs with equal messages (claims sorted by
        # root, then leaf; chunks of 64).
        verify_note += (f"\n\n{m['bound']}: its {m['parents']:,} parents (16 a proof) hold {m['distinct']:,} distinct "
                        f"ones, the paths of one tree joining near the root; verify_many takes the claims in leaf "
                        f"order and hashes a parent once for neighbouring climbs that have met (nmt-rs verifies each "
                        f"proof alone). verify (one proof) shares nothing.")
        print(verify_note.split("\n\n")[-1])

    cpuinfo = open("/proc/cpuinfo").read().splitlines()
    cpu = next((l.split(":", 1)[1].strip() for l in cpuinfo if l.startswith("model name")), "?")
    # "AMD EPYC" alone does not say which generation: family 25 is Zen 3/4, 26 Zen 5.
    family = next((l.split(":", 1)[1].strip() for l in cpuinfo if l.startswith("cpu family")), None)
    if family:
        cpu += f" (CPU family {family})"
    capped = f", capped by ANIMICA_BACKEND={os.environ['ANIMICA_BACKEND']}" if os.environ.get("ANIMICA_BACKEND") else ""
    kernels = (f"Backend `{info['backend']}`{capped} (this CPU runs: {', '.join(info['backends'])}): SHA-256 batches "
               f"{info['sha256_batch']}; Keccak {info['keccak']}; Reed-Solomon {info['reed_solomon']}.")
    lines = [
        "# Benchmark results",
        "",
        f"Measured by `make bench` on {platform.machine()} {cpu}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}, animica_native {an.__version__}. Ratio = peer time / our time "
        "(higher is better), best of several runs, all in one process.",
        "",
        kernels,
        "",
        "| benchmark | peer | ours (ms) | peer (ms) | ratio | target | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, peer, o, t, target, ok in rows:
        lines.append(f"| {name} | {peer} | {o*1e3:.4f} | {t*1e3:.4f} | {t/o:.2f}x | {target} | {'yes' if ok else '**no**'} |")
    lines += ["", many_note, "", root_note, "", verify_note, "", *parallel_by_size(), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
