#!/usr/bin/env python3
"""CPython interpreters this machine has no package for, built from Debian's
source tarballs, to test wheels on:

    ci/cpython.py VERSION [--musl]      prints the interpreter's path

--musl   linked against musl 1.2.5 (Debian trixie's musl and musl-dev
         packages, unpacked into target/cpython/musl-1.2.5/ - never installed
         on the host - and used through gcc with a specs file, as musl-gcc
         does) with a zlib built the same way, so pip on it picks musllinux
         wheels, as on Alpine. The interpreter's loader is that musl's (an
         absolute path into target/). Not the host's musl 1.2.3 (bookworm):
         current musllinux wheels (numpy's, built on Alpine) use packed
         relative relocations (DT_RELR), which only musl 1.2.4+ applies; on
         1.2.3 they crash while loading. No ssl module: packages come from a
         directory (`pip download --platform musllinux_...` on the host),
         never from the network.

Each build goes to target/cpython/<flavour>-<version>/ and is reused while
its stamp (source sha256 + options) matches; one build takes 4-6 minutes on
two cores (no PGO: these interpreters exist to load and test our wheels).
Sources are the upstream tarballs Debian ships (`.orig.tar.*` in
deb.debian.org's pool), pinned by sha256 below. Debian has none for 3.10 and
3.12 (no release carries them), and this network gets none for 3.14 and 3.15
(see SOURCES), so those cannot be built here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "target" / "cpython"
POOL = "http://deb.debian.org/debian/pool/main"
# version -> (pool path, sha256), from the stable releases: bullseye 3.9,
# bookworm 3.11, trixie 3.13. 3.14 and 3.15 exist only in forky/sid, whose
# source files (.dsc, .orig.tar) deb.debian.org does not serve to this network
# (their binary packages it does): no musl 3.14/3.15 here.
SOURCES = {
    "3.9": ("p/python3.9/python3.9_3.9.2.orig.tar.xz",
            "3c2034c54f811448f516668dce09d24008a0716c3a794dd8639b5388cbde247d"),
    "3.11": ("p/python3.11/python3.11_3.11.2.orig.tar.gz",
             "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"),
    "3.13": ("p/python3.13/python3.13_3.13.5.orig.tar.xz",
             "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"),
}
ZLIB = ("z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2", "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1")
MUSL_VERSION = "1.2.5"
MUSL_DEBS = [  # trixie's, binary-amd64/Packages
    ("m/musl/musl_1.2.5-3.1~deb13u1_amd64.deb", "fd4231e1c189c0ebe01182747f83817593fefa7f6b690c484410646288b60058"),
    ("m/musl/musl-dev_1.2.5-3.1~deb13u1_amd64.deb", "a3f7d47e452129bb65aae201d6c115abf4d5d3efb136b38b7c6b4fa03ec065e9"),
]
MUSL_LIB = "usr/lib/x86_64-linux-musl"
MUSL_INCLUDE = "usr/include/x86_64-linux-musl"


def log(msg: str) -> None:
    print(f"[cpython] {msg}", file=sys.stderr, flush=True)


def fetch(pool_path: str, sha256: str) -> Path:
    dest = CACHE / "src" / Path(pool_path).name
    if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = f"{POOL}/{pool_path}"
    log(f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            data = r.read()
    except OSError as e:
        sys.exit(f"cpython: cannot download {url}: {e} (is it still in Debian's pool? see SOURCES in {__file__})")
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        sys.exit(f"cpython: {url} has sha256 {got}, pinned {sha256}; refusing it")
    dest.write_bytes(data)
    return dest


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as t:
        t.extractall(into, filter="data")
    (top,) = [p for p in into.iterdir() if p.is_dir()]
    return top


def make(cwd: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["make", f"-j{os.cpu_count() or 2}", *args], cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def musl_toolchain() -> Path:
    """A gcc specs file compiling and linking against the unpacked musl (what
    musl-gcc's specs do, with this tree's paths); returns the specs' path."""
    root = CACHE / f"musl-{MUSL_VERSION}"
    specs = root / "musl-gcc.specs"
    if specs.is_file():
        return specs
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for pool_path, sha256 in MUSL_DEBS:
        subprocess.run(["dpkg-deb", "-x", str(fetch(pool_path, sha256)), str(root)], check=True)
    lib, include = root / MUSL_LIB, root / MUSL_INCLUDE
    loader = lib / "libc.so"  # /lib/ld-musl-x86_64.so.1 links to it
    specs.write_text(f"""%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem {include} -isystem include%s %(old_cpp_options)

*cc1:
%(cc1_cpu) -nostdinc -isystem {include} -isystem include%s

*link_libgcc:
-L{lib} -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
%{{!shared: {lib}/Scrt1.o}} {lib}/crti.o crtbeginS.o%s

*endfile:
crtendS.o%s {lib}/crtn.o

*link:
-dynamic-linker {loader} -nostdlib %{{shared:-shared}} %{{static:-static}} %{{rdynamic:-export-dynamic}}
""")
    return specs


