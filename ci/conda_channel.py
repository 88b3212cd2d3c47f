"""The offline channel `make conda` builds recipe/recipe.yaml against.

No conda-forge is reachable from these machines, so the packages the
recipe's requirements name are made here, into target/conda-build-channel:

- shims, for this machine only and never published: `gcc_linux-64` (the
  host's gcc, by activation variables), `rust_linux-64` (wrappers of the
  rustup toolchain that rust-toolchain.toml pins), `sysroot_linux-64` (the
  host's glibc, exported as `__glibc >=` that version, as conda-forge's
  sysroot exports 2.17), `cargo-auditable` and `cargo-bundle-licenses`
  (`cargo install --locked` of pinned versions);
- `python` for each variant, from pyenv's shared-libpython CPythons (the
  way the animica-env test channel makes 3.11), with conda-forge's
  run_exports pin;
- `pip`, `maturin` and the test tools (pytest, hypothesis, numpy and what
  they need), repackaged from pinned PyPI wheels.

Their versions are the host's, so the build overrides the variant keys
that name them (c_compiler_version, c_stdlib_version); the recipe itself
is the one a feedstock takes.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# ci/check-reproducible points the builds in its clones at this tree's channel.
CHANNEL = Path(os.environ.get("ANIMICA_CONDA_BUILD_CHANNEL", ROOT / "target" / "conda-build-channel"))
WHEELS = ROOT / "target" / "conda-wheels"
TOOLS = ROOT / "target" / "conda-tools"
SHIM_BUILD = "h_animica_shim_0"
# Rust tools the recipe's build requirements name (crates.io, --locked).
CARGO_TOOLS = {"cargo-auditable": "0.7.7", "cargo-bundle-licenses": "5.0.0"}
# PyPI wheels repackaged as conda packages: pure ones once (noarch),
# binary ones for each Python of the variants.
PURE_WHEELS = ["maturin==1.16.0", "pytest==9.2.0", "pluggy==1.7.0", "iniconfig==2.3.1", "packaging==26.4",
               "pygments==2.21.0", "sortedcontainers==2.4.0", "attrs==26.1.0", "exceptiongroup==1.3.2",
               "tomli==2.5.0", "typing_extensions==4.15.0"]
# Built per Python: pinned as the wheel tests pin them (requirements/wheel-test.txt).
PER_PYTHON = ["numpy", "hypothesis"]
OLDEST_PYTHON = "3.10"


def _build_channel() -> Any:
    """crates/animica-env/tests/channel/build_channel.py, which knows how to
    write conda packages and make `python` from pyenv."""
    path = ROOT / "crates" / "animica-env" / "tests" / "channel" / "build_channel.py"
    spec = importlib.util.spec_from_file_location("build_channel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(args: list[str]) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def _package(bc: Any, name: str, version: str, subdir: str, depends: list[str]) -> Any:
    index: dict[str, object] = {"name": name, "version": version, "build": SHIM_BUILD, "build_number": 0,
                                "depends": depends, "subdir": subdir, "license": "LicenseRef-offline-shim"}
    if subdir == "noarch":
        index["noarch"] = "generic"
    else:
        index.update({"arch": "x86_64", "platform": "linux"})
    return bc.Package(index)


def shims(bc: Any) -> dict[str, str]:
    """The toolchain shims; returns the versions the variants must name."""
    home = Path.home()
    gcc = _run(["gcc", "-dumpfullversion"])
    p = _package(bc, "gcc_linux-64", gcc, "linux-64", [])
    activate = ("export CC=/usr/bin/gcc\nexport CXX=/usr/bin/g++\nexport AR=/usr/bin/ar\n"
                "export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=/usr/bin/gcc\n")
    p.add("etc/conda/activate.d/activate-gcc_linux-64.sh", activate.encode(), 0o644)
    p.write(CHANNEL / "linux-64" / f"gcc_linux-64-{gcc}-{SHIM_BUILD}.tar.bz2")

    rust = _run(["rustc", "--version"]).split()[1]
    p = _package(bc, "rust_linux-64", rust, "linux-64", [])
    for tool in ["cargo", "rustc", "rustdoc"]:
        wrapper = f'#!/bin/sh\nexport RUSTUP_HOME="${{RUSTUP_HOME:-{home}/.rustup}}"\nexec "{home}/.cargo/bin/{tool}" "$@"\n'
        p.add(f"bin/{tool}", wrapper.encode(), 0o755)
    activate = (f'export CARGO_HOME="${{CARGO_HOME:-{home}/.cargo}}"\nexport RUSTUP_TOOLCHAIN={rust}\n'
                "export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu\n")
    p.add("etc/conda/activate.d/activate-rust_linux-64.sh", activate.encode(), 0o644)
    p.write(CHANNEL / "linux-64" / f"rust_linux-64-{rust}-{SHIM_BUILD}.tar.bz2")

    glibc = _run(["getconf", "GNU_LIBC_VERSION"]).split()[1]
    p = _package(bc, "sysroot_linux-64", glibc, "noarch", [])
    p.add("share/animica-offline-shim/sysroot_linux-64", b"this machine's own glibc\n", 0o644)
    p.run_exports = {"strong": [f"__glibc >={glibc}"]}
    p.write(CHANNEL / "noarch" / f"sysroot_linux-64-{glibc}-{SHIM_BUILD}.tar.bz2")

    for tool, version in CARGO_TOOLS.items():
        exe = TOOLS / "bin" / tool
        record = TOOLS / "versions"
        if not exe.exists() or f"{tool}@{version}" not in (record.read_text() if record.exists() else ""):
            print(f"  cargo install {tool}@{version}", flush=True)
            subprocess.run(["cargo", "install", "--locked", "--quiet", "--root", str(TOOLS), f"{tool}@{version}"],
                           check=True)
            with record.open("a") as f:
                f.write(f"{tool}@{version}\n")
        p = _package(bc, tool, version, "linux-64", [])
        p.add(f"bin/{tool}", exe.read_bytes(), 0o755)
        p.write(CHANNEL / "linux-64" / f"{tool}-{version}-{SHIM_BUILD}.tar.bz2")
    return {"c_compiler_version": gcc, "c_stdlib_version": glibc, "rust_compiler_version": rust}


def pinned(name: str, python: str) -> str:
    """`name==version` as requirements/wheel-test.txt pins it for `python`."""
    from packaging.requirements import Requirement

    for line in (ROOT / "requirements" / "wheel-test.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.name == name and (req.marker is None or req.marker.evaluate({"python_version": python})):
            return f"{name}{req.specifier}"
    raise SystemExit(f"requirements/wheel-test.txt pins no {name} for Python {python}")


# One download at a time: Pythons share pure wheels (hypothesis), and pip
# copies a wheel into WHEELS non-atomically.
_DOWNLOADING = threading.Lock()


def _download(req: str, python: str | None) -> Path:
    """The wheel for `req` (and `python`), downloaded once into WHEELS."""
    with _DOWNLOADING:
        return _download_locked(req, python)


def _download_locked(req: str, python: str | None) -> Path:
    name, version = req.split("==")
    stem = name.replace("-", "_").lower()
    tags = {f"cp{python.replace('.', '')}", "py3", "py2.py3"} if python else None

    def cached() -> Path | None:
        for whl in sorted(WHEELS.glob("*.whl")):
            parts = whl.name.lower().split("-")
            if parts[0] == stem and parts[1] == version and (tags is None or parts[2] in tags):
                return whl
        return None

    if (found := cached()) is not None:
        return found
    WHEELS.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:", "-d", str(WHEELS)]
    if python:
        args += ["--python-version", python, "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64"]
    subprocess.run([*args, req], check=True)
    if (found := cached()) is None:
        raise SystemExit(f"pip downloaded no wheel of {req} for Python {python}")
    return found


def wheel_package(bc: Any, whl: Path, python: str | None) -> None:
    """A PyPI wheel as a conda package: noarch python for a pure wheel (or a
    Python-independent binary like maturin's, whose program goes to
    python-scripts), linux-64 for one Python otherwise. Requires-Dist
    become depends when their marker holds for that Python (for noarch: the
    oldest, so backports such as tomli come along; they are harmless later)."""
    from packaging.requirements import Requirement
    name, version = whl.name.split("-")[:2]
    cname = name.lower().replace("_", "-")
    noarch = python is None
    depends = ["python"] if noarch else [f"python {python}.*"]
    with zipfile.ZipFile(whl) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        version_ = python or OLDEST_PYTHON
        env = {"python_version": version_, "python_full_version": f"{version_}.0", "extra": ""}
        for line in z.read(meta).decode().splitlines():
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if req.marker is None or req.marker.evaluate(env):
                    depends.append(req.name.lower().replace("_", "-"))
        index: dict[str, object] = {"name": cname, "version": version, "build": "h_animica_whl_0", "build_number": 0,
                                    "depends": depends, "license": "LicenseRef-see-wheel"}
        if noarch:
            index.update({"subdir": "noarch", "noarch": "python"})
            site, scripts, subdir = "site-packages/", "python-scripts/", "noarch"
        else:
            index.update({"subdir": "linux-64", "arch": "x86_64", "platform": "linux"})
            site, scripts, subdir = f"lib/python{python}/site-packages/", "bin/", "linux-64"
        p = bc.Package(index)
        entry_points: list[str] = []
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            data = z.read(info)
            script = re.match(r"[^/]+\.data/scripts/(.+)", info.filename)
            if script:
                p.add(scripts + script.group(1), data, 0o755)
                continue
            p.add(site + info.filename, data, 0o755 if info.filename.endswith(".so") else 0o644)
            if info.filename.endswith(".dist-info/entry_points.txt"):
                entry_points += bc.console_scripts(data.decode())
    if noarch:
        p.link_json = {"noarch": {"type": "python", "entry_points": entry_points}, "package_metadata_version": 1}
    suffix = f"py{python.replace('.', '')}_" if python else ""
    p.index["build"] = f"{suffix}h_animica_whl_0"
    p.write(CHANNEL / subdir / f"{cname}-{version}-{p.index['build']}.tar.bz2")


def key(pythons: list[str]) -> str:
    """What the channel is made from: this file and the package writer, the
    pins, the Pythons and this machine's toolchains. The channel is rebuilt
    when it changes."""
    h = hashlib.sha256()
    for path in [Path(__file__), ROOT / "crates/animica-env/tests/channel/build_channel.py",
                 ROOT / "requirements/wheel-test.txt", ROOT / "rust-toolchain.toml"]:
        h.update(path.read_bytes())
    h.update(" ".join(pythons).encode())
    h.update(_run(["cc", "-dumpfullversion"]).encode())
    h.update(_run(["getconf", "GNU_LIBC_VERSION"]).encode())
    bc = _build_channel()
    for minor in pythons:
        h.update(str(bc.find_cpython(minor)).encode())
    return h.hexdigest()


def up_to_date(pythons: list[str]) -> bool:
    stamp = CHANNEL / "key"
    return stamp.is_file() and stamp.read_text().strip() == key(pythons)


def build(pythons: list[str], animica_env: str) -> dict[str, str]:
    """Makes the whole channel (from scratch) and indexes it; returns the
    variant overrides the shims need."""
    bc = _build_channel()
    shutil.rmtree(CHANNEL, ignore_errors=True)
    (CHANNEL / "noarch").mkdir(parents=True)
    (CHANNEL / "linux-64").mkdir()
    print(f"building the offline conda channel in {CHANNEL}", flush=True)

    def python(minor: str) -> None:
        print("  " + bc.python_package(CHANNEL, minor), flush=True)

    # Every package is its own file, bz2 releases the GIL and pip runs as a
    # subprocess, so two threads write them (54 of their 85 s were bz2 on one
    # core) while the toolchain shims' `cargo install`s build.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(python, minor) for minor in pythons]
        jobs += [pool.submit(lambda n, m: wheel_package(bc, _download(pinned(n, m), m), m), name, minor)
                 for minor in pythons for name in PER_PYTHON]
        jobs.append(pool.submit(lambda: bc.noarch_from_wheel(CHANNEL, bc.wheel("pip", WHEELS), "pip",
                                                             bc.WHEELS["pip"][0])))
        jobs += [pool.submit(lambda r: wheel_package(bc, _download(r, None), None), req) for req in PURE_WHEELS]
        overrides = shims(bc)
        for job in jobs:
            job.result()
    subprocess.run([animica_env, "index-channel", str(CHANNEL)], check=True)
    (CHANNEL / "overrides.json").write_text(json.dumps(overrides, indent=1) + "\n")
    (CHANNEL / "key").write_text(key(pythons) + "\n")
    return overrides
