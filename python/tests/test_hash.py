from __future__ import annotations

import array
import gc
import hashlib
import hmac
import io
import json
import mmap
import os
import platform
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import animica_native as an
from conftest import FINALIZERS_RUN_INSIDE_CALLS, call_with_finalizer
from conftest import blake3_input, load

B3 = load("blake3.json")
# The vectors' own comment names this context and asks runners to hardcode it.
B3_CONTEXT = "BLAKE3 2019-12-27 16:29:52 test vectors context"
SHA = load("sha256.json")["cases"]
KEC = load("keccak256.json")["cases"]


@pytest.mark.parametrize("case", B3["cases"], ids=lambda c: str(c["input_len"]))
def test_blake3_official_vectors(case: dict[str, Any]) -> None:
    data = blake3_input(case["input_len"])
    full = bytes.fromhex(case["hash"])
    assert an.hash.blake3(data) == full[:32]
    assert an.hash.blake3(data, length=len(full)) == full
    key = B3["key"].encode()
    assert an.hash.blake3(data, key=key, length=len(full)).hex() == case["keyed_hash"]
    ctx = B3_CONTEXT
    assert an.hash.blake3(data, derive_key_context=ctx, length=len(full)).hex() == case["derive_key"]
    # Streaming in uneven pieces, and every mode through the class.
    h = an.hash.Blake3()
    for i in range(0, len(data), 1000):
        h.update(data[i : i + 1000])
    assert h.digest(len(full)) == full
    assert an.hash.Blake3(data, key=key).hexdigest(len(full)) == case["keyed_hash"]
    assert an.hash.Blake3(data, derive_key_context=ctx).hexdigest(len(full)) == case["derive_key"]


