#!/usr/bin/env python3
"""`make leakcheck`: every binding of animica_native, error paths included,
called repeatedly under valgrind; any block "definitely" or "indirectly"
lost fails, as pkgcraft's bindings gate theirs.

    ci/leakcheck.py            run this file's workload under valgrind
    ci/leakcheck.py --workload the workload alone (what valgrind runs)

Three runs: the interpreter alone (must be clean), a deliberate leak of
5 x 1000 bytes through ctypes (must be caught: the gate can fail), and
the workload (must be clean).

Python runs with PYTHONMALLOC=malloc (so valgrind sees every allocation)
and Debian's CPython suppressions (/usr/lib/valgrind/python3.supp, from the
python3 package). A control run of the same interpreter without
animica_native must be clean under the same rules. The workload runs each
call ROUNDS times: a leak per call shows as ROUNDS lost blocks at one stack.

Besides leaks, any other valgrind error (an invalid read or write, a jump on
uninitialised memory) whose stack passes through our extension fails too.
Errors wholly inside the interpreter are counted but not failed: valgrind
3.19 does not model the getrandom() that seeds `random`, so CPython's
int.from_bytes of those bytes reads as uninitialised.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPPRESSIONS = [Path("/usr/lib/valgrind/python3.supp")]
ROUNDS = 3
LOST = re.compile(r"(definitely|indirectly) lost: ([\d,]+) bytes in ([\d,]+) blocks")


def expect(exc: type[BaseException], fn: object, *args: object, **kwargs: object) -> None:
    try:
        fn(*args, **kwargs)  # type: ignore[operator]
    except exc:
        return
    raise AssertionError(f"{fn} did not raise {exc.__name__}")


def workload() -> None:
    import animica_native as an

    data = os.urandom(300_000)
    small = [os.urandom(n) for n in range(0, 200, 7)]
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
        path = f.name
    try:
        for _ in range(ROUNDS):
            an.build_info()
            # Hashes: one-shot, batches, files, streaming objects, errors.
            for fn in (an.hash.sha256, an.hash.keccak256, an.hash.blake3):
                fn(data)
                fn(memoryview(data)[::1])
                expect(TypeError, fn, "text")
            an.hash.blake3(data, key=b"k" * 32, length=100, max_threads=2)
            an.hash.blake3(b"x", derive_key_context="ctx")
            expect(an.InvalidInput, an.hash.blake3, b"x", key=b"short")
            for many in (an.hash.sha256_many, an.hash.keccak256_many, an.hash.blake3_many):
                many(small)
                many([data] * 3, max_threads=2)
                many([os.urandom(64) for _ in range(20_000)])  # the overlapped path
                expect(TypeError, many, [b"a", 1])
                expect(an.InvalidInput, many, small, max_threads=0)
            for algorithm in ("blake3", "sha256", "keccak256"):
                an.hash.file(path, algorithm)
            expect(an.InvalidInput, an.hash.file, path, "md5")
            expect(OSError, an.hash.file, path + ".missing")
            for cls in (an.hash.Sha256, an.hash.Keccak256, an.hash.Blake3):
                h = cls(b"abc")
                h.update(data).update(memoryview(b"more"))
                h.copy().digest()
                h.hexdigest()
                expect(TypeError, h.update, "text")
            assert hashlib.file_digest is not None
            # NMT: trees, every proof kind, decode / encode, hostile proofs.
            leaves = [os.urandom(64) for _ in range(300)]
            nss = [(i // 20).to_bytes(8, "big") for i in range(300)]
            root = an.nmt.root(leaves, nss)
            an.nmt.root(leaves * 8, sorted(nss * 8), max_threads=2)
            proof = an.nmt.prove(leaves, nss, 5)
            assert an.nmt.verify(proof, leaves[5], nss[5], root)
            rp = an.nmt.prove_range(leaves, nss, 20, 40)
            assert an.nmt.verify_range(rp, leaves[20:40], nss[20], root)
            npf = an.nmt.prove_namespace(leaves, nss, nss[30])
            assert an.nmt.verify_namespace(npf, leaves[20:40], nss[30], root)
            absent = an.nmt.prove_namespace(leaves, nss, (7).to_bytes(8, "big") + b"")
            an.nmt.verify_namespace(absent, [], (7).to_bytes(8, "big"), root)
            assert all(an.nmt.verify_many([proof] * 100, [leaves[5]] * 100, [nss[5]] * 100, root, max_threads=2))
            p = an.nmt.Proof.from_bytes(rp)
            assert an.nmt.Proof.from_json(p.to_json()).to_bytes() == rp
            assert not an.nmt.verify(proof[:-1], leaves[5], nss[5], root)
            assert not an.nmt.verify(os.urandom(200), b"x", nss[0], root)
            expect(an.InvalidInput, an.nmt.root, leaves, nss[:-1])
            expect(an.InvalidInput, an.nmt.root, leaves, list(reversed(nss)))
            expect(an.InvalidInput, an.nmt.Proof.from_bytes, b"\x02")
            expect(an.InvalidInput, an.nmt.verify_many, [proof], [], [], root)
            # Reed-Solomon: encode, reconstruct with the parity's memory of
            # its counts, verify, odd lengths, errors.
            shards = [os.urandom(4096) for _ in range(8)]
            parity = an.rs.encode(shards, 4)
            lost = [None, shards[1], None, *shards[3:], *parity]
            an.rs.reconstruct(lost)
            an.rs.reconstruct(lost, 8, max_threads=2)
            assert an.rs.verify(shards + list(parity), 8)
            odd = [os.urandom(33) for _ in range(5)]
            an.rs.reconstruct([None, *odd[1:], *an.rs.encode(odd, 2)], 5)
            expect(an.ComputationFailed, an.rs.reconstruct, [None] * 6 + list(parity), 8)
            expect(an.InvalidInput, an.rs.encode, [b"ab", b"abc"], 2)
            expect(an.InvalidInput, an.rs.reconstruct, [b"a", None])
    finally:
        os.unlink(path)


def valgrind(args: list[str]) -> tuple[int, str]:
    log = tempfile.NamedTemporaryFile(suffix=".valgrind", delete=False)
    log.close()
    cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
           "--errors-for-leak-kinds=definite,indirect", "--num-callers=40",
           f"--log-file={log.name}", *[f"--suppressions={s}" for s in SUPPRESSIONS], *args]
    env = {**os.environ, "PYTHONMALLOC": "malloc", "RAYON_NUM_THREADS": "2"}
    rc = subprocess.run(cmd, env=env).returncode
    text = Path(log.name).read_text()
    os.unlink(log.name)
    return rc, text


def ours(text: str) -> list[str]:
    """Valgrind's error reports (leaks included) whose stack passes through
    the extension module or Rust code."""
    blocks = re.split(r"\n==\d+== \n", text)
    marks = ("_native.", "animica", "rust_", "pyo3")
    return [b for b in blocks if re.search(r"(lost in loss record|Invalid|uninitialised|Conditional jump|Mismatched|overlap)", b)
            and any(m in b for m in marks)]


def lost(text: str) -> int:
    """Bytes definitely or indirectly lost."""
    return sum(int(b.replace(",", "")) for _, b, _ in LOST.findall(text))


def summary(text: str) -> str:
    found = {kind: (b, n) for kind, b, n in LOST.findall(text)}
    return ", ".join(f"{k} lost {found.get(k, ('0', '0'))[0]} bytes in {found.get(k, ('0', '0'))[1]} blocks"
                     for k in ("definitely", "indirectly"))


LEAK = """import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
for _ in range(5):
    ctypes.memset(libc.malloc(1000), 1, 1000)
