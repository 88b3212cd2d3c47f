#!/usr/bin/env python3
"""Check the Nix files as far as a machine without nixpkgs can.

    ci/check_nix.py

- every .nix file parses (nix-instantiate --parse);
- flake.nix's inputs (evaluated with Nix builtins) are exactly flake.lock's
  root inputs, with the same `follows` and `flake = false`;
- flake.lock is a valid version-7 lock: every node locked to a GitHub commit
  (40 hex digits), an SRI sha256 narHash, a lastModified time, and an
  `original` that matches the input's URL.

nix/matrix.nix is evaluated and compared with the wheel matrix by
ci/matrix.py check. Building needs nixpkgs, which these machines cannot
fetch: see docs/nix.md for what was and was not run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Json = dict[str, Any]


def nix(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("nix-instantiate")
    if exe is None:
        sys.exit("check_nix: nix-instantiate is missing: apt-get install nix-bin (make release-deps installs it)")
    env = {**os.environ, "NIX_STATE_DIR": str(ROOT / "target" / "nix-state")}
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, env=env)


def nix_files() -> list[Path]:
    tracked = subprocess.run(["git", "ls-files", "*.nix"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    return sorted({ROOT / f for f in tracked} | set(ROOT.glob("*.nix")) | set((ROOT / "nix").glob("*.nix")))


def check_parse() -> list[str]:
    errors = []
    for f in nix_files():
        out = nix("--parse", str(f))
        if out.returncode != 0:
            errors.append(f"{f.relative_to(ROOT)} does not parse: {out.stderr.strip()}")
    return errors


def github_url(node: Json) -> str:
    o = node["original"]
    return f"github:{o['owner']}/{o['repo']}" + (f"/{o['ref']}" if "ref" in o else "")


def check_lock() -> list[str]:
    out = nix("--eval", "--strict", "--json", "-E", "(import ./flake.nix).inputs")
    if out.returncode != 0:
        return [f"flake.nix inputs do not evaluate: {out.stderr.strip()}"]
    inputs: Json = json.loads(out.stdout)
    lock: Json = json.loads((ROOT / "flake.lock").read_text())
    errors = []
    if lock.get("version") != 7 or lock.get("root") != "root":
        errors.append("flake.lock: version must be 7 with root node 'root'")
    nodes: Json = lock["nodes"]
    root_inputs = nodes["root"]["inputs"]
    if sorted(root_inputs) != sorted(inputs):
        errors.append(f"flake.lock root inputs {sorted(root_inputs)} != flake.nix inputs {sorted(inputs)}")
    for name, spec in inputs.items():
        node = nodes.get(root_inputs.get(name, ""), {})
        if not node:
            continue
        locked = node.get("locked", {})
        if spec.get("url") != github_url(node):
            errors.append(f"flake.lock {name}: original {github_url(node)} != flake.nix url {spec.get('url')}")
        if not re.fullmatch(r"[0-9a-f]{40}", locked.get("rev", "")):
            errors.append(f"flake.lock {name}: rev is not a commit id")
        nar = locked.get("narHash", "")
        if not nar.startswith("sha256-") or len(base64.b64decode(nar[7:], validate=True)) != 32:
            errors.append(f"flake.lock {name}: narHash is not an SRI sha256")
        if not isinstance(locked.get("lastModified"), int) or locked.get("type") != "github":
            errors.append(f"flake.lock {name}: needs type github and an integer lastModified")
        if spec.get("flake", True) != node.get("flake", True):
            errors.append(f"flake.lock {name}: flake = false must match flake.nix")
        follows = {k: [v["follows"]] for k, v in spec.get("inputs", {}).items() if "follows" in v}
        if follows != node.get("inputs", {}):
            errors.append(f"flake.lock {name}: inputs {node.get('inputs')} != flake.nix follows {follows}")
    return errors


def main() -> int:
    errors = check_parse() + check_lock()
    for e in errors:
        print(f"nix: {e}", file=sys.stderr)
    if not errors:
        print(f"nix: {len(nix_files())} files parse; flake.lock locks every input of flake.nix to a commit")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