def build_zlib(work: Path, prefix: Path, env: dict[str, str]) -> None:
    src = unpack(fetch(*ZLIB), work / "zlib")
    env = {**env, "CFLAGS": "-O2 -fPIC"}  # linked into CPython's zlib extension module
    subprocess.run(["./configure", f"--prefix={prefix}", "--static"], cwd=src, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    make(src, env=env)
    make(src, "install", env=env)


def build(version: str, musl: bool) -> Path:
    if version not in SOURCES:
        sys.exit(f"cpython: no Debian source for CPython {version} (have {', '.join(SOURCES)})")
    flavour = "musl" if musl else "glibc"
    prefix = CACHE / f"{flavour}-{version}"
    exe = prefix / "bin" / f"python{version}"
    stamp = prefix / ".animica-stamp"
    want = f"{SOURCES[version][1]} {flavour} musl-{MUSL_VERSION}" if musl else f"{SOURCES[version][1]} {flavour}"
    if stamp.is_file() and stamp.read_text() == want and exe.is_file():
        return exe
    if prefix.exists():
        shutil.rmtree(prefix)
    log(f"building CPython {version} ({flavour}) into {prefix.relative_to(ROOT)} (once; a few minutes)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CFLAGS", "LDFLAGS", "CPPFLAGS"))}
    with tempfile.TemporaryDirectory(prefix=f"animica-cpython-{version}-") as tmp:
        work = Path(tmp)
        configure = ["./configure", f"--prefix={prefix}", "--with-ensurepip=install", "--disable-test-modules"]
        if musl:
            # gcc answers --print-multiarch with
            # the glibc triplet; CPython's configure then refuses the one its
            # own probe finds, and setup.py (3.9-3.11) adds the glibc include
            # directory that dpkg-architecture names. Neither may answer.
            tools = work / "musl-tools"
            tools.mkdir()
            (tools / "musl-cc").write_text('#!/bin/sh\ncase "$1" in -print-multiarch|--print-multiarch) exit 1;; esac\n'
                                           f'exec gcc "$@" -specs "{musl_toolchain()}"\n')
            (tools / "dpkg-architecture").write_text("#!/bin/sh\nexit 1\n")
            for tool in tools.iterdir():
                tool.chmod(0o755)
            env["CC"] = str(tools / "musl-cc")
            env["PATH"] = f"{tools}{os.pathsep}{env['PATH']}"
            build_zlib(work, work / "deps", env)
            # pkg-config must not offer the host's glibc libraries (lzma, ...):
            # only what was built for musl here.
            env["PKG_CONFIG_LIBDIR"] = str(work / "deps" / "lib" / "pkgconfig")
            env.pop("PKG_CONFIG_PATH", None)
            env["CPPFLAGS"] = f"-I{work / 'deps' / 'include'}"
            env["LDFLAGS"] = f"-L{work / 'deps' / 'lib'}"
        src = unpack(fetch(*SOURCES[version]), work / "cpython")
        subprocess.run(configure, cwd=src, env=env, check=True, stdout=subprocess.DEVNULL)
        make(src, env=env)
        make(src, "install", env=env)
    # The interpreter must be what it claims: the right version, the libc, zlib.
    check = ("import sys, zlib, platform; print(sys.version.split()[0], platform.libc_ver())")
    out = subprocess.run([str(exe), "-c", check], check=True, capture_output=True, text=True).stdout.strip()
    if not out.startswith(version) or (musl and "glibc" in out):
        sys.exit(f"cpython: the built interpreter says {out!r}")
    log(f"CPython {out} ({flavour}) ready")
    stamp.write_text(want)
    return exe


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("version")
    ap.add_argument("--musl", action="store_true")
    args = ap.parse_args(argv)
    print(build(args.version, args.musl))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
