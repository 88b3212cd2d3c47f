"""ci/binaries.py reads what decides whether a Windows or macOS wheel loads.

The binaries are assembled here, byte by byte, with exactly the structures
the checker reads, so each test changes one thing and sees it reported.
"""

from __future__ import annotations

import struct
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import binaries  # noqa: E402


def pe(imports: list[str], exports: list[str], timestamp: int = 0, machine: int = 0x8664) -> bytes:
    """A PE32+ image with one section (RVA 0x1000 = file offset 0x400) holding
    the import and export directories."""
    sec_rva, sec_off = 0x1000, 0x400
    body = bytearray()

    def add(data: bytes) -> int:
        rva = sec_rva + len(body)
        body.extend(data)
        return rva

    name_rvas = [add(n.encode() + b"\0") for n in imports + exports]
    import_rvas, export_rvas = name_rvas[: len(imports)], name_rvas[len(imports):]
    names_table = add(b"".join(struct.pack("<I", r) for r in export_rvas))
    export_dir = add(struct.pack("<IIHHIIIIIII", 0, 0, 0, 0, 0, 1, 0, len(exports), 0, names_table, 0))
    import_dir = add(b"".join(struct.pack("<IIIII", 0, 0, 0, r, 0) for r in import_rvas) + bytes(20))
    head = bytearray(sec_off)
    head[0:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    opt_size = 112 + 16 * 8
    struct.pack_into("<HHIIIHH", head, 0x84, machine, 1, timestamp, 0, 0, opt_size, 0x2022)
    opt = 0x98
    struct.pack_into("<H", head, opt, 0x20B)
    struct.pack_into("<HH", head, opt + 48, 6, 0)
    struct.pack_into("<I", head, opt + 108, 16)
    struct.pack_into("<II", head, opt + 112, export_dir, 40)
    struct.pack_into("<II", head, opt + 120, import_dir, 20 * (len(imports) + 1))
    struct.pack_into("<8sIIII", head, opt + opt_size, b".rdata", len(body), sec_rva, len(body), sec_off)
    return bytes(head) + bytes(body)


def macho(arch: int, minos: tuple[int, int], dylibs: list[str], exports: list[str]) -> bytes:
    cmds = bytearray()
    ncmds = 0
    v = (minos[0] << 16) | (minos[1] << 8)
    cmds += struct.pack("<IIIIII", 0x32, 24, 1, v, v, 0)
    ncmds += 1
    for d in dylibs:
        name = d.encode() + b"\0"
        size = (24 + len(name) + 7) // 8 * 8
        cmds += struct.pack("<IIIIII", 0xC, size, 24, 0, 0, 0) + name.ljust(size - 24, b"\0")
        ncmds += 1
    strtab = b"\0" + b"".join(e.encode() + b"\0" for e in exports)
    header_size = 32 + len(cmds) + 24
    symoff = header_size
    stroff = symoff + 16 * len(exports)
    offsets, pos = [], 1
    for e in exports:
        offsets.append(pos)
        pos += len(e) + 1
    cmds += struct.pack("<IIIIII", 0x2, 24, symoff, len(exports), stroff, len(strtab))
    ncmds += 1
    syms = b"".join(struct.pack("<IBBHQ", o, 0x0F, 1, 0, 0) for o in offsets)
    header = struct.pack("<IiiIIII", 0xFEEDFACF, arch, 0, 6, ncmds, len(cmds), 0) + bytes(4)
    return header + bytes(cmds) + syms + strtab


def fat(*slices: bytes) -> bytes:
    cpus = {s[4:8] for s in slices}
    assert len(cpus) == len(slices)
    out = bytearray(struct.pack(">II", 0xCAFEBABE, len(slices)))
    offset = 4096
    table, blobs = bytearray(), bytearray()
    for s in slices:
        cpu = struct.unpack_from("<i", s, 4)[0]
        table += struct.pack(">iiIII", cpu, 0, offset + len(blobs), len(s), 12)
        blobs += s
    out += table
    return bytes(out.ljust(offset, b"\0") + blobs)


def wheel(tmp: Path, name: str, member: str, data: bytes) -> Path:
    whl = tmp / name
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(member, data)
    return whl


WIN = "animica_native-0.1.0-cp311-cp311-win_amd64.whl"
PYD = "animica_native/_native.cp311-win_amd64.pyd"
GOOD_IMPORTS = ["KERNEL32.dll", "msvcrt.dll", "python311.dll", "api-ms-win-core-synch-l1-2-0.dll"]


def test_a_good_windows_module_passes(tmp_path: Path) -> None:
    assert binaries.check_wheel(wheel(tmp_path, WIN, PYD, pe(GOOD_IMPORTS, ["PyInit__native"]))) == []


def test_windows_defects_are_named(tmp_path: Path) -> None:
    cases = {
        "does not export PyInit__native": pe(GOOD_IMPORTS, ["PyInit_animica_native._native"]),
        "does not import python311.dll": pe(["KERNEL32.dll", "python312.dll"], ["PyInit__native"]),
        "may not have: ['libwinpthread-1.dll']": pe([*GOOD_IMPORTS, "libwinpthread-1.dll"], ["PyInit__native"]),
        "link timestamp 1796004102": pe(GOOD_IMPORTS, ["PyInit__native"], timestamp=1796004102),
        "not AMD64": pe(GOOD_IMPORTS, ["PyInit__native"], machine=0xAA64),
    }
    for want, data in cases.items():
        errors = binaries.check_wheel(wheel(tmp_path, WIN, PYD, data))
        assert any(want in e for e in errors), (want, errors)


X86, ARM = 0x01000007, 0x0100000C
MAC = "animica_native-0.1.0-cp311-cp311-macosx_11_0_universal2.whl"
SO = "animica_native/_native.cpython-311-darwin.so"
SYSTEM = ["/usr/lib/libSystem.B.dylib", "/usr/lib/libiconv.2.dylib"]


def test_a_good_universal2_module_passes(tmp_path: Path) -> None:
    data = fat(macho(X86, (10, 12), SYSTEM, ["_PyInit__native"]), macho(ARM, (11, 0), SYSTEM, ["_PyInit__native"]))
    assert binaries.check_wheel(wheel(tmp_path, MAC, SO, data)) == []


def test_maturins_universal2_tags_are_understood(tmp_path: Path) -> None:
    name = "animica_native-0.1.0-cp311-cp311-macosx_11_0_arm64.macosx_11_0_universal2.macosx_11_0_x86_64.whl"
    both = fat(macho(X86, (11, 0), SYSTEM, ["_PyInit__native"]), macho(ARM, (11, 0), SYSTEM, ["_PyInit__native"]))
    assert binaries.check_wheel(wheel(tmp_path, name, SO, both)) == []
    errors = binaries.check_wheel(wheel(tmp_path, name, SO, fat(macho(ARM, (11, 0), SYSTEM, ["_PyInit__native"]))))
    assert any("need ['arm64', 'x86_64']" in e for e in errors), errors


def test_macos_defects_are_named(tmp_path: Path) -> None:
    good_x86 = macho(X86, (10, 12), SYSTEM, ["_PyInit__native"])
    cases = {
        "need ['arm64', 'x86_64']": fat(good_x86),
        "minimum macOS (13, 0, 0), the tag promises 11.0": fat(good_x86, macho(ARM, (13, 0), SYSTEM, ["_PyInit__native"])),
        "arm64: does not export _PyInit__native": fat(good_x86, macho(ARM, (11, 0), SYSTEM, ["_other"])),
        "never libpython": fat(good_x86, macho(ARM, (11, 0), [*SYSTEM, "@rpath/libpython3.11.dylib"], ["_PyInit__native"])),
    }
    for want, data in cases.items():
        errors = binaries.check_wheel(wheel(tmp_path, MAC, SO, data))
        assert any(want in e for e in errors), (want, errors)
