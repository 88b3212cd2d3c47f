#!/usr/bin/env python3
"""Regenerate testdata/vectors/nmt.json.

- `celestia_example`: the published example of celestiaorg/nmt (README /
  example_test.go / docs/proof-format.md): leaves leaf_0..leaf_3 in
  namespaces 0, 0, 1, 3 (1-byte namespaces); the proof for namespace 1 is
  [2, 3) with the two nodes and the JSON they print.
- `cases`: deterministic trees whose roots and proofs come from the
  pure-Python reference NMT (python/tests/nmt_reference.py), an
  implementation independent of the Rust one.
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
    out = HERE / "vectors" / "nmt.json"
    out.write_text(json.dumps({"celestia_example": CELESTIA, "cases": cases}, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(cases)} trees)")


if __name__ == "__main__":
    main()
