#!/usr/bin/env python3
"""Run the seed document's shell blocks (examples/seed_shell/*.sh) verbatim.

Each block runs with bash in the `python/` directory (where pyproject.toml
is) inside a fresh virtualenv, as a user following the document would, and
is then checked for what it promised:

- build_from_source.sh: both `maturin develop` lines install a working
  package; the second one reports the `isal` feature.
- build_wheel.sh: a wheel appears in target/wheels and works when
  installed into another fresh virtualenv.
- install.sh (`pip install animica-native`): the wheel just built is
  offered through PIP_FIND_LINKS (the package is not on PyPI yet); the
  command itself is unchanged, and its dependencies come from the index.

The document's `docker run` blocks need a Docker engine, which this
machine class does not have; they are listed, not run (docs/python-api.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = ROOT / "examples" / "seed_shell"
WHEELS = ROOT / "target" / "wheels"
NOT_RUN = {
    "docker run ... quay.io/pypa/manylinux2014_x86_64 ... maturin build": "needs a Docker engine",
    "docker run ... quay.io/pypa/musllinux_1_2_x86_64 ... maturin build": "needs a Docker engine",
}


def venv(where: Path) -> dict[str, str]:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(where)
    env["PATH"] = f"{where / 'bin'}{os.pathsep}{env['PATH']}"
    env.pop("PYTHONHOME", None)
    return env


def run_block(name: str, env: dict[str, str]) -> None:
    print(f"== seed_shell/{name}", flush=True)
    subprocess.run(["bash", "-euo", "pipefail", str(BLOCKS / name)], cwd=ROOT / "python", env=env, check=True)


def info(env: dict[str, str]) -> dict[str, object]:
    code = "import json, animica_native as an; print(json.dumps(an.build_info()))"
    out = subprocess.run(["python", "-c", code], env=env, cwd=tempfile.gettempdir(), check=True,
                         capture_output=True, text=True).stdout
    got: dict[str, object] = json.loads(out)
    return got


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"seed shell block check failed: {what}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="animica-seed-shell-") as tmp:
        env = venv(Path(tmp) / "dev")
        run_block("build_from_source.sh", env)
        features = info(env)["features"]
        check(isinstance(features, list) and "isal" in features and "c_keccak" in features,
              f"the last `maturin develop` should report isal and c_keccak, got {features}")

        before = set(WHEELS.glob("*.whl")) if WHEELS.exists() else set()
        stamps = {w: w.stat().st_mtime for w in before}
        run_block("build_wheel.sh", env)
        built = [w for w in WHEELS.glob("animica_native-*.whl") if w not in before or w.stat().st_mtime != stamps[w]]
        check(len(built) == 1, f"`maturin build` should write one wheel to {WHEELS}, found {built}")

        user = venv(Path(tmp) / "user")
        user["PIP_FIND_LINKS"] = " ".join(filter(None, [str(WHEELS), os.environ.get("PIP_FIND_LINKS")]))
        run_block("install.sh", user)
        got = info(user)
        check(got["features"] == ["python", "simd", "rayon", "c_keccak"], f"installed wheel features: {got['features']}")
        print(f"installed {built[0].name}: {got}")
    for block, why in NOT_RUN.items():
        print(f"not run here: {block} ({why})")
    print("seed shell blocks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
