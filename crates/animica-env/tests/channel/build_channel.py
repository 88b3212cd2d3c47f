#!/usr/bin/env python3
"""Build the local conda channel that animica-env's offline tests and
`make demo` use (default: target/channel), plus a pip wheelhouse.

Packages (linux-64 and noarch), written as .tar.bz2 conda packages:
- python 3.11.x: made from a CPython build on this machine (pyenv's, which
  has a shared libpython): the standard library without tests/IDLE/Tk and
  without site-packages, bin/python3.11 with its RUNPATH made relative ($ORIGIN/../lib) by
  patchelf, and the text files that name the build prefix declared in
  info/paths.json so the installer rewrites them for any prefix.
- pip and tabulate (noarch: python, from their wheels), with their console
  scripts as conda entry points: conda-installed packages with commands.
The wheelhouse holds six's and dill's wheels, installed by pip in the tests
(dill 0.3.6: the version Debian bookworm's python3-dill pickles with, for
work_queue.PythonTask).

Then the channel is indexed with rattler_index (`animica-env
index-channel`). Idempotent: an existing channel with the same recipe
stamp is left alone. Wheels are pinned by version and sha256.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
STAMP = "animica-env test channel v4"
WHEELS = {
    "pip": ("24.0", "pip-24.0-py3-none-any.whl", "ba0d021a166865d2265246961bec0152ff124de910c5cc39f1156ce3fa7c69dc"),
    "tabulate": ("0.9.0", "tabulate-0.9.0-py3-none-any.whl", "024ca478df22e9340661486f85298cff5f6dcdba14f3813e8830015b9ed1948f"),
    "six": ("1.16.0", "six-1.16.0-py2.py3-none-any.whl", "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"),
    "dill": ("0.3.6", "dill-0.3.6-py3-none-any.whl", "a07ffd2351b8c678dfc4a856a3005f8067aea51d6ba6c700796a4d9e280f39f0"),
}
SKIP_STDLIB = {"test", "idlelib", "tkinter", "turtledemo", "__pycache__", "ensurepip", "lib2to3"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def find_cpython(minor: str = "3.11") -> Path:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}.*/bin/python{minor}")))
    for exe in reversed(found):
        prefix = Path(exe).parents[1]
        if (prefix / "lib" / f"libpython{minor}.so.1.0").exists():
            return prefix
    raise SystemExit(
        f"build_channel.py needs a CPython {minor} built with a shared libpython (pyenv's "
        f"~/.pyenv/versions/{minor}.x on this project's machines); none found"
    )


class Package:
    """A conda package being assembled in memory."""

    def __init__(self, index: dict[str, object]) -> None:
        self.index = index
        self.files: list[tuple[str, bytes, int]] = []  # path, data, mode
        self.links: list[tuple[str, str]] = []
        self.paths: list[dict[str, object]] = []
        self.link_json: dict[str, object] | None = None
        self.run_exports: dict[str, list[str]] | None = None

    def add(self, path: str, data: bytes, mode: int, placeholder: str | None = None) -> None:
        entry: dict[str, object] = {"_path": path, "path_type": "hardlink", "sha256": sha256(data), "size_in_bytes": len(data)}
        if placeholder is not None and placeholder.encode() in data and b"\0" not in data:
            entry["prefix_placeholder"] = placeholder
            entry["file_mode"] = "text"
        self.files.append((path, data, mode))
        self.paths.append(entry)

    def symlink(self, path: str, target: str) -> None:
        self.links.append((path, target))
        self.paths.append({"_path": path, "path_type": "softlink", "sha256": sha256(target.encode()), "size_in_bytes": len(target)})

    def write(self, out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        self.paths.sort(key=lambda p: str(p["_path"]))
        meta = {
            "info/index.json": json.dumps(self.index, indent=2, sort_keys=True).encode(),
            "info/paths.json": json.dumps({"paths": self.paths, "paths_version": 1}, indent=2).encode(),
            "info/files": "".join(f"{p['_path']}\n" for p in self.paths).encode(),
        }
        if self.link_json is not None:
            meta["info/link.json"] = json.dumps(self.link_json, indent=2).encode()
        if self.run_exports is not None:
            meta["info/run_exports.json"] = json.dumps(self.run_exports, indent=2).encode()
        with tarfile.open(out, "w:bz2", compresslevel=1) as tar:
            for name, data in meta.items():
                add_bytes(tar, name, data, 0o644)
            for path, data, mode in sorted(self.files):
                add_bytes(tar, path, data, mode)
            for path, target in sorted(self.links):
                info = tarfile.TarInfo(path)
                info.type = tarfile.SYMTYPE
                info.linkname = target
                tar.addfile(info)


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def python_package(channel: Path, minor: str = "3.11") -> str:
    """CPython `minor` from pyenv as a conda package. Like conda-forge's, it
    pins what is built against it to its minor version (run_exports)."""
    prefix = find_cpython(minor)
    version = subprocess.run([str(prefix / "bin" / f"python{minor}"), "-c", "import platform; print(platform.python_version())"],
                             check=True, capture_output=True, text=True).stdout.strip()
    placeholder = str(prefix)
    pkg = Package({
        "name": "python", "version": version, "build": "h_animica_0", "build_number": 0,
        "depends": [], "subdir": "linux-64", "arch": "x86_64", "platform": "linux",
        "license": "Python-2.0",
    })
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / f"python{minor}"
        shutil.copy2(prefix / "bin" / f"python{minor}", exe)
        subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib", str(exe)], check=True)
        pkg.add(f"bin/python{minor}", exe.read_bytes(), 0o755)
    pkg.symlink("bin/python3", f"python{minor}")
    pkg.symlink("bin/python", f"python{minor}")
    for lib in [f"libpython{minor}.so.1.0", "libpython3.so"]:
        pkg.add(f"lib/{lib}", (prefix / "lib" / lib).read_bytes(), 0o755)
    pkg.symlink(f"lib/libpython{minor}.so", f"libpython{minor}.so.1.0")
    stdlib = prefix / "lib" / f"python{minor}"
    for path in sorted(stdlib.rglob("*")):
        rel = path.relative_to(stdlib)
        if path.is_dir() or path.is_symlink():
            continue
        top = rel.parts[0]
        if top in SKIP_STDLIB or "__pycache__" in rel.parts or "tests" in rel.parts:
            continue
        if top == "site-packages":
            continue  # pip is a package of its own, as on conda-forge
        if rel.name.endswith(".a"):
            continue  # the static libpython: 44 MB nobody running Python needs
        pkg.add(f"lib/python{minor}/{rel.as_posix()}", path.read_bytes(), 0o755 if os.access(path, os.X_OK) else 0o644, placeholder)
    major, mid = minor.split(".")
    pkg.run_exports = {"weak": [f"python >={minor},<{major}.{int(mid) + 1}.0a0"]}
    name = f"python-{version}-h_animica_0.tar.bz2"
    pkg.write(channel / "linux-64" / name)
    return name


def wheel(name: str, dest: Path) -> Path:
    version, filename, digest = WHEELS[name]
    out = dest / filename
    if not out.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "-d", str(dest), f"{name}=={version}"], check=True)
    got = sha256(out.read_bytes())
    if got != digest:
        raise SystemExit(f"{filename}: sha256 {got}, expected {digest}")
    return out


def console_scripts(entry_points_txt: str) -> list[str]:
    """A wheel's console scripts as conda's link.json lists them ("cmd = module:func")."""
    out, section = [], None
    for line in entry_points_txt.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[console_scripts]" and "=" in line:
            cmd, target = (x.strip() for x in line.split("=", 1))
            out.append(f"{cmd} = {target}")
    return out


def noarch_from_wheel(channel: Path, whl: Path, name: str, version: str) -> str:
    pkg = Package({
        "name": name, "version": version, "build": "pyh_animica_0", "build_number": 0,
        "depends": ["python >=3.7"], "subdir": "noarch", "noarch": "python", "license": "MIT",
    })
    entry_points = []
    with zipfile.ZipFile(whl) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            data = z.read(info)
            pkg.add(f"site-packages/{info.filename}", data, 0o644)
            if info.filename.endswith(".dist-info/entry_points.txt"):
                entry_points += console_scripts(data.decode())
    pkg.link_json = {"noarch": {"type": "python", "entry_points": entry_points}, "package_metadata_version": 1}
    filename = f"{name}-{version}-pyh_animica_0.tar.bz2"
    pkg.write(channel / "noarch" / filename)
    return filename


def main() -> int:
    channel = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "channel"
    stamp = channel / ".animica-stamp"
    if stamp.exists() and stamp.read_text() == STAMP and (channel / "noarch" / "repodata.json").exists():
        return 0
    shutil.rmtree(channel, ignore_errors=True)
    (channel / "wheels").mkdir(parents=True)
    print(f"building the test channel in {channel}", flush=True)
    print("  " + python_package(channel), flush=True)
    for name in ["pip", "tabulate"]:
        whl = wheel(name, channel / "wheels")
        print("  " + noarch_from_wheel(channel, whl, name, WHEELS[name][0]), flush=True)
        whl.unlink()  # from conda; only what pip installs stays in the wheelhouse
    wheel("six", channel / "wheels")
    wheel("dill", channel / "wheels")
    exe = os.environ.get("ANIMICA_ENV", str(ROOT / "target" / "debug" / "animica-env"))
    subprocess.run([exe, "index-channel", str(channel)], check=True)
    stamp.write_text(STAMP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
