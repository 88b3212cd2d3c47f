#!/usr/bin/env python3
"""Build release artifacts from the wheel matrix, and check their tags.

    ci/build_wheels.py [--out DIR] [--what native,env,sdist] [TARGET...]

TARGET defaults to every matrix target built on this machine (`here = true`);
CI passes its one target. DIR (default target/dist) is emptied first: to
rebuild one target and keep the rest of the matrix, give it another --out. For each target: one animica-native wheel per CPython
of the matrix (free-threaded ones included), the animica-env binary wheel where the matrix asks for it, and
the sdist once. Then `auditwheel show` must confirm every Linux wheel's
platform tag, ci/binaries.py must accept every Windows and macOS wheel, and no
binary may contain the checkout's or CARGO_HOME's path.

How each target is built on this x86_64 Linux machine:
  x86_64 glibc      maturin --zig (manylinux glibc symbol versions)
  other targets     the same toolchain (rust-toolchain.toml) with the standard
                    library built from source (-Zbuild-std, RUSTC_BOOTSTRAP=1;
                    the source is installed by ci/install-rust-src.sh), since
                    rustup can download no other target's std here:
    aarch64 glibc   maturin --zig
    musl            maturin --zig; the extension module links musl's libc
                    dynamically (-crt-static) and is renamed to need
                    libc.musl-<arch>.so.1, as on Alpine; the animica-env binary
                    is static, with zig's C runtime objects
    macOS           maturin --zig --target universal2-apple-darwin (both slices,
                    merged by maturin), MACOSX_DEPLOYMENT_TARGET from the tag
    Windows         x86_64-pc-windows-gnu linked by Debian's mingw-w64 (maturin's
                    zig path exports PyInit_<dotted module name>, which no
                    linker can resolve), no link timestamp
CPython versions not installed here are built from maturin's bundled sysconfig
(every cross build uses it).

Reproducible by construction: SOURCE_DATE_EPOCH is the last commit's time
(unless set), paths of the checkout and of CARGO_HOME are remapped, Cargo.lock
is enforced (--locked), and every build uses its own target directory under
the checkout. (pyproject.toml does not set `locked`: the sdist holds only the
crates animica-native needs, so cargo must drop the other crates' entries from
the shipped Cargo.lock; every remaining version stays as locked.)
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import binaries  # noqa: E402
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
    # Cross builds compile the standard library from the toolchain's rust-src.
    remap += f" --remap-path-prefix={rust_src_dir().parent}=/rustc/src"
    env["RUSTFLAGS"] = f"{env.get('RUSTFLAGS', '')} {remap}".strip()
    env["CARGO_TARGET_DIR"] = str(ROOT / "target" / "wheels-build")
    env["CARGO_TERM_COLOR"] = "never"
    # maturin finds zig as `python -m ziglang` of the first python on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # maturin would otherwise take this from a cibuildwheel/conda environment.
    env.pop("_PYTHON_HOST_PLATFORM", None)
    return env


def host_target() -> str:
    """rustc's own target: builds for it need no standard library from source."""
    out = subprocess.run(["rustc", "-vV"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("host:"))


def rust_src_dir() -> Path:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout.strip()
    return Path(sysroot) / "lib" / "rustlib" / "src" / "rust" / "library"


def cross(t: matrix.Target) -> bool:
    host = host_target()
    return any(r != host for r in matrix.rust_targets(t))


def std_from_source_env(target: str) -> dict[str, str]:
    """What cargo needs to build `target`'s standard library from the installed source."""
    if not (rust_src_dir() / "std").is_dir():
        sys.exit(f"build_wheels: {target} needs the standard library's source ({rust_src_dir()}): "
                 "run ci/install-rust-src.sh (make cross-tools does)")
    # -Zbuild-std on the pinned stable toolchain
    return {"RUSTC_BOOTSTRAP": "1", "CARGO_UNSTABLE_BUILD_STD": "std,panic_abort"}


def target_env(t: matrix.Target, env: dict[str, str]) -> dict[str, str]:
    """The build environment for one target (see the module's docstring)."""
    env = dict(env)
    if cross(t):
        env.update(std_from_source_env(t["name"]))
    kind = matrix.cibw_kind(t)
    if kind == "macos":
        m = re.match(r"macosx_(\d+)_(\d+)_", t["tag"])
        assert m is not None, t["tag"]
        env["MACOSX_DEPLOYMENT_TARGET"] = f"{m.group(1)}.{m.group(2)}"
        # No debug information in the linked image (ld -S). maturin's zig
        # wrapper compiles C with -g, so zig would write STABS naming every
        # object by its path under the target directory, hash them into
        # LC_UUID, and rustc's strip would then remove them, leaving a UUID
        # that depends on the checkout's path.
        env["RUSTFLAGS"] += " -C link-arg=-Wl,-S"
    if kind == "windows":
        linker = shutil.which("x86_64-w64-mingw32-gcc")
        if linker is None:
            sys.exit("build_wheels: x86_64-w64-mingw32-gcc is missing: apt-get install gcc-mingw-w64-x86-64 "
                     "(make wheels installs it)")
        env["CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER"] = linker
        # No link time, and no COFF symbol table: it names the import
        # libraries rustc writes into random temporary directories under the
        # target directory (the checkout's path and a random part).
        env["RUSTFLAGS"] += " -C link-arg=-Wl,--no-insert-timestamp -C strip=symbols"
    return env


def maturin_platform_args(t: matrix.Target) -> list[str]:
    kind = matrix.cibw_kind(t)
    targets = matrix.rust_targets(t)
    if kind in ("manylinux", "musllinux"):
        return ["--locked", "--zig", "--compatibility", t["cibw"]["image"], "--target", targets[0]]
    if kind == "macos":
        target = "universal2-apple-darwin" if t["arch"] == "universal2" else targets[0]
        return ["--locked", "--zig", "--target", target]
    return ["--locked", "--target", targets[0]]


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), f"(in {cwd.relative_to(ROOT)})", flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def build_native(m: matrix.Matrix, t: matrix.Target, out: Path, env: dict[str, str]) -> None:
    cmd = [tool("maturin"), "build", "--release", "--out", str(out), *maturin_platform_args(t)]
    for v in matrix.interpreters(m):
        # A cross build must not ask a host interpreter for its (host) sysconfig;
        # free-threaded ones (3.14t) come from maturin's bundled sysconfig.
        cmd += ["-i", f"python{v}" if cross(t) or v.endswith("t") else interpreter(v)]
    env = target_env(t, env)
    if matrix.cibw_kind(t) == "musllinux":
        # musl links its C runtime statically by default; a cdylib loaded by
        # a dynamically linked Python must not.
        env["RUSTFLAGS"] += " -C target-feature=-crt-static"
    before = set(out.iterdir())
    run(cmd, ROOT / "python", env)
    if matrix.cibw_kind(t) == "musllinux":
        for whl in sorted(set(out.iterdir()) - before):
            musl_soname(whl, t["arch"])


