"""Every parallel function called from 8 Python threads at once, over and
over, each answer compared with the same call made serially
(``max_threads=1``) before the threads start. The pool is shared by all
callers, and the batch functions release the GIL (or, for large batches,
overlap their output with the hashing), so this is where a data race or a
deadlock between callers would show."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import animica_native as an

THREADS = 8
ROUNDS = 6


def calls(tmp: Path) -> list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    """(name, function, args, kwargs) of every function that runs in parallel."""
    rnd = os.urandom
    big = rnd(3 << 20)
    path = tmp / "big.bin"
    path.write_bytes(big)
    small = [rnd(64) for _ in range(40_000)]
    mixed = [rnd(n % 3000) for n in range(2000)]
    leaves = [rnd(512) for _ in range(4096)]
    nss = [(i // 64).to_bytes(8, "big") for i in range(4096)]
    root = an.nmt.root(leaves, nss, max_threads=1)
    picks = list(range(0, 4096, 37))
    proofs = [an.nmt.prove(leaves, nss, i) for i in picks]
    data = [rnd(65536) for _ in range(16)]
    parity = an.rs.encode(data, 8, max_threads=1)
    lost = [None] * 8 + data[8:] + list(parity)
    return [
        ("blake3", an.hash.blake3, (big,), {}),
        ("blake3 xof", an.hash.blake3, (big,), {"length": 1000}),
        ("sha256_many", an.hash.sha256_many, (small,), {}),
        ("keccak256_many", an.hash.keccak256_many, (mixed,), {}),
        ("blake3_many", an.hash.blake3_many, (mixed,), {}),
        ("hash.file blake3", an.hash.file, (path,), {}),
        ("hash.file sha256", an.hash.file, (path, "sha256"), {}),
        ("nmt.root", an.nmt.root, (leaves, nss), {}),
        ("nmt.verify_many", an.nmt.verify_many,
         (proofs, [leaves[i] for i in picks], [nss[i] for i in picks], root), {}),
        ("rs.encode", an.rs.encode, (data, 8), {}),
        ("rs.reconstruct", an.rs.reconstruct, (lost, 16), {}),
        ("rs.verify", an.rs.verify, (data + list(parity), 16), {}),
    ]


def test_every_parallel_function_from_eight_threads(tmp_path: Path) -> None:
    todo = calls(tmp_path)
    serial = {name: fn(*args, **{**kw, "max_threads": 1}) for name, fn, args, kw in todo}
    failures: list[str] = []
    start = threading.Barrier(THREADS)

    def worker(k: int) -> None:
        start.wait()
        for r in range(ROUNDS):
            # Each thread walks the list from a different place, so every
            # pair of functions overlaps at some point.
            for j in range(len(todo)):
                name, fn, args, kw = todo[(j + k + r) % len(todo)]
                try:
                    got = fn(*args, **kw)
                except Exception as e:  # noqa: BLE001 - any exception is a failure to report
                    failures.append(f"thread {k}, round {r}, {name}: {e!r}")
                    continue
                if got != serial[name]:
                    failures.append(f"thread {k}, round {r}, {name}: differs from the serial result")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
        assert not t.is_alive(), "a caller is stuck (deadlock?)"
    assert not failures, "\n".join(failures[:20])
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"{THREADS} threads x {ROUNDS} rounds x {len(todo)} functions agree with serial (GIL enabled: {gil})")
