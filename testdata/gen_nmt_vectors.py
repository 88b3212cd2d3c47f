#!/usr/bin/env python3
"""Regenerate testdata/vectors/nmt.json.

- `celestia_example`: the published example of celestiaorg/nmt (README /
  example_test.go / docs/proof-format.md): leaves leaf_0..leaf_3 in
  namespaces 0, 0, 1, 3 (1-byte namespaces); the proof for namespace 1 is
  [2, 3) with the two nodes and the JSON they print.
- `cases`: deterministic trees whose roots and proofs come from the
  pure-Python reference NMT (python/tests/nmt_reference.py), an
  implementation independent of the Rust one; then, for every namespace
  width 1..=64, every case of celestiaorg/nmt's ProveNamespace: out of range
  (below the first leaf, above the last, the empty tree), absence (between
  leaves, and just below the all-0xFF parity namespace) and presence (the
  parity namespace included, and a tree of parity leaves only).
- `verify_namespace`: proofs with our verdict (`valid`) and the one
  celestiaorg/nmt's VerifyNamespace gives them (`nmt_valid`), among them
  the empty proof that nmt v0.16+ returns for the parity namespace (both
  accept it). They differ in one case only: nmt ignores leaves passed
  with an absence proof; we return False.

testdata/check_nmt_go.py runs all of it through celestiaorg/nmt itself.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python" / "tests"))
import nmt_reference as ref  # noqa: E402

CELESTIA = {
    "namespace_size": 1,
    "leaves": ["leaf_0", "leaf_1", "leaf_2", "leaf_3"],
    "namespaces": ["00", "00", "01", "03"],
    "namespace": "01",
    "start": 2,
    "end": 3,
    "nodes": [
        "0000ead8d25851870e4e7b5e8e4d10092df495a0d73af6fec3709ac79fa6338f57ae",
        "0303b4a27922d95e91d4a566aaadcedf5026b620022715910a354184c0af384e1440",
    ],
    "json": '{"start":2,"end":3,"nodes":["AADq2NJYUYcOTntejk0QCS30laDXOvb+w3Cax5+mM49Xrg==",'
    '"AwO0onki2V6R1KVmqq3O31AmtiACJxWRCjVBhMCvOE4UQA=="],"is_max_namespace_ignored":true}',
}


def tree(rng: random.Random, size: int, n: int) -> tuple[list[bytes], list[bytes]]:
    pool = sorted({rng.randrange(1, 6).to_bytes(1, "big") * n for _ in range(4)})
    namespaces = sorted(rng.choice(pool) for _ in range(size))
    if size > 2 and rng.random() < 0.5:
        namespaces[-1] = b"\xff" * n  # exercise the ignore-max-namespace rule
    leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(size)]
    return leaves, namespaces


def ns(byte: int, n: int) -> bytes:
    return bytes([byte]) * n


def namespace_case(leaves: list[bytes], namespaces: list[bytes], queries: list[bytes], n: int) -> dict[str, object]:
    return {
        "namespace_size": n,
        "leaves": [x.hex() for x in leaves],
        "namespaces": [x.hex() for x in namespaces],
        "root": ref.root(leaves, namespaces, n).hex(),
        "proofs": [
            {"kind": "namespace", "namespace": q.hex(), "proof": ref.prove_namespace(leaves, namespaces, q, n).hex()}
            for q in queries
        ],
    }


def every_prove_namespace_case(rng: random.Random, n: int) -> list[dict[str, object]]:
    """Each branch of ProveNamespace at width `n`."""
    mixed = [ns(b, n) for b in (2, 2, 4, 6, 0xFF, 0xFF)]
    queries = [ns(b, n) for b in (0, 2, 3, 5, 6, 7, 0xFF)]
    leaves = [rng.randbytes(rng.randrange(0, 12)) for _ in mixed]
    parity_only = [ns(0xFF, n)] * 3
    no_parity = [ns(2, n), ns(4, n)]
    return [
        namespace_case(leaves, mixed, queries, n),
        namespace_case([b"p0", b"p1", b"p2"], parity_only, [ns(0, n), ns(0xFF, n)], n),
        namespace_case([b"a", b"b"], no_parity, [ns(1, n), ns(3, n), ns(5, n), ns(0xFF, n)], n),
        namespace_case([], [], [ns(0, n), ns(0xFF, n)], n),
    ]


def parity_verdicts(n: int) -> list[dict[str, object]]:
    """The parity namespace's proofs, ours and nmt v0.16+'s empty one, and
    what VerifyNamespace says of them (with the leaves each covers)."""
    leaves, namespaces = [b"x", b"y", b"z"], [ns(1, n), ns(2, n), ns(0xFF, n)]
    root = ref.root(leaves, namespaces, n)
    parity = ns(0xFF, n)
    inclusion = ref.prove_namespace(leaves, namespaces, parity, n)
    empty = ref.encode(n, 0, 0, [])
    absent = ref.prove_namespace(leaves, namespaces, ns(3, n), n)
    # (proof, leaves given, namespace, our verdict, celestiaorg/nmt's)
    rows = [
        (inclusion, [b"z"], parity, True, True),
        (inclusion, [], parity, False, False),
        (empty, [], parity, True, True),
        (absent, [], ns(3, n), True, True),
        # Above the root's max (which skips 0xFF): the verifier accepts the
        # empty proof even though leaves exist above it.
        (empty, [], ns(3, n), True, True),
        (empty, [], ns(2, n), False, False),
        # nmt ignores the leaves given with an absence proof; we refuse to
        # say that leaves belong to a namespace the proof shows is absent.
        (absent, [b"z"], ns(3, n), False, True),
    ]
    return [
        {
            "namespace_size": n,
            "root": root.hex(),
            "namespace": q.hex(),
            "leaves": [x.hex() for x in covered],
            "proof": proof.hex(),
            "valid": valid,
            "nmt_valid": nmt_valid,
        }
        for proof, covered, q, valid, nmt_valid in rows
    ]


def main() -> None:
    rng = random.Random(20261121)
    cases = []
    for n in (1, 8, 29):
        for size in (0, 1, 2, 3, 5, 8, 13, 31, 64, 100):
            leaves, namespaces = tree(rng, size, n)
            case: dict[str, object] = {
                "namespace_size": n,
                "leaves": [x.hex() for x in leaves],
                "namespaces": [x.hex() for x in namespaces],
                "root": ref.root(leaves, namespaces, n).hex(),
                "proofs": [],
            }
            proofs: list[dict[str, object]] = []
            if size:
                s = rng.randrange(size)
                e = rng.randrange(s + 1, size + 1)
                proofs.append({"kind": "range", "start": s, "end": e,
                               "proof": ref.prove_range(leaves, namespaces, s, e, n).hex()})
            for q in sorted({*namespaces[:1], b"\x00" * n, b"\x03" * n, b"\xff" * n}):
                proofs.append({"kind": "namespace", "namespace": q.hex(),
                               "proof": ref.prove_namespace(leaves, namespaces, q, n).hex()})
            case["proofs"] = proofs
            cases.append(case)
    verify: list[dict[str, object]] = []
    for n in range(1, 65):  # every width animica_native accepts
        cases.extend(every_prove_namespace_case(rng, n))
        verify.extend(parity_verdicts(n))
    out = HERE / "vectors" / "nmt.json"
    doc = {"celestia_example": CELESTIA, "cases": cases, "verify_namespace": verify}
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(cases)} trees)")


if __name__ == "__main__":
    main()
