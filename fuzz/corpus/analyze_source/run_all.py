#!/usr/bin/env python3
"""Run every example in this folder, each in a fresh scratch directory.

The seed examples are the code blocks of the original API document, kept
byte for byte; `seed_hash_large_file.py` reads `dataset.bin` from the
working directory, so this runner writes one (16 MiB) before running it.
Exits non-zero if any example fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    examples = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("run_"))
    failed = []
    for ex in examples:
        with tempfile.TemporaryDirectory(prefix="animica-example-") as tmp:
            (Path(tmp) / "dataset.bin").write_bytes(os.urandom(16 << 20))
            print(f"== {ex.name}", flush=True)
            r = subprocess.run([sys.executable, str(ex)], cwd=tmp)
            if r.returncode != 0:
                failed.append(ex.name)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(examples)} examples ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