def build_env_wheel(t: matrix.Target, out: Path, env: dict[str, str]) -> None:
    # On musl the binary keeps the default static CRT: one static executable;
    # its C runtime objects come from zig (rustup's self-contained ones are
    # part of the rust-std download this machine cannot make).
    env = target_env(t, env)
    if matrix.cibw_kind(t) == "musllinux" and cross(t):
        env["RUSTFLAGS"] += " -C link-self-contained=no"
    cmd = [tool("maturin"), "build", "--release", "--out", str(out), *maturin_platform_args(t)]
    run(cmd, ROOT / "crates" / "animica-env", env)


def musl_soname(whl: Path, arch: str) -> None:
    """zig links musl's C library by the name `libc.so`; Alpine and auditwheel's
    musllinux policy know it as libc.musl-<arch>.so.1 (musl's loader resolves
    both to itself). Rename the dependency in every extension module and
    rewrite the wheel: same entries, order, timestamps; RECORD updated."""
    patchelf = shutil.which("patchelf")
    if patchelf is None:
        sys.exit("build_wheels: patchelf is missing: apt-get install patchelf (make wheels installs it)")
    with zipfile.ZipFile(whl) as z:
        entries = [(info, z.read(info)) for info in z.infolist()]
    changed: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="animica-musl-") as tmp:
        for info, data in entries:
            if not info.filename.endswith(".so"):
                continue
            so = Path(tmp) / "module.so"
            so.write_bytes(data)
            needed = subprocess.run([patchelf, "--print-needed", str(so)], check=True, capture_output=True,
                                    text=True).stdout.split()
            if "libc.so" in needed:
                subprocess.run([patchelf, "--replace-needed", "libc.so", f"libc.musl-{arch}.so.1", str(so)],
                               check=True)
                changed[info.filename] = so.read_bytes()
    if not changed:
        return
    record_name = next(info.filename for info, _ in entries if info.filename.endswith(".dist-info/RECORD"))
    tmp_whl = whl.with_suffix(".tmp")
    with zipfile.ZipFile(tmp_whl, "w") as z:
        for info, data in entries:
            data = changed.get(info.filename, data)
            if info.filename == record_name:
                data = rewrite_record(data, changed)
            z.writestr(info, data, compress_type=info.compress_type)
    tmp_whl.replace(whl)
    print(f"musl: {whl.name}: {', '.join(changed)} now need libc.musl-{arch}.so.1", flush=True)


def rewrite_record(record: bytes, changed: dict[str, bytes]) -> bytes:
    rows = []
    for row in csv.reader(io.StringIO(record.decode())):
        if row and row[0] in changed:
            data = changed[row[0]]
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            row = [row[0], f"sha256={digest}", str(len(data))]
        rows.append(row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


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
    """No binary may carry the checkout's, CARGO_HOME's or the toolchain's path (they differ per machine)."""
    cargo_home = Path(env.get("CARGO_HOME", Path.home() / ".cargo")).resolve()
    needles = [str(ROOT).encode(), str(cargo_home).encode(), str(rust_src_dir().parent).encode()]
    errors = []
    for whl in wheels:
        with zipfile.ZipFile(whl) as z:
            for name in z.namelist():
                if name.endswith((".so", ".pyd")) or "/scripts/" in name:
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
    foreign = [w for w in wheels if "-win" in w.name or "-macosx" in w.name]
    errors = check_tags(wheels) + [e for w in foreign for e in binaries.check_wheel(w)]
    errors += check_no_build_paths(wheels, env)
    want = len(targets) * len(matrix.interpreters(m)) * ("native" in what)
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
