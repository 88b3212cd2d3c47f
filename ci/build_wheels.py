#!/usr/bin/env python3
"""Build release artifacts from the wheel matrix, and check their tags.

    ci/build_wheels.py [--out DIR] [--what native,env,sdist] [TARGET...]

TARGET defaults to every matrix target built on this machine (`here = true`);
CI passes its one target. For each target: one animica-native wheel per CPython
of the matrix (maturin --zig for manylinux/musllinux; CPython versions not
installed here are built from maturin's bundled sysconfig), the animica-env
binary wheel where the matrix asks for it, and the sdist once. Then
`auditwheel show` must confirm every Linux wheel's platform tag, and no binary
may contain the checkout's or CARGO_HOME's path.

Reproducible by construction: SOURCE_DATE_EPOCH is the last commit's time
(unless set), paths of the checkout and of CARGO_HOME are remapped, Cargo.lock
is enforced (--locked), and every build uses its own target directory under
the checkout. (pyproject.toml does not set `locked`: the sdist holds only the
crates animica-native needs, so cargo must drop the other crates' entries from
the shipped Cargo.lock; every remaining version stays as locked.)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matrix  # noqa: E402

ROOT = matrix.ROOT
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    if found is None:
        sys.exit(f"build_wheels: {name} is missing: pip install -r requirements/release.txt")
    return found


def interpreter(version: str) -> str:
    """A CPython of this version from pyenv, or the bare name (maturin's bundled sysconfig)."""
    for d in sorted(PYENV.glob(f"{version}.*"), reverse=True):
        exe = d / "bin" / f"python{version}"
        if exe.is_file() and re.fullmatch(rf"{re.escape(version)}\.\d+", d.name):
            return str(exe)
    return f"python{version}"


def source_date_epoch() -> str:
    """SOURCE_DATE_EPOCH as set, else the last commit's time: the one stamp
    of every release artifact (wheels here, conda packages in ci/conda.py)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH") or subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    if not epoch.isdigit():
        sys.exit(f"SOURCE_DATE_EPOCH must be seconds since the epoch, not {epoch!r}")
    return epoch


def build_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = source_date_epoch()
    cargo_home = Path(env.get("CARGO_HOME", Path.home() / ".cargo")).resolve()
    remap = f"--remap-path-prefix={ROOT}=/animica --remap-path-prefix={cargo_home}=/cargo"
    env["RUSTFLAGS"] = f"{env.get('RUSTFLAGS', '')} {remap}".strip()
    env["CARGO_TARGET_DIR"] = str(ROOT / "target" / "wheels-build")
    env["CARGO_TERM_COLOR"] = "never"
    # maturin finds zig as `python -m ziglang` of the first python on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # maturin would otherwise take this from a cibuildwheel/conda environment.
    env.pop("_PYTHON_HOST_PLATFORM", None)
    return env


def maturin_platform_args(t: matrix.Target) -> list[str]:
    kind = matrix.cibw_kind(t)
    if kind not in ("manylinux", "musllinux"):
        sys.exit(f"build_wheels: {t['name']} is built by cibuildwheel on a {t['runner']} runner, not here")
    return ["--locked", "--zig", "--compatibility", t["cibw"]["image"], "--target", t["rust-targets"][0]]


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), f"(in {cwd.relative_to(ROOT)})", flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def build_native(m: matrix.Matrix, t: matrix.Target, out: Path, env: dict[str, str]) -> None:
    cmd = [tool("maturin"), "build", "--release", "--out", str(out), *maturin_platform_args(t)]
    for v in m["python"]:
        cmd += ["-i", interpreter(v)]
    if matrix.cibw_kind(t) == "musllinux":
        # musl links its C runtime statically by default; a cdylib loaded by
        # a dynamically linked Python must not.
        env = {**env, "RUSTFLAGS": env["RUSTFLAGS"] + " -C target-feature=-crt-static"}
    run(cmd, ROOT / "python", env)


def build_env_wheel(t: matrix.Target, out: Path, env: dict[str, str]) -> None:
    # On musl the binary keeps the default static CRT: one static executable.
    cmd = [tool("maturin"), "build", "--release", "--out", str(out), *maturin_platform_args(t)]
    run(cmd, ROOT / "crates" / "animica-env", env)


def build_sdist(out: Path, env: dict[str, str]) -> None:
    run([tool("maturin"), "sdist", "--out", str(out)], ROOT / "python", env)


def policy_glibc(tag: str) -> tuple[int, int] | None:
    aliases = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
    for alias, v in aliases.items():
        if tag.startswith(alias):
            return v
    m = re.match(r"(?:manylinux|musllinux)_(\d+)_(\d+)", tag)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_tags(wheels: list[Path]) -> list[str]:
    """auditwheel show must find each Linux wheel at least as compatible as its name claims."""
    errors = []
    auditwheel = tool("auditwheel")
    for whl in wheels:
        claimed = whl.name[:-4].split("-")[-1].split(".")
        if not any(c.startswith(("manylinux", "musllinux")) for c in claimed):
            continue
        out = subprocess.run([auditwheel, "show", str(whl)], capture_output=True, text=True)
        found = re.search(r'following platform tag:\s*"([^"]+)"', out.stdout)
        if out.returncode != 0 or found is None:
            errors.append(f"{whl.name}: auditwheel show failed: {out.stdout}{out.stderr}")
            continue
        got = found.group(1)

        def satisfies(claim: str) -> bool:
            have, want = policy_glibc(got), policy_glibc(claim)
            same_libc = claim.split("_")[0][:9] == got.split("_")[0][:9]
            return same_libc and have is not None and want is not None and have <= want

        ok = all(satisfies(c) for c in claimed)
        print(f"auditwheel: {whl.name}: consistent with {got}" + ("" if ok else "  <-- does not satisfy the tag"))
        if not ok:
            errors.append(f"{whl.name}: auditwheel says {got}, the name claims {'.'.join(claimed)}")
    return errors


def check_no_build_paths(wheels: list[Path], env: dict[str, str]) -> list[str]:
    """No binary may carry the checkout's or CARGO_HOME's path (they differ per machine)."""
    cargo_home = Path(env.get("CARGO_HOME", Path.home() / ".cargo")).resolve()
    needles = [str(ROOT).encode(), str(cargo_home).encode()]
    errors = []
    for whl in wheels:
        with zipfile.ZipFile(whl) as z:
            for name in z.namelist():
                if name.endswith(".so") or "/scripts/" in name:
                    data = z.read(name)
                    errors += [f"{whl.name}: {name} contains {n.decode()}" for n in needles if n in data]
    return errors


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", help="matrix target names (default: those built here)")
    ap.add_argument("--out", type=Path, default=ROOT / "target" / "dist")
    ap.add_argument("--what", default="native,env,sdist")
    args = ap.parse_args(argv)
    m = matrix.load()
    what = set(args.what.split(","))
    if what - {"native", "env", "sdist"}:
        ap.error(f"--what takes native, env, sdist; got {args.what}")
    targets = [matrix.target(m, n) for n in args.targets] or [t for t in m["target"] if t["here"]]
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = build_env()
    for t in targets:
        if "native" in what:
            build_native(m, t, out, env)
        if "env" in what and t["env-wheel"]:
            build_env_wheel(t, out, env)
    if "sdist" in what:
        build_sdist(out, env)
    artifacts = sorted(out.iterdir())
    wheels = [a for a in artifacts if a.suffix == ".whl"]
    errors = check_tags(wheels) + check_no_build_paths(wheels, env)
    want = len(targets) * len(m["python"]) * ("native" in what)
    want += sum(t["env-wheel"] for t in targets) * ("env" in what) + ("sdist" in what)
    if len(artifacts) != want:
        errors.append(f"expected {want} artifacts in {out}, found {len(artifacts)}")
    for e in errors:
        print(f"build_wheels: {e}", file=sys.stderr)
    print(f"{len(artifacts)} artifacts in {out} (SOURCE_DATE_EPOCH={env['SOURCE_DATE_EPOCH']}):")
    for a in artifacts:
        print(f"  {a.name}  {a.stat().st_size / 1e6:.1f} MB")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
