#!/usr/bin/env python3
"""Regenerate data/stdlib/X.Y.txt: the top-level standard-library module
names of CPython 2.7 and 3.6-3.14, one per line, sorted. (2.7 is there so
that Python 2 compatibility imports are never taken for dependencies.)

Each table is the union of two independent sources:
- stdlib-list 0.12.0 (a pinned wheel from PyPI), whose per-version lists
  cover every platform's modules (winreg, msvcrt, ...);
- the interpreter itself when a CPython of that version is installed
  (pyenv's ~/.pyenv/versions/X.Y.*): sys.stdlib_module_names from 3.10 on,
  before that the built-in modules plus what lives in its stdlib and
  lib-dynload directories.

Usage: python3 data/gen_stdlib.py   (from crates/animica-env)
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "stdlib"
VERSIONS = ["2.7"] + [f"3.{m}" for m in range(6, 15)]
STDLIB_LIST = "stdlib-list==0.12.0"

PROBE = r"""
import json, os, pkgutil, sys, sysconfig
names = set(sys.builtin_module_names)
if hasattr(sys, "stdlib_module_names"):
    names |= set(sys.stdlib_module_names)
else:
    paths = sysconfig.get_paths()
    dirs = [paths["stdlib"], os.path.join(paths["stdlib"], "lib-dynload"), paths.get("platstdlib", "")]
    for m in pkgutil.iter_modules([d for d in dirs if d and os.path.isdir(d)]):
        names.add(m.name)
names -= {"site-packages", "test", "__phello__.foo"}
print(json.dumps(sorted(n for n in names if n.isidentifier())))
"""


def from_stdlib_list(tmp: str) -> dict[str, set[str]]:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, STDLIB_LIST], check=True)
    whl = zipfile.ZipFile(glob.glob(os.path.join(tmp, "stdlib_list-*.whl"))[0])
    out = {}
    for v in VERSIONS:
        text = whl.read(f"stdlib_list/lists/{v}.txt").decode()
        out[v] = {line.split(".")[0] for line in text.split() if line and line.split(".")[0].isidentifier()}
    return out


def from_interpreter(version: str) -> set[str]:
    if version.startswith("2."):
        return set()  # stdlib-list's 2.7 table alone (the probe is Python 3)
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    if not found:
        return set()
    import json
    return set(json.loads(subprocess.run([found[-1], "-c", PROBE], check=True, capture_output=True, text=True).stdout))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        lists = from_stdlib_list(tmp)
    for v in VERSIONS:
        own = from_interpreter(v)
        names = sorted(lists[v] | own)
        (OUT / f"{v}.txt").write_text("\n".join(names) + "\n")
        print(f"{v}: {len(names)} names ({'with' if own else 'without'} a local interpreter)")


if __name__ == "__main__":
    main()