"""


def main() -> int:
    if "--workload" in sys.argv:
        workload()
        import animica_native as an

        print(f"leakcheck workload: done on backend {an.build_info()['backend']}")
        return 0
    missing = [str(s) for s in SUPPRESSIONS if not s.is_file()]
    if missing:
        print(f"leakcheck: missing suppressions {missing} (Debian's python3 ships python3.supp)", file=sys.stderr)
        return 1
    rc, text = valgrind([sys.executable, "-c", LEAK])
    if lost(text) != 5000:
        print(f"leakcheck: the deliberate leak of 5000 bytes was not seen ({summary(text)}): the gate is broken",
              file=sys.stderr)
        return 1
    print(f"leakcheck: a deliberate leak is caught: {summary(text)}")
    failed = False
    for name, args in (("control (interpreter alone)", [sys.executable, "-c", "import os, hashlib, tempfile"]),
                       ("animica_native workload", [sys.executable, __file__, "--workload"])):
        rc, text = valgrind(args)
        errors = re.search(r"ERROR SUMMARY: ([\d,]+) errors from ([\d,]+) contexts", text)
        mine = ours(text)
        print(f"leakcheck: {name}: {summary(text)}; {errors.group(0) if errors else 'no error summary'}; "
              f"{len(mine)} in animica_native (exit {rc})", flush=True)
        if rc != 0 or lost(text) > 0 or mine or not errors:
            failed = True
            print("\n\n".join(mine) or text[-20000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
