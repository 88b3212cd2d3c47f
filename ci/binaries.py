#!/usr/bin/env python3
"""What auditwheel does for Linux, for the wheels nothing runs here.

    ci/binaries.py WHEEL...

A Windows or macOS wheel built on this machine cannot be run on it. This reads
its extension module instead and checks what decides whether it loads on a
user's machine:

win_amd64   PE32+ for AMD64; exports PyInit_<module>; imports its CPython's
            DLL (python3XY.dll, matching the wheel's cpXY tag) and otherwise
            only DLLs every Windows 10+ has; no link timestamp (reproducible).
macOS       one Mach-O slice per architecture the tag names (universal2:
            x86_64 and arm64); each slice a bundle/dylib exporting
            _PyInit_<module>, with a minimum macOS no newer than the tag's,
            linking only system libraries (/usr/lib, /System) and never
            libpython (the interpreter provides its symbols at load time).

Prints one summary line per binary; exit 1 if anything is wrong.
"""

from __future__ import annotations

import re
import struct
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# DLLs of every Windows 10+ install that a Rust cdylib for x86_64-pc-windows-gnu
# may import: the kernel, the C runtime (msvcrt.dll, or the UCRT's api sets),
# Rust std's own imports (ntdll, bcryptprimitives for its RNG, ws2_32,
# userenv, the synch api set) and the user/advapi basics.
SYSTEM_DLLS = {"kernel32.dll", "ntdll.dll", "msvcrt.dll", "ucrtbase.dll", "bcryptprimitives.dll", "ws2_32.dll",
               "userenv.dll", "advapi32.dll", "user32.dll", "bcrypt.dll", "vcruntime140.dll"}
PE_MACHINE_AMD64 = 0x8664
MACHO_CPU = {0x01000007: "x86_64", 0x0100000C: "arm64"}
MACHO_FILETYPE = {6: "dylib", 8: "bundle"}


class FormatError(Exception):
    """The file is not the kind of binary its wheel says."""


@dataclass
class PeInfo:
    machine: int
    timestamp: int
    imports: list[str]
    exports: list[str]
    subsystem_version: tuple[int, int]


@dataclass
class MachoSlice:
    arch: str
    filetype: str
    minos: tuple[int, int, int] | None
    dylibs: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)


def _cstr(data: bytes, off: int) -> str:
    end = data.index(b"\0", off)
    return data[off:end].decode("ascii", "replace")


def pe_info(data: bytes) -> PeInfo:
    if data[:2] != b"MZ":
        raise FormatError("no MZ header")
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        raise FormatError("no PE signature")
    machine, nsections, timestamp = struct.unpack_from("<HHI", data, pe + 4)
    opt_size = struct.unpack_from("<H", data, pe + 20)[0]
    opt = pe + 24
    if struct.unpack_from("<H", data, opt)[0] != 0x20B:
        raise FormatError("not PE32+")
    subsystem_version = struct.unpack_from("<HH", data, opt + 48)
    ndirs = struct.unpack_from("<I", data, opt + 108)[0]
    dirs = [struct.unpack_from("<II", data, opt + 112 + 8 * i) for i in range(min(ndirs, 16))]
    sections = [struct.unpack_from("<8sIIII", data, opt + opt_size + 40 * i) for i in range(nsections)]

    def offset(rva: int) -> int:
        for _name, vsize, vaddr, rawsize, rawptr in sections:
            if vaddr <= rva < vaddr + max(vsize, rawsize):
                return int(rva - vaddr + rawptr)
        raise FormatError(f"RVA {rva:#x} is in no section")

    exports: list[str] = []
    if len(dirs) > 0 and dirs[0][0]:
        e = offset(dirs[0][0])
        nnames, names = struct.unpack_from("<I", data, e + 24)[0], struct.unpack_from("<I", data, e + 32)[0]
        exports = [_cstr(data, offset(struct.unpack_from("<I", data, offset(names) + 4 * i)[0])) for i in range(nnames)]
    imports: list[str] = []
    if len(dirs) > 1 and dirs[1][0]:
        d = offset(dirs[1][0])
        while True:
            entry = struct.unpack_from("<IIIII", data, d)
            if not any(entry):
                break
            imports.append(_cstr(data, offset(entry[3])))
            d += 20
    return PeInfo(machine, timestamp, imports, exports, (subsystem_version[0], subsystem_version[1]))


def _macho_slice(data: bytes) -> MachoSlice:
    magic, cputype, _sub, filetype, ncmds, _size, _flags = struct.unpack_from("<IiiIIII", data, 0)
    if magic != 0xFEEDFACF:
        raise FormatError(f"not a 64-bit little-endian Mach-O (magic {magic:#x})")
    s = MachoSlice(MACHO_CPU.get(cputype & 0xFFFFFFFF, f"cpu {cputype:#x}"), MACHO_FILETYPE.get(filetype, str(filetype)),
                   None)
    off = 32
    symtab = None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, off)
        if cmd in (0xC, 0x80000018, 0x8000001F):  # LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB
            s.dylibs.append(_cstr(data, off + struct.unpack_from("<I", data, off + 8)[0]))
        elif cmd == 0x32:  # LC_BUILD_VERSION: platform, minos (xxxx.yy.zz)
            v = struct.unpack_from("<I", data, off + 12)[0]
            s.minos = (v >> 16, (v >> 8) & 0xFF, v & 0xFF)
        elif cmd == 0x24 and s.minos is None:  # LC_VERSION_MIN_MACOSX
            v = struct.unpack_from("<I", data, off + 8)[0]
            s.minos = (v >> 16, (v >> 8) & 0xFF, v & 0xFF)
        elif cmd == 0x2:  # LC_SYMTAB
            symtab = struct.unpack_from("<IIII", data, off + 8)
        off += size
    if symtab is not None:
        symoff, nsyms, stroff, _strsize = symtab
        for i in range(nsyms):
            strx, ntype, _sect, _desc, _value = struct.unpack_from("<IBBHQ", data, symoff + 16 * i)
            if ntype & 0x01 and (ntype & 0x0E) == 0x0E:  # N_EXT, defined in a section
                s.exports.append(_cstr(data, stroff + strx))
    return s


