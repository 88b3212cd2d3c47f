#!/usr/bin/env python3
"""Install the built artifacts where they will run, and run the test suite there.

    ci/test_wheels.py [--dist DIR] [--only venvs,env,sdist,musl,bullseye,...]

venvs     every animica-native wheel in DIR, in a fresh venv of each CPython of
          the matrix installed here (pyenv), with the whole Python suite;
env       the animica-env binary wheel: installed, on PATH, analyze works;
sdist     `pip install` of the sdist in a fresh venv (builds from source), then
          the suite;
bullseye  the manylinux2014 cp39 wheel in a Debian bullseye chroot (glibc 2.31,
          Python 3.9) made with debootstrap, with the suite;
forky     the cp314 wheels in a Debian forky chroot (Python 3.14, not installed
          on this machine otherwise), with the suite;
sid       the cp315 wheels in a Debian sid chroot (its python3.15, beside the
          default python3), with the suite;
musl      each musllinux x86_64 wheel on a CPython built from Debian's source
          against musl (ci/cpython.py --musl: 3.9, 3.11, 3.13, 3.14, 3.15;
          Debian has no 3.10/3.12 source), with the suite; its packages come
          from `pip download --platform musllinux_...` (the interpreter has no
          ssl), leopard built here where PyPI has no musl wheel;
rust-arm64
          the core crate's Rust tests (unit and vector tests) cross-built for
          aarch64 (-Zbuild-std, zig cc) and run by qemu-user against the
          bookworm arm64 chroot's libc: on qemu's default CPU (SHA-2 and
          SHA3 instructions: ANIMICA_REQUIRE_KERNELS=1 makes a kernel test
          that cannot run fail) and on a Cortex-A53 (SHA-2 only);
*-arm64   the aarch64 wheels in Debian arm64 chroots run by qemu-user (binfmt):
          bullseye 3.9 (glibc 2.31), bookworm 3.11, trixie 3.13, forky 3.14,
          sid 3.15, each with the suite; then the hash tests again on an
          emulated CPU without the SHA3 instructions (QEMU_CPU=cortex-a53),
          so both sides of the aarch64 dispatch run.

Each venv imports animica_native from its own site-packages (checked), never
from the checkout. A CPython of the matrix with no interpreter here is reported,
not silently skipped. Exit 1 if anything fails.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_wheels  # noqa: E402
import cpython  # noqa: E402
import matrix  # noqa: E402

ROOT = matrix.ROOT
WORK = ROOT / "target" / "wheel-tests"
CHROOTS = ROOT / "target" / "chroots"
# Debian releases the wheels are tested in, away from the build host:
# chroot name -> (Debian release, architecture, the CPython it ships, the
# targets whose wheel for that CPython is tested there).
# bullseye: glibc 2.31, Python 3.9 (the oldest CPython of the matrix);
# forky (testing): Python 3.14, sid: Python 3.15; neither has a pyenv build here.
# arm64: every Debian release with a CPython of the matrix (3.10 and 3.12 are
# in none, so their aarch64 wheels are built and auditwheel-checked only).
AARCH64 = ["manylinux2014-aarch64", "manylinux_2_28-aarch64"]
RELEASES = {
    "bullseye": ("bullseye", "amd64", "3.9", ["manylinux2014-x86_64"]),
    "forky": ("forky", "amd64", "3.14", ["manylinux2014-x86_64", "manylinux_2_28-x86_64"]),
    "sid": ("sid", "amd64", "3.15", ["manylinux2014-x86_64", "manylinux_2_28-x86_64"]),
    "bullseye-arm64": ("bullseye", "arm64", "3.9", AARCH64),
    "bookworm-arm64": ("bookworm", "arm64", "3.11", AARCH64),
    "trixie-arm64": ("trixie", "arm64", "3.13", AARCH64),
    "forky-arm64": ("forky", "arm64", "3.14", AARCH64),
    "sid-arm64": ("sid", "arm64", "3.15", AARCH64),
}
RUST_TARGET = {"amd64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}
TEST_REQS = ROOT / "requirements" / "wheel-test.txt"
# Run in the venv: the package must come from site-packages, with the matrix's features.
IMPORT_CHECK = """
import sys, sysconfig, animica_native as an
site = sysconfig.get_paths()["purelib"]
assert an.__file__.startswith(site), f"imported {an.__file__}, not from {site}"
info = an.build_info()
print(f"animica_native {an.__version__} on {sys.version.split()[0]}: {info['features']}")
assert sorted(info["features"]) == sorted(sys.argv[1].split(",")), info
"""


def log(msg: str) -> None:
    print(f"[test_wheels {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, **kw)


# reed-solomon-leopard (the parity oracle of test_rs_leopard.py) ships no wheel for
# the newest CPythons; its source build needs PyO3's forward compatibility.
PIP_ENV = {**os.environ, "PYO3_USE_ABI3_FORWARD_COMPATIBILITY": "1"}
# The CA bundle pip uses here (a TLS-intercepting proxy may sign PyPI's
# certificate); the chroot gets a copy in place of its own.
HOST_CA = next((Path(os.environ[k]) for k in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
                if os.environ.get(k) and Path(os.environ[k]).is_file()), None)


def suite(python: Path, features: str, env: dict[str, str] | None = None) -> None:
    """Import check, then the whole pytest suite, from a directory outside the checkout."""
    with tempfile.TemporaryDirectory(prefix="animica-wheel-test-") as cwd:
        run([str(python), "-c", IMPORT_CHECK, features], cwd=cwd, env=env)
        run([str(python), "-m", "pytest", str(ROOT / "python" / "tests"), "-q", "-p", "no:cacheprovider"],
            cwd=cwd, env=env)


def fresh_venv(base: Path, name: str) -> Path:
    venv = WORK / name
    if venv.exists():
        shutil.rmtree(venv)
    run([str(base), "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(TEST_REQS)], env=PIP_ENV)
    return py


def wheel_for(dist: Path, version: str, platform_prefix: str) -> Path | None:
    tag = matrix.cp(version)
    found = [w for w in dist.glob(f"animica_native-*-{tag}-{tag}-*.whl") if platform_prefix in w.name]
    return found[0] if found else None


def test_venvs(m: matrix.Matrix, dist: Path) -> list[str]:
    errors = []
    features = ",".join(m["features"])
    for t in (t for t in m["target"] if t["here"] and t["tested-here"] == "native"):
        for v in m["python"]:
            whl = wheel_for(dist, v, t["tag"].split(".")[0])
            if whl is None:
                errors.append(f"{t['name']} cp{v}: no wheel in {dist}")
                continue
            base = build_wheels.interpreter(v)
            if not Path(base).is_file():
                elsewhere = [r for r, (_, _, rv, rt) in RELEASES.items() if rv == v and t["name"] in rt]
                if not elsewhere:
                    errors.append(f"{whl.name}: no CPython {v} here and no Debian release in RELEASES tests it")
                else:
                    log(f"{whl.name}: no CPython {v} here; tested in the {elsewhere[0]} chroot")
                continue
            log(f"{whl.name} on {base}")
            try:
                py = fresh_venv(Path(base), f"{t['name']}-cp{v}")
                run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", str(whl)])
                run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(whl)])  # deps
                suite(py, features)
            except subprocess.CalledProcessError as e:
                errors.append(f"{whl.name} on CPython {v}: {e}")
    return errors


JOB = "import json, tabulate\nfrom six import moves\n"


def env_wheel_checks(whl: Path, version_out: str, deps: str) -> list[str]:
    """--version names the wheel's version; analyze found JOB's imports."""
    errors = []
    if whl.name.split("-")[1] not in version_out:
        errors.append(f"{whl.name}: --version says {version_out!r}")
    if "tabulate" not in deps or "six" not in deps:
        errors.append(f"{whl.name}: analyze wrote {deps}")
    return errors


def env_binary(whl: Path, dest: Path) -> Path:
    """The animica-env executable of a wheel, unpacked into `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with zipfile.ZipFile(whl) as z:
        member = next(n for n in z.namelist() if n.endswith("/scripts/animica-env"))
        (dest / "animica-env").write_bytes(z.read(member))
    (dest / "animica-env").chmod(0o755)
    (dest / "job.py").write_text(JOB)
    return dest / "animica-env"


def test_env_wheel(dist: Path) -> list[str]:
    """Each animica-env wheel: the manylinux x86_64 one installed by pip here;
    the static musl x86_64 one run here as unpacked; aarch64 ones (glibc and
    static musl) unpacked into the bookworm arm64 chroot and run there under
    qemu-user."""
    wheels = sorted(dist.glob("animica_env-*.whl"))
    if not wheels:
        return [f"no animica_env wheel in {dist}"]
    errors = []
    for whl in wheels:
        log(f"{whl.name}")
        try:
            if "manylinux" in whl.name and "x86_64" in whl.name:
                venv = WORK / "animica-env"
                if venv.exists():
                    shutil.rmtree(venv)
                run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
                run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                     "--prefix", str(venv), "--no-deps", str(whl)])
                exe = venv / "bin" / "animica-env"
                out = run([str(exe), "--version"], capture_output=True, text=True).stdout.strip()
                with tempfile.TemporaryDirectory() as tmp:
                    (Path(tmp) / "job.py").write_text(JOB)
                    run([str(exe), "analyze", "job.py", "deps.json"], cwd=tmp)
                    errs = env_wheel_checks(whl, out, (Path(tmp) / "deps.json").read_text())
            elif "x86_64" in whl.name:
                exe = env_binary(whl, WORK / "animica-env-unpacked")
                out = run([str(exe), "--version"], capture_output=True, text=True).stdout.strip()
                run([str(exe), "analyze", "job.py", "deps.json"], cwd=exe.parent)
                errs = env_wheel_checks(whl, out, (exe.parent / "deps.json").read_text())
            else:
                name, (release, arch, version, _) = "bookworm-arm64", RELEASES["bookworm-arm64"]
                root = make_chroot(name, release, version, arch)
                exe = env_binary(whl, root / "animica-env-test")
                in_chroot(root, ["/bin/sh", "-c", "cd /animica-env-test && ./animica-env --version > version.txt && "
                                 "./animica-env analyze job.py deps.json"])
                out = (exe.parent / "version.txt").read_text().strip()
                errs = env_wheel_checks(whl, out, (exe.parent / "deps.json").read_text())
            errors += errs
            if not errs:
                log(f"  {out}; analyze works")
        except subprocess.CalledProcessError as e:
            errors.append(f"{whl.name}: {e}")
    return errors


def test_sdist(m: matrix.Matrix, dist: Path) -> list[str]:
    sdists = sorted(dist.glob("animica_native-*.tar.gz"))
    if len(sdists) != 1:
        return [f"expected one sdist in {dist}, found {len(sdists)}"]
    log(f"pip install {sdists[0].name} (builds from source)")
    try:
        py = fresh_venv(Path(sys.executable), "sdist")
        run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(sdists[0])])
        suite(py, ",".join(m["features"]))
    except subprocess.CalledProcessError as e:
        return [f"{sdists[0].name}: {e}"]
    return []


def test_musl(m: matrix.Matrix, dist: Path) -> list[str]:
    errors = []
    features = ",".join(m["features"])
    for t in (t for t in m["target"] if t["tested-here"] == "musl"):
        platform = t["tag"].split(".")[0]
        for v in m["python"]:
            whl = wheel_for(dist, v, platform)
            if whl is None:
                errors.append(f"{t['name']} cp{v}: no wheel in {dist}")
                continue
            if v not in cpython.SOURCES:
                log(f"{whl.name}: NOT RUN: no CPython {v} source to build a musl interpreter from "
                    "(ci/cpython.py says why; the wheel is built and auditwheel-checked only)")
                continue
            log(f"{whl.name} on CPython {v} built with musl")
            try:
                py = cpython.build(v, musl=True)
                venv = WORK / f"{t['name']}-cp{v}"
                if venv.exists():
                    shutil.rmtree(venv)
                run([str(py), "-m", "venv", str(venv)])
                wheels = WORK / f"musl-wheels-cp{v}"
                if wheels.exists():
                    shutil.rmtree(wheels)
                if tuple(map(int, v.split("."))) >= (3, 13):  # PyPI's leopard musl wheels stop at cp312
                    sdist_only_requirements(v, wheels, "amd64", musl=True)
                tag = matrix.cp(v)
                # pip evaluates requirement markers for the interpreter it runs
                # on, so a host CPython of the same version downloads.
                host = build_wheels.interpreter(v)
                if not Path(host).is_file():
                    errors.append(f"{whl.name}: no host CPython {v} (pyenv) to resolve its test requirements with")
                    continue
                run([host, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
                     "--platform", platform, "--platform", platform.replace("_1_2_", "_1_1_"),
                     "--python-version", v, "--implementation", "cp", "--abi", tag, "--abi", "none", "--abi", "abi3",
                     "--find-links", str(wheels), "-d", str(wheels), "-r", str(TEST_REQS), "pip"], env=PIP_ENV)
                vpy = venv / "bin" / "python"
                # The pip a source build bundles may predate musllinux tags (3.9's does).
                run([str(vpy), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
                     "--find-links", str(wheels), "--upgrade", "pip"])
                run([str(vpy), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
                     "--find-links", str(wheels), "-r", str(TEST_REQS), str(whl)])
                suite(vpy, features)
            except subprocess.CalledProcessError as e:
                errors.append(f"{whl.name} on musl CPython {v}: {e}")
    return errors


def sdist_only_requirements(version: str, dest: Path, arch: str = "amd64", musl: bool = False) -> None:
    """Wheels for test requirements PyPI has no wheel of for this CPython.

    reed-solomon-leopard (maturin, PyO3 0.20) publishes no wheels past cp312,
    and a chroot has no Rust to build it; build it here from its sdist for
    `version` (maturin's bundled sysconfig covers CPythons not installed here),
    for arm64 as the aarch64 wheels are built (zig, -Zbuild-std).
    """
    pin = next(line.split(";")[0].strip() for line in TEST_REQS.read_text().splitlines()
               if line.startswith("reed-solomon-leopard=="))
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="animica-leopard-") as tmp:
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", tmp, pin])
        sdist = next(Path(tmp).glob("*.tar.gz"))
        run(["tar", "xzf", str(sdist), "-C", tmp])
        src = next(p for p in Path(tmp).iterdir() if p.is_dir())
        env = {**PIP_ENV, "CARGO_TARGET_DIR": str(WORK / "leopard-target"),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        cross: list[str] = []
        if arch != "amd64" or musl:
            env.update(RUSTC_BOOTSTRAP="1", CARGO_UNSTABLE_BUILD_STD="std,panic_abort")
            cross = ["--zig", "--compatibility", "manylinux2014", "--target", RUST_TARGET[arch]]
        if musl:
            env["RUSTFLAGS"] = "-C target-feature=-crt-static"
            cross = ["--zig", "--compatibility", "musllinux_1_2", "--target", RUST_TARGET[arch].replace("gnu", "musl")]
        before = set(dest.iterdir())
        run([build_wheels.tool("maturin"), "build", "--release", "-q", "-i", f"python{version}", *cross,
             "--out", str(dest)], cwd=src, env=env)
        if musl:
            for whl in sorted(set(dest.iterdir()) - before):
                build_wheels.musl_soname(whl, "x86_64" if arch == "amd64" else "aarch64")


def mounted_under(path: Path) -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as f:
        points = [line.split()[1] for line in f]
    return [p for p in points if p == str(path) or p.startswith(f"{path}/")]


def emulation_ready(arch: str) -> None:
    """arm64 programs must run here through qemu-user's binfmt handler (its F
    flag opens the interpreter up front, so it works inside a chroot)."""
    if arch == "amd64":
        return
    handler = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not handler.exists():
        if not Path("/proc/sys/fs/binfmt_misc/register").exists():
            subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"], check=False)
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=False)
    if not handler.exists() or "enabled" not in handler.read_text() or "F" not in handler.read_text().split("flags:")[1]:
        sys.exit("test_wheels: no qemu-aarch64 binfmt handler with the F flag: apt-get install qemu-user-static "
                 "binfmt-support (make wheels-test installs them), then update-binfmts --enable qemu-aarch64")


def make_chroot(name: str, release: str, python: str, arch: str = "amd64", packages: Sequence[str] = ()) -> Path:
    """A minimal Debian `release` for `arch` with python`python`'s venv (and
    the other `packages`), made once (target/chroots/<name>)."""
    emulation_ready(arch)
    root = CHROOTS / name
    stamp = root / ".animica-ready"
    if stamp.exists():
        return root
    if mounted_under(root):  # never delete through a bind mount of /dev
        sys.exit(f"test_wheels: still mounted under {root}: {mounted_under(root)}; umount them first")
    if shutil.which("debootstrap") is None:
        sys.exit("test_wheels: debootstrap is missing: apt-get install debootstrap (make wheels-test installs it)")
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    log(f"debootstrap {release} {arch} (once)")
    # Older debootstraps lack scripts for newer codenames; sid's fits every current release.
    script = f"/usr/share/debootstrap/scripts/{release}"
    extra = [] if Path(script).exists() else ["/usr/share/debootstrap/scripts/sid"]
    run(["debootstrap", f"--arch={arch}", "--variant=minbase",
         f"--include={','.join(['python3-venv', f'python{python}-venv', 'python3-pip', 'ca-certificates', *packages])}",
         release, str(root), "http://deb.debian.org/debian", *extra])
    stamp.touch()
    return root


def in_chroot(root: Path, args: list[str], binds: Sequence[tuple[Path, str]] = ()) -> None:
    """Runs `args` in the chroot with /proc, /dev and the `binds` (host
    directory, path inside) mounted; unmounts them all after."""
    mounts = [("proc", "proc", ["-t", "proc"]), ("/dev", "dev", ["--rbind"]), ("/dev/shm", "dev/shm", ["--bind"])]
    for host, inside in binds:
        (root / inside).mkdir(parents=True, exist_ok=True)
        mounts.append((str(host), inside, ["--bind"]))
    done = []
    try:
        for source, target, opts in mounts:
            run(["mount", *opts, source, str(root / target)])
            done.append(root / target)
        shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
        run(["chroot", str(root), *args])
    finally:
        for d in reversed(done):
            subprocess.run(["umount", "-R", "-l", str(d)], check=False)
        if mounted_under(root):
            sys.exit(f"test_wheels: could not unmount {mounted_under(root)}; umount them before deleting target/")


def test_release(m: matrix.Matrix, dist: Path, name: str) -> list[str]:
    release, arch, version, targets = RELEASES[name]
    wheels = [wheel_for(dist, version, matrix.target(m, t)["tag"].split(".")[0]) for t in targets]
    if None in wheels:
        return [f"{name}: no cp{version} wheel for {targets} in {dist}"]
    root = make_chroot(name, release, version, arch)
    inside = root / "animica"
    if inside.exists():
        shutil.rmtree(inside)
    (inside / "wheels").mkdir(parents=True)
    (inside / "python").mkdir(parents=True)
    shutil.copytree(ROOT / "python" / "tests", inside / "python" / "tests")
    shutil.copy(ROOT / "python" / "pyproject.toml", inside / "python")
    for d in ("testdata", "examples"):
        shutil.copytree(ROOT / d, inside / d, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(TEST_REQS, inside / TEST_REQS.name)
    (inside / "import_check.py").write_text(IMPORT_CHECK)
    # PyPI has leopard wheels for CPython 3.9-3.12 (x86_64, aarch64); others are built here.
    if not Path(build_wheels.interpreter(version)).is_file() or tuple(map(int, version.split("."))) >= (3, 13):
        sdist_only_requirements(version, inside / "wheels", arch)
    if HOST_CA is not None:
        # The host's CA variables (PIP_CERT, REQUESTS_CA_BUNDLE, ...) name this
        # path; old pip lets REQUESTS_CA_BUNDLE win over --cert, so the file
        # itself must hold what the host trusts.
        shutil.copy(HOST_CA, root / "etc" / "ssl" / "certs" / "ca-certificates.crt")
    errors = []
    for whl in wheels:
        assert whl is not None
        shutil.copy(whl, inside / whl.name)
        script = f"""set -eu
unset PIP_FIND_LINKS
ldd --version | head -1
python{version} --version
rm -rf /tmp/venv && python{version} -m venv /tmp/venv
/tmp/venv/bin/pip install -q --disable-pip-version-check --find-links /animica/wheels \\
    -r /animica/{TEST_REQS.name} /animica/{whl.name}
cd /tmp
/tmp/venv/bin/python /animica/import_check.py {",".join(m["features"])}
/tmp/venv/bin/python -m pytest /animica/python/tests -q -p no:cacheprovider
"""
        if arch == "arm64":
            # qemu's default CPU has the SHA-2 and SHA3 instructions; a
            # Cortex-A53 has SHA-2 only: the other side of the dispatch.
            script += """echo "again on an emulated Cortex-A53 (no SHA3 instructions):"
QEMU_CPU=cortex-a53 /tmp/venv/bin/python -m pytest /animica/python/tests/test_hash.py -q -p no:cacheprovider
"""
        log(f"{whl.name} in Debian {release} {arch} (chroot{', qemu-user' if arch != 'amd64' else ''})")
        try:
            in_chroot(root, ["/bin/sh", "-c", script])
        except subprocess.CalledProcessError as e:
            errors.append(f"{whl.name} in {name}: {e}")
    return errors


ZIG_CC = """#!/bin/sh
# cc for aarch64-unknown-linux-gnu through zig (as maturin --zig does): zig
# names targets its own way and has no -march=armv8-a (sha2-asm passes it).
for a; do
  shift
  case "$a" in
    --target=*) ;;
    -march=armv8-a*) set -- "$@" "-mcpu=generic${a#-march=armv8-a}" ;;
    *) set -- "$@" "$a" ;;
  esac
done
exec "PYTHON" -m ziglang cc -target aarch64-linux-gnu.2.17 "$@"
"""


def test_rust_arm64() -> list[str]:
    """The core crate's tests on aarch64 under qemu-user, on both sides of the SHA3 dispatch."""
    release, arch, python, _ = RELEASES["bookworm-arm64"]
    sysroot = make_chroot("bookworm-arm64", release, python, arch)
    cc = WORK / "zig-cc-aarch64"
    cc.write_text(ZIG_CC.replace("PYTHON", sys.executable))
    cc.chmod(0o755)
    target = "aarch64-unknown-linux-gnu"
    env = {**os.environ, **build_wheels.std_from_source_env(target),
           "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER": str(cc), "CC_aarch64_unknown_linux_gnu": str(cc),
           "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER": f"qemu-aarch64-static -L {sysroot}",
           "CARGO_TARGET_DIR": str(ROOT / "target" / "aarch64-tests")}
    errors = []
    for cpu, required in (("max", "1"), ("cortex-a53", "")):
        log(f"animica-core's tests, aarch64 under qemu-user, CPU {cpu}")
        try:
            run(["cargo", "test", "--locked", "-p", "animica-core", "--target", target],
                cwd=ROOT, env={**env, "QEMU_CPU": cpu, **({"ANIMICA_REQUIRE_KERNELS": required} if required else {})})
        except subprocess.CalledProcessError as e:
            errors.append(f"animica-core tests on aarch64 ({cpu}): {e}")
    return errors


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "target" / "dist")
    ap.add_argument("--only", default="venvs,env,sdist,musl,rust-arm64," + ",".join(RELEASES))
    args = ap.parse_args(argv)
    m = matrix.load()
    WORK.mkdir(parents=True, exist_ok=True)
    steps: dict[str, Callable[[], list[str]]] = {
        "venvs": lambda: test_venvs(m, args.dist), "env": lambda: test_env_wheel(args.dist),
        "sdist": lambda: test_sdist(m, args.dist), "musl": lambda: test_musl(m, args.dist),
        "rust-arm64": test_rust_arm64}
    for release in RELEASES:
        steps[release] = functools.partial(test_release, m, args.dist, release)
    chosen = args.only.split(",")
    if set(chosen) - steps.keys():
        ap.error(f"--only takes {', '.join(steps)}")
    for v in m.get("free-threaded", []):
        log(f"cp{v.replace('.', '')}t wheels: NOT RUN: no free-threaded CPython {v} here (Debian packages none; "
            "ci/cpython.py has no 3.14/3.15 source); built, auditwheel/binaries-checked; cibuildwheel tests them in CI")
    for t in (t for t in m["target"] if t["tested-here"] == "qemu"):
        for v in m["python"]:
            if not any(rv == v and t["name"] in rt for _, _, rv, rt in RELEASES.values()):
                log(f"{t['name']} cp{v}: NOT RUN: no Debian arm64 release ships CPython {v} "
                    "(the wheel is built and auditwheel-checked only)")
    errors = [e for name in chosen for e in steps[name]()]
    for e in errors:
        print(f"test_wheels: FAILED: {e}", file=sys.stderr)
    log("all passed" if not errors else f"{len(errors)} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