@pytest.mark.parametrize(
    "fn,cls,many,cases",
    [
        (an.hash.sha256, an.hash.Sha256, an.hash.sha256_many, SHA),
        (an.hash.keccak256, an.hash.Keccak256, an.hash.keccak256_many, KEC),
    ],
    ids=["sha256-nist", "keccak256-kat"],
)
def test_published_vectors(fn: Callable[[bytes], bytes], cls: Any, many: Any, cases: list[dict[str, str]]) -> None:
    msgs = [bytes.fromhex(c["msg"]) for c in cases]
    want = [bytes.fromhex(c["digest"]) for c in cases]
    assert [fn(m) for m in msgs] == want
    assert many(msgs) == want
    for m, w in zip(msgs, want):
        h = cls()
        h.update(m[: len(m) // 3]).update(m[len(m) // 3 :])
        assert h.digest() == w
        assert h.hexdigest() == w.hex()


def test_keccak_is_not_sha3() -> None:
    assert an.hash.keccak256(b"") != hashlib.sha3_256(b"").digest()
    assert an.hash.keccak256(b"").hex().startswith("c5d2460186f7233c")


def _buffers(payload: bytes) -> list[object]:
    return [
        payload,
        bytearray(payload),
        memoryview(payload),
        array.array("B", payload),
        np.frombuffer(payload, dtype=np.uint8),
    ]


@pytest.mark.parametrize("fn", [an.hash.blake3, an.hash.sha256, an.hash.keccak256])
def test_every_buffer_type(fn: Callable[[object], bytes]) -> None:
    payload = os.urandom(100_003)
    want = fn(payload)
    for b in _buffers(payload):
        assert fn(b) == want, type(b)
    # numpy arrays of wider items hash their raw bytes, like hashlib.
    wide = np.arange(1000, dtype=np.int64)
    assert fn(wide) == fn(wide.tobytes())


def test_mmap_memoryview(tmp_path: Path) -> None:
    p = tmp_path / "blob"
    data = os.urandom(1 << 20)
    p.write_bytes(data)
    with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert an.hash.sha256(memoryview(mm)) == hashlib.sha256(data).digest()
        assert an.hash.blake3(mm) == an.hash.blake3(data)


@pytest.mark.parametrize("fn", [an.hash.blake3, an.hash.sha256, an.hash.keccak256])
def test_non_contiguous_is_invalid_input(fn: Callable[[object], bytes]) -> None:
    with pytest.raises(an.InvalidInput, match="not C-contiguous"):
        fn(memoryview(b"abcdef")[::2])
    with pytest.raises(an.InvalidInput):
        fn(np.zeros((4, 4), dtype=np.uint8)[:, 1])


@pytest.mark.parametrize("bad", ["text", 3, None, [1, 2]])
def test_wrong_type_is_type_error(bad: object) -> None:
    for fn in (an.hash.blake3, an.hash.sha256, an.hash.keccak256):
        with pytest.raises(TypeError):
            fn(bad)  # type: ignore[arg-type]


def test_errors_subclass_runtime_error() -> None:
    for e in (an.InvalidInput, an.ComputationFailed, an.BackendUnavailable):
        assert issubclass(e, an.AnimicaError)
    assert issubclass(an.AnimicaError, RuntimeError)


def test_blake3_options_are_validated() -> None:
    with pytest.raises(an.InvalidInput, match="key has 31 bytes, expected 32"):
        an.hash.blake3(b"x", key=bytes(31))
    with pytest.raises(an.InvalidInput, match="mutually exclusive"):
        an.hash.blake3(b"x", key=bytes(32), derive_key_context="c")
    with pytest.raises(an.InvalidInput, match="max_threads"):
        an.hash.blake3(b"x", max_threads=0)
    assert an.hash.blake3(b"x", length=0) == b""
    assert an.hash.blake3(b"x", length=100)[:32] == an.hash.blake3(b"x")


def test_hashlib_protocol() -> None:
    for cls, ref, block in (
        (an.hash.Sha256, hashlib.sha256, 64),
        (an.hash.Keccak256, None, 136),
        (an.hash.Blake3, None, 64),
    ):
        h = cls()
        assert h.digest_size == 32 and h.block_size == block
        assert h.update(b"abc") is h
        c = h.copy()
        c.update(b"more")
        assert h.digest() != c.digest()
        assert cls(b"abc").digest() == h.digest()
        data = os.urandom(300_000)
        if sys.version_info >= (3, 11):  # hashlib.file_digest is new in 3.11
            digest = hashlib.file_digest(io.BytesIO(data), cls).digest()  # type: ignore[arg-type]
            assert digest == cls(data).digest()
        h2 = cls()
        for i in range(0, len(data), 65_536):
            h2.update(memoryview(data)[i : i + 65_536])
        assert h2.digest() == cls(data).digest()
        mac = hmac.new(b"key", b"message", cls).digest()  # type: ignore[arg-type]
        if ref is not None:
            assert mac == hmac.new(b"key", b"message", ref).digest()
            assert h.name == "sha256"
    assert an.hash.Keccak256().name == "keccak256" and an.hash.Blake3().name == "blake3"


def test_concurrent_updates_are_serialised() -> None:
    h = an.hash.Sha256()
    chunk = b"z" * 50_000

    def work() -> None:
        for _ in range(40):
            h.update(chunk)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert h.digest() == hashlib.sha256(chunk * 160).digest()


def test_many_order_and_inputs() -> None:
    items = [os.urandom(i % 97) for i in range(5000)]
    want = [hashlib.sha256(x).digest() for x in items]
    assert an.hash.sha256_many(items) == want
    assert an.hash.sha256_many(tuple(items)) == want
    assert an.hash.sha256_many(x for x in items) == want
    assert an.hash.blake3_many(items) == [an.hash.blake3(x) for x in items]
    assert an.hash.keccak256_many([]) == []
    with pytest.raises(TypeError, match=r"items\[1\]"):
        an.hash.sha256_many([b"a", "b"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        an.hash.sha256_many(b"not a list")  # type: ignore[arg-type]


class _Bytes(bytes):
    pass


@pytest.mark.parametrize("max_threads", [None, 1, 2])
def test_large_batches_every_kind_of_buffer(max_threads: int | None) -> None:
    # Large enough for the overlapped path (pool), with lengths that end
    # lanes of the 16-way SHA-256 kernel at different times.
    items: list[Any] = [os.urandom((i * 37) % 300) for i in range(40_000)]
    mixed = list(items)
    mixed[5] = bytearray(items[5])
    mixed[20_001] = memoryview(items[20_001])
    mixed[39_999] = _Bytes(items[39_999])
    for many, one in (
        (an.hash.sha256_many, lambda x: hashlib.sha256(x).digest()),
        (an.hash.keccak256_many, an.hash.keccak256),
        (an.hash.blake3_many, an.hash.blake3),
    ):
        want = [one(x) for x in items]
        # The mixed list first: a digest left unwritten would otherwise
        # show the same digest that the call before freed in its place.
        assert many(mixed, max_threads=max_threads) == want
        assert many(items, max_threads=max_threads) == want
        assert many(tuple(mixed), max_threads=max_threads) == want
        # Other buffers everywhere: the list is left to its snapshot.
        assert many([bytearray(x) for x in items], max_threads=max_threads) == want
        # An item that is no buffer, found while the others are hashed.
        with pytest.raises(TypeError, match=r"items\[30000\]"):
            many([*items[:30_000], "not bytes", *items[30_001:]], max_threads=max_threads)  # type: ignore[list-item]


def test_large_list_changed_by_another_thread_or_a_finalizer() -> None:
    """A large list of bytes is read in place, not copied (on builds with the
    GIL): the call must still see one whole state of the list, whatever
    another thread or a finalizer the garbage collector runs does to it."""
    def fresh(seed: int) -> list[bytes]:
        # New objects each time, owned by the list alone, so replacing them
        # frees them: a read of a stale item would read freed memory. The
        # two states differ in length too (both large enough to be read in
        # place), so a stale item array is not mistaken for the new one.
        return [bytes([seed, i % 251]) * (1 + i % 40) for i in range(60_000 // seed)]

    want = {seed: [hashlib.sha256(x).digest() for x in fresh(seed)] for seed in (1, 2)}
    lst = fresh(1)
    stop = threading.Event()

    def flip() -> None:
        seed = 1
        while not stop.is_set():
            seed = 3 - seed
            lst[:] = fresh(seed)

    t = threading.Thread(target=flip)
    t.start()
    try:
        for _ in range(20):
            assert an.hash.sha256_many(lst, max_threads=2) in (want[1], want[2])
    finally:
        stop.set()
        t.join()

    during = 0
    for extra in range(4):
        lst[:] = fresh(1)

        def change() -> None:
            lst.clear()  # frees the item array a reader might still hold
            lst.extend(fresh(2))

        got, when = call_with_finalizer(lambda: an.hash.sha256_many(lst, max_threads=2), change, extra)
        during += when == "during"
        # During the call, the finalizer may run before the items are read
        # or after: either way one whole state, never freed memory.
        assert got in {"before": [want[2]], "during": [want[1], want[2]], "after": [want[1]]}[when], when
    if FINALIZERS_RUN_INSIDE_CALLS:
        assert during, "the finalizer never ran inside the call: the test proves nothing"


def test_serial_equals_parallel() -> None:
    data = os.urandom(9 << 20)
    one = an.hash.blake3(data, max_threads=1)
    assert an.hash.blake3(data) == one
    assert an.hash.blake3(data, max_threads=2) == one
    items = [os.urandom(64) for _ in range(100_000)]
    assert an.hash.sha256_many(items, max_threads=1) == an.hash.sha256_many(items)


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=600))
@settings(max_examples=60, deadline=None)
def test_streaming_matches_one_shot(data: bytes, step: int) -> None:
    for cls, fn in ((an.hash.Sha256, an.hash.sha256), (an.hash.Keccak256, an.hash.keccak256), (an.hash.Blake3, an.hash.blake3)):
        h = cls()
        for i in range(0, len(data), step):
            h.update(data[i : i + step])
        assert h.digest() == fn(data)


def test_file(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    assert an.hash.file(p) == an.hash.blake3(data)
    assert an.hash.file(str(p), "sha256") == hashlib.sha256(data).digest()
    assert an.hash.file(p, algorithm="keccak256") == an.hash.keccak256(data)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert an.hash.file(empty, "sha256") == hashlib.sha256(b"").digest()
    assert an.hash.file("/dev/null", "sha256") == hashlib.sha256(b"").digest()
    with pytest.raises(FileNotFoundError) as e:
        an.hash.file(tmp_path / "missing")
    assert os.fspath(e.value.filename) == str(tmp_path / "missing")
    assert e.value.strerror == "No such file or directory"
    with pytest.raises(an.InvalidInput, match="unknown algorithm"):
        an.hash.file(p, "md5")


def test_file_releases_the_gil(tmp_path: Path) -> None:
    """Hash a FIFO in a thread while this thread (which needs the GIL)
    writes into it: if file() held the GIL while blocked in read(), the
    writer could never run and the join below would time out."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out: list[bytes] = []
    t = threading.Thread(target=lambda: out.append(an.hash.file(fifo, "sha256")))
    t.start()
    with open(fifo, "wb") as w:
        for _ in range(64):
            w.write(b"q" * 65536)
    t.join(timeout=60)
    assert not t.is_alive()
    assert out == [hashlib.sha256(b"q" * 65536 * 64).digest()]


def test_build_info_reports_this_build() -> None:
    info = an.build_info()
    assert info["version"] == an.__version__
    assert {"python", "simd", "rayon", "c_keccak"} <= set(info["features"])
    assert all(isinstance(v, str) and v for v in (info["sha256_batch"], info["keccak"], info["reed_solomon"]))
    want = int(os.environ.get("RAYON_NUM_THREADS") or 0) or os.cpu_count()
    assert info["threads"] == want


def cpu_features() -> tuple[str, set[str]]:
    """The machine and what its CPU offers, as the kernels' dispatch sees it:
    x86_64's /proc/cpuinfo flags; aarch64's hardware capabilities from the
    auxiliary vector (/proc/self/auxv, which qemu-user emulates too, unlike
    its /proc/cpuinfo)."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "x86_64", set(line.split(":", 1)[1].split())
        return "x86_64", set()
    if machine in ("aarch64", "arm64"):
        with open("/proc/self/auxv", "rb") as f:
            auxv = f.read()
        hwcap = dict(struct.iter_unpack("<QQ", auxv[: len(auxv) // 16 * 16])).get(16, 0)  # AT_HWCAP
        bits = {"asimd": 1 << 1, "sha2": 1 << 6, "sha3": 1 << 17}  # Linux's HWCAP_* for arm64
        return "aarch64", {name for name, bit in bits.items() if hwcap & bit}
    return machine, set()


def test_fast_kernels_follow_the_cpu_and_can_be_turned_off() -> None:
    """ANIMICA_BACKEND caps the backend (make test runs the whole suite at
    avx2 too); without it, the process runs the best backend the CPU has,
    and each fast kernel is used exactly when the CPU has it: AVX-512,
    SHA-NI, BMI1 and BMI2 on x86_64, the SHA-2 and SHA3 instructions on aarch64."""
    code = "import json, animica_native as an; print(json.dumps(an.build_info()))"

    def info(**env: str) -> dict[str, Any]:
        base = {k: v for k, v in os.environ.items() if k != "ANIMICA_BACKEND"}
        run = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True)
        result: dict[str, Any] = json.loads(run.stdout)
        return result

    off = info(ANIMICA_BACKEND="portable")
    assert off["backend"] == "portable" and "portable" in off["backends"]
    assert off["sha256_batch"].startswith("sha2") and off["reed_solomon"] == "reed-solomon-simd NoSimd engine"
    assert off["keccak"] == "unrolled"
    # An unknown name is ignored: the best backend, as without the variable.
    assert info(ANIMICA_BACKEND="sse9")["backend"] == info()["backend"]
    if not os.path.exists("/proc/self/auxv"):
        pytest.skip("the CPU's features are read from /proc, which only Linux has")
    machine, flags = cpu_features()
    on = info()
    print(f"{machine}: {sorted(flags)} -> {on}")
    if machine == "aarch64":
        assert on["backend"] == "neon" and on["backends"] == ["neon", "portable"]
        assert (on["keccak"] == "keccak crate, ARMv8 SHA3 instructions") == ("sha3" in flags)
        assert ("ARMv8 SHA-2" in on["sha256_batch"]) == ("sha2" in flags)
        assert on["reed_solomon"] == "reed-solomon-simd NEON engine"
        return
    assert machine == "x86_64", f"no expectation for {machine}: add its kernels here"
    avx512 = {"avx512f", "avx512bw", "avx2"} <= flags
    avx2 = "avx2" in flags
    shani = {"sha_ni", "sse4_1"} <= flags and avx2
    assert on["backends"] == ["avx512"] * avx512 + ["avx2"] * avx2 + ["portable"]
    assert on["backend"] == on["backends"][0]
    # AVX-512's 16 lanes or SHA-NI's four-message kernel, whichever the CPU
    # has; with both, the one timed faster at first use, and it says so.
    if shani and avx512:
        assert on["sha256_batch"].startswith(("avx512 16-lane", "SHA-NI, 4 messages interleaved"))
        assert "timed" in on["sha256_batch"]
    else:
        batch = "SHA-NI, 4 messages interleaved" if shani else "avx512 16-lane" if avx512 else "sha2"
        assert on["sha256_batch"] == batch or batch == "sha2" and on["sha256_batch"].startswith(batch)
    capped = info(ANIMICA_BACKEND="avx2")
    assert capped["backend"] == ("avx2" if avx2 else "portable")
    assert capped["sha256_batch"].startswith("SHA-NI" if shani else "sha2")
    assert capped["reed_solomon"] == ("reed-solomon-simd AVX2 engine" if avx2 else "reed-solomon-simd NoSimd engine")
    if avx512:
        # Our engine, multiplying on GFNI where the CPU has it.
        assert on["reed_solomon"] == ("avx512 gfni" if "gfni" in flags else "avx512")
    else:
        assert on["reed_solomon"] == capped["reed_solomon"]
    bmi = {"bmi1", "bmi2"} <= flags
    asm = "x86-64 assembly, BMI1 and BMI2"
    if avx512 and bmi:
        # Both Keccak permutations run here: the one timed faster at first use.
        assert on["keccak"].startswith(("AVX-512, one lane per register (timed", f"{asm} (timed"))
    else:
        assert (on["keccak"] == asm) == bmi
    if avx2:
        assert capped["keccak"] == (asm if bmi else "unrolled")