def macho_slices(data: bytes) -> list[MachoSlice]:
    if struct.unpack_from(">I", data, 0)[0] == 0xCAFEBABE:
        n = struct.unpack_from(">I", data, 4)[0]
        slices = []
        for i in range(n):
            _cpu, _sub, off, size, _align = struct.unpack_from(">iiIII", data, 8 + 20 * i)
            slices.append(_macho_slice(data[off:off + size]))
        return slices
    return [_macho_slice(data)]


def _module_name(member: str) -> str:
    return Path(member).name.split(".")[0]


def check_windows(member: str, data: bytes, cp: str) -> tuple[str, list[str]]:
    info = pe_info(data)
    errors = []
    if info.machine != PE_MACHINE_AMD64:
        errors.append(f"machine {info.machine:#x}, not AMD64")
    init = f"PyInit_{_module_name(member)}"
    if init not in info.exports:
        errors.append(f"does not export {init} (exports {info.exports})")
    python_dll = f"python{cp[2:]}.dll"
    lowered = [d.lower() for d in info.imports]
    if python_dll not in lowered:
        errors.append(f"does not import {python_dll}")
    foreign = [d for d in info.imports if d.lower() != python_dll and d.lower() not in SYSTEM_DLLS
               and not d.lower().startswith(("api-ms-win-", "ext-ms-win-"))]
    if foreign:
        errors.append(f"imports DLLs a Windows install may not have: {foreign}")
    if info.timestamp != 0:
        errors.append(f"link timestamp {info.timestamp} (the build is not reproducible)")
    summary = (f"PE32+ AMD64, exports {init}, imports {', '.join(info.imports)}; "
               f"subsystem {info.subsystem_version[0]}.{info.subsystem_version[1]}")
    return summary, errors


def check_macos(member: str, data: bytes, platforms: list[str]) -> tuple[str, list[str]]:
    """`platforms`: the wheel's platform tags (a universal2 wheel may list each arch's too)."""
    oses: dict[str, tuple[int, int, int]] = {}
    for p in platforms:
        m = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", p)
        if m is None:
            return "", [f"platform tag {p} is not macosx_X_Y_ARCH"]
        oses[m.group(3)] = (int(m.group(1)), int(m.group(2)), 0)
    # The slices must be exactly the architectures the tags name together
    # (maturin tags a universal2 wheel with universal2, arm64 and x86_64).
    covers = {"universal2": {"x86_64", "arm64"}, "x86_64": {"x86_64"}, "arm64": {"arm64"}}
    unknown = sorted(set(oses) - covers.keys())
    want = sorted(set().union(*(covers[a] for a in oses if a in covers)))
    slices = macho_slices(data)
    errors = []
    if unknown or sorted(s.arch for s in slices) != want:
        errors.append(f"slices {sorted(s.arch for s in slices)}, the tags {'.'.join(platforms)} need {want}")
    init = f"_PyInit_{_module_name(member)}"
    parts = []
    for s in slices:
        # What the tags promise this slice: its own tag, else the first (universal2)
        # one; no arm64 Mac runs anything older than macOS 11.
        tag_os = oses.get(s.arch) or oses.get("universal2") or (99, 0, 0)
        if s.arch == "arm64":
            tag_os = max(tag_os, (11, 0, 0))
        if s.filetype not in ("bundle", "dylib"):
            errors.append(f"{s.arch}: file type {s.filetype}")
        if s.minos is None or s.minos > tag_os:
            errors.append(f"{s.arch}: minimum macOS {s.minos}, the tag promises {tag_os[0]}.{tag_os[1]}")
        if init not in s.exports:
            errors.append(f"{s.arch}: does not export {init}")
        foreign = [d for d in s.dylibs if not d.startswith(("/usr/lib/", "/System/Library/"))]
        if foreign or any("python" in d.lower() for d in s.dylibs):
            errors.append(f"{s.arch}: links {foreign or s.dylibs} (only system libraries, never libpython)")
        minos = ".".join(map(str, s.minos)) if s.minos else "?"
        parts.append(f"{s.arch} {s.filetype} minos {minos} links {', '.join(s.dylibs)}")
    return "Mach-O " + "; ".join(parts) + f"; exports {init}", errors


def check_wheel(whl: Path) -> list[str]:
    """Checks the extension modules of a Windows or macOS wheel; prints what it found."""
    parts = whl.name[:-4].split("-")
    cp, platform = parts[-2], parts[-1]
    errors = []
    with zipfile.ZipFile(whl) as z:
        members = [n for n in z.namelist() if n.endswith((".pyd", ".so", ".dylib"))]
        if not members:
            return [f"{whl.name}: no extension module"]
        for name in members:
            data = z.read(name)
            try:
                if platform.startswith("win"):
                    summary, errs = check_windows(name, data, cp)
                else:
                    summary, errs = check_macos(name, data, platform.split("."))
            except (FormatError, struct.error, ValueError) as e:
                summary, errs = "", [f"unreadable: {e}"]
            print(f"binaries: {whl.name}: {name}: {summary} (structure checked; not run on this machine)")
            errors += [f"{whl.name}: {name}: {e}" for e in errs]
    return errors


def main(argv: list[str]) -> int:
    errors = [e for w in argv for e in check_wheel(Path(w))]
    for e in errors:
        print(f"binaries: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
